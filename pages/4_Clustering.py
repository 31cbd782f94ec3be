"""Clustering: group faces by identity embedding or by attributes, map them, score and summarise the clusters."""

import streamlit as st

from core import cached
from core.errors import DatasetError, user_message
from ui import clustering as ui
from ui import links
from ui.sidebar import dataset_picker, demo_banner

st.set_page_config(page_title="Clustering · FaceAtlas", layout="wide")
st.title("Clustering")
ds = dataset_picker()
link = links.link_control()
demo_banner(ds)
spaces = ui.available_spaces(ds)
ui.embeddings_note(ds, spaces)
if not spaces:
    links.share(link)
    st.stop()
choices = ui.sidebar(ds, spaces)

try:
    fkey = cached.features_key(ds, choices.spec, choices.subset, choices.max_points, choices.seed)
    fm = cached.cluster_features(fkey, ds)
    reduced = ui.reduced_features(ds, fm, fkey, choices)
    result = ui.clustering_result(ds, fm, fkey, choices, reduced) if reduced is not None else None
except (DatasetError, ValueError) as exc:
    st.error(user_message(exc))
    links.share(link)
    st.stop()
if result is None:  # a background job computes the reduction or the clustering: its panel is shown above
    ui.waiting_note("UMAP" if reduced is None else ui.ALGORITHMS[choices.clustering.algorithm].label)
    links.share(link)
    st.stop()

st.caption(
    f"{fm.n:,} points · {len(fm.columns)} features ({ui.SPACE_LABELS[choices.spec.space].lower()}) · {choices.subset.describe()}"
)
for note in (*fm.notes, reduced.note):
    if note:
        st.caption(note)
for warning in result.warnings:
    (st.warning if "One cluster holds" in warning else st.caption)(warning)

truth = ds.table["identity"].to_numpy()[fm.rows] if ds.has_identity else None
scores = cached.cluster_scores(fkey, choices.reduction, choices.clustering, reduced.coords, result.labels, truth)
ui.metrics_panel(scores)
ui.outliers_section(ds, fm, result)

st.subheader("Map")
ui.map_section(ds, fm, fkey, choices, result)

if choices.clustering.algorithm == "dbscan":
    ui.k_distance_section(fkey, choices, reduced.coords, result)

st.subheader("Clusters")
ui.cluster_table_section(ds, fm, fkey, choices, result)
ui.cluster_faces_section(ds, fm, result)
ui.centroid_section(reduced.coords, fkey, choices, result)
if choices.clustering.algorithm == "agglomerative" and fm.n <= ui.DENDROGRAM_MAX:
    ui.dendrogram_section(reduced.coords, choices.clustering)

st.subheader("Sweeps")
ui.sweeps_section(fkey, choices, reduced.coords, truth)

ui.download_section(ds, fm, result)
links.share(link)
