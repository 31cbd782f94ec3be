"""Clustering: group faces by identity embedding or by attributes, map them, score and summarise the clusters."""

import streamlit as st

from core import cached
from core.cluster.algorithms import ALGORITHMS
from core.cluster.view import ViewOptions
from core.errors import DatasetError, user_message
from ui import links
from ui.clustering import maps, results, sidebar, steps
from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Clustering · FaceAtlas", layout="wide")
st.title("Clustering")
ds = dataset_picker()
link = links.link_control()
demo_banner(ds)
options = ViewOptions.of(ds)
steps.embeddings_note(ds, options.spaces)
if not options.spaces:
    links.share(link)
    st.stop()
view = sidebar.sidebar(ds, options)

try:
    key = cached.clustering_key(ds, view)
    fm = cached.cluster_features(ds, key.features)
    reduced = steps.reduced_features(ds, fm, key)
    result = steps.clustering_result(ds, fm, key, reduced) if reduced is not None else None
except (DatasetError, ValueError) as exc:
    st.error(user_message(exc))
    links.share(link)
    st.stop()
if result is None:  # a background job computes the reduction or the clustering: its panel is shown above
    steps.waiting_note("UMAP" if reduced is None else ALGORITHMS[key.clustering.algorithm].label)
    links.share(link)
    st.stop()

results.summary(fm, key, reduced, result)
truth = ds.table["identity"].to_numpy()[fm.rows] if ds.has_identity else None
results.metrics_panel(cached.cluster_scores(key, reduced.coords, result.labels, truth))
results.outliers_section(ds, fm, result)

st.subheader("Map")
maps.map_section(ds, fm, key, view.map_method, result)

if key.clustering.algorithm == "dbscan":
    results.k_distance_section(key, reduced.coords, result)

st.subheader("Clusters")
results.cluster_table_section(ds, fm, key, result)
results.cluster_faces_section(ds, fm, result)
results.centroid_section(key, reduced.coords, result)
if key.clustering.algorithm == "agglomerative" and fm.n <= results.DENDROGRAM_MAX:
    results.dendrogram_section(key, reduced.coords)

st.subheader("Sweeps")
results.sweeps_section(key, reduced.coords, truth)

results.download_section(ds, fm, result)
links.share(link)
