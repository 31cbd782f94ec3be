"""The Clustering page's result panels: what was clustered, the scores, the clusters (table, faces, centroids,
dendrogram), sweeps, outliers and the CSV export."""

from __future__ import annotations

import numpy as np
import polars as pl
import streamlit as st

from core import cached
from core import format as fmt
from core.charts import cluster as charts
from core.cluster.algorithms import Clustering, identity_on_attributes_warning
from core.cluster.features import FeatureMatrix
from core.cluster.reduce import Reduction
from core.cluster.store import ClusteringKey
from core.cluster.summary import MAX_FACES_PER_CLUSTER, cluster_sizes, describe_clusters, sample_members, shares_long
from core.cluster.sweeps import (
    EPS_MIN_SAMPLES,
    SweepProgress,
    Sweeps,
    eps_table,
    run_sweeps,
    side_by_side_table,
)
from core.data.dataset import Dataset
from ui import links
from ui import state as keys
from ui.clustering.sidebar import SPACE_LABELS
from ui.gallery import image_grid
from ui.tables import first_rows

DENDROGRAM_MAX = 300
HEATMAP_CLUSTERS = 30  # largest clusters shown in the attribute and centroid heatmaps
METRIC_HELP = {
    "Clusters": "Groups found (noise points not counted).",
    "Noise": "Points the algorithm left out of every cluster (DBSCAN, HDBSCAN).",
    "Silhouette": "-1 to 1: how much closer each point is to its own cluster than to the next one; above 0.5 "
    "is clear structure, near 0 overlapping clusters.",
    "Davies–Bouldin": "0 or more, lower is better: how spread out clusters are compared with the distance "
    "between them.",
    "Calinski–Harabasz": "0 or more, higher is better: spread between clusters over spread within them "
    "(compare values on the same data only).",
    "ARI": "Adjusted Rand index, -1 to 1: agreement with the true identities, 0 = chance, 1 = identical.",
    "NMI": "Normalised mutual information, 0 to 1: how much knowing the cluster tells you the identity.",
    "Homogeneity": "0 to 1: each cluster holds one person only.",
    "Completeness": "0 to 1: each person sits in one cluster only.",
    "Pairwise F1": "0 to 1: of all pairs of faces, how well 'same cluster' matches 'same person' (precision "
    "and recall of pairs).",
    "BCubed F1": "0 to 1: per face, the share of its cluster that is the same person and the share of that "
    "person found in its cluster, averaged.",
}
EXTERNAL = (
    ("ARI", "ari"),
    ("NMI", "nmi"),
    ("Homogeneity", "homogeneity"),
    ("Completeness", "completeness"),
    ("Pairwise F1", "pairwise_f1"),
    ("BCubed F1", "bcubed_f1"),
)


def summary(fm: FeatureMatrix, key: ClusteringKey, reduced: Reduction, result: Clustering) -> None:
    """What was clustered (points, features, subset); what the steps chose (captions) and what looks wrong."""
    features = key.features
    space = SPACE_LABELS[features.spec.space].lower()
    st.caption(
        f"{fmt.count(fm.n)} points · {fmt.count(len(fm.columns))} features ({space}) · {features.subset.describe()}"
    )
    for note in (*fm.notes, reduced.note, *result.notes):
        if note:
            st.caption(note)
    for warning in result.warnings:
        st.warning(warning)
    misfit = identity_on_attributes_warning(key.clustering.algorithm, features.spec.space, result.labels)
    if misfit:
        st.warning(misfit)


def metrics_panel(scores: dict) -> None:
    """Internal metrics as st.metric; external ones when identities exist; one sentence reading them aloud."""
    inner = scores["internal"]
    cols = st.columns(5)
    cols[0].metric("Clusters", fmt.count(inner["n_clusters"]), help=METRIC_HELP["Clusters"])
    cols[1].metric("Noise", fmt.percent(inner["noise_fraction"]), help=METRIC_HELP["Noise"])
    cols[2].metric("Silhouette", fmt.decimal(inner["silhouette"]), help=METRIC_HELP["Silhouette"])
    cols[3].metric("Davies–Bouldin", fmt.decimal(inner["davies_bouldin"]), help=METRIC_HELP["Davies–Bouldin"])
    cols[4].metric(
        "Calinski–Harabasz", fmt.decimal(inner["calinski_harabasz"], 1), help=METRIC_HELP["Calinski–Harabasz"]
    )
    if inner["note"]:
        st.caption(f"Internal metrics: {inner['note'].rstrip('.')}.")
    ext = scores.get("external")
    silhouette = inner["silhouette"]
    words = (
        "clearly separated"
        if silhouette is not None and silhouette > 0.5
        else "somewhat separated"
        if silhouette is not None and silhouette > 0.25
        else "overlapping"
        if silhouette is not None
        else "too few to score"
    )
    sentence = f"{fmt.plural(inner['n_clusters'], 'cluster')}, {words} (silhouette {fmt.decimal(silhouette)})"
    if ext:
        st.subheader("Against the true identities")
        cols = st.columns(3)
        for k, (label, name) in enumerate(EXTERNAL):
            cols[k % 3].metric(label, fmt.decimal(ext[name]), help=METRIC_HELP[label])
        st.caption(
            f"Pairwise precision {fmt.decimal(ext['pairwise_precision'])}, recall "
            f"{fmt.decimal(ext['pairwise_recall'])}; BCubed precision {fmt.decimal(ext['bcubed_precision'])}, "
            f"recall {fmt.decimal(ext['bcubed_recall'])}. Noise points count as clusters of their own (they lower "
            "recall, never precision)."
        )
        sentence += (
            f"; of the pairs of faces put in one cluster, {fmt.percent(ext['pairwise_precision'], 0)} really are the "
            f"same person, and {fmt.percent(ext['pairwise_recall'], 0)} of the same-person pairs end up together"
        )
    st.markdown(sentence + ".")


def outliers_section(ds: Dataset, fm: FeatureMatrix, result: Clustering) -> None:
    """HDBSCAN's outlier scores: how many points are clear outliers, and the most outlying faces."""
    scores = result.outlier_scores
    if scores is None or not len(scores):
        return
    strong = int((scores > 0.8).sum())
    st.caption(
        f"HDBSCAN outlier scores (0 = core of a cluster, 1 = far from any): median "
        f"{fmt.decimal(np.median(scores), 2)}; {fmt.count(strong)} points score above 0.8."
    )
    worst = np.argsort(-scores)[:6]
    ids = ds.table["image_id"].to_numpy()[fm.rows[worst]]
    with st.expander("Most outlying faces"):
        image_grid(ds, list(ids), [f"{i} · {fmt.decimal(scores[w], 2)}" for i, w in zip(ids, worst)], columns=6)


def k_distance_section(key: ClusteringKey, X: np.ndarray, result: Clustering) -> None:
    """The k-distance curve with the suggested eps, to choose DBSCAN's radius."""
    k = max(1, int(key.clustering.param("min_samples")) - 1)
    with st.expander("Choosing eps: the k-distance curve", expanded=True):
        curve, suggested = cached.k_distance_curve(key.features, key.reduction, k, X)
        st.altair_chart(charts.k_distance_chart(curve, suggested, k), width="stretch")
        st.caption(
            f"Suggested eps: {fmt.decimal(suggested)} (knee of the curve, capped where different identities start to "
            f"link). In use: {fmt.decimal(result.params['eps'])}. Set eps to 0 to use the suggestion."
        )


def cluster_table_section(ds: Dataset, fm: FeatureMatrix, key: ClusteringKey, result: Clustering) -> None:
    """Size, prominent (share >= 0.8) and noisy attributes per cluster, and the cluster x attribute heatmap."""
    sizes = cluster_sizes(result.labels)
    clusters, shares = cached.cluster_attribute_shares(ds, key, fm.rows, result.labels)
    table = describe_clusters(
        clusters, shares, ds.attributes, dict(zip(sizes["cluster"].to_list(), sizes["size"].to_list()))
    )
    noise = int((result.labels < 0).sum())
    if noise:
        st.caption(f"{fmt.count(noise)} noise points belong to no cluster.")
    table = first_rows(table, "clusters", "the CSV download at the bottom of the page has every point's cluster")
    st.dataframe(table, key=keys.CL_TABLE, hide_index=True, width="stretch", height=min(400, 38 + 35 * len(table)))
    shown = clusters[:HEATMAP_CLUSTERS]
    if len(shown):
        long = shares_long(shown, shares[: len(shown)], ds.attributes)
        st.altair_chart(
            charts.heatmap(
                long, "attribute", "cluster", "share", "Share of each attribute in each cluster (largest 30 clusters)"
            ),
            width="stretch",
        )


def cluster_faces_section(ds: Dataset, fm: FeatureMatrix, result: Clustering) -> None:
    """Pick a cluster: a sample gallery, its mean face and first eigenface."""
    clusters = sorted(int(c) for c in np.unique(result.labels) if c >= 0)
    if not clusters or not ds.has_images:
        return
    chosen = links.synced(
        "cluster",
        keys.CL_CLUSTER,
        clusters[0],
        lambda: st.selectbox("Look at cluster", clusters, key=keys.CL_CLUSTER),
        int,
        links.one_of(clusters),
    )
    members = sample_members(result.labels, chosen, MAX_FACES_PER_CLUSTER)
    ids = ds.table["image_id"].to_numpy()[fm.rows[members]]
    left, right = st.columns([3, 1])
    with left:
        image_grid(ds, list(ids[:12]), columns=6)
    with right:
        mean, eig, share = cached.cluster_faces(ds, tuple(ids))
        if mean is not None:
            st.image(mean, caption=f"mean face of {fmt.count(len(ids))} images", width=128)
        if eig is not None:
            st.image(eig, caption=f"first eigenface ({fmt.percent(share, 0)} of the variation)", width=128)


def centroid_section(key: ClusteringKey, X: np.ndarray, result: Clustering) -> None:
    """Heatmap of distances between cluster centroids (largest 30 clusters)."""
    clusters, dist = cached.cluster_centroid_distances(key, HEATMAP_CLUSTERS, X, result.labels)
    if len(clusters) < 2:
        return
    frame = charts.distance_matrix_frame(clusters, dist)
    st.altair_chart(
        charts.heatmap(frame, "cluster_a", "cluster_b", "distance", "Distance between cluster centroids"),
        width="stretch",
    )


def dendrogram_section(key: ClusteringKey, X: np.ndarray) -> None:
    """Agglomerative clustering of few points: the merge tree."""
    linkage, metric = key.clustering.param("linkage"), key.clustering.param("metric")
    st.altair_chart(charts.dendrogram_chart(X, linkage, metric), width="stretch")
    st.caption(f"Dendrogram ({linkage} linkage, {metric}): cut it at a height to get clusters.")


def _number(name: str, key: str, label: str, low: int, high: int, default: int) -> int:
    """An integer input whose value lives in the URL under `name`."""
    return links.synced(
        name,
        key,
        default,
        lambda: int(st.number_input(label, low, high, default, key=key)),
        int,
        links.between(low, high),
    )


def sweeps_section(key: ClusteringKey, X: np.ndarray, truth) -> None:
    """Elbow + silhouette vs k, algorithms side by side at the same k, DBSCAN over eps: run on a button with a
    progress bar and the time left, then kept (and in the link, sweeps=1) until the points or the two ks change."""
    c1, c2 = st.columns(2)
    with c1:
        k_max = _number("kmax", keys.CL_SWEEP_K_MAX, "Largest k", 3, 200, 20)
    with c2:
        k_now = int(key.clustering.param("k") or 8)
        if st.session_state.get(keys.CL_SWEEP_K_FOLLOWS) != k_now:  # follows the algorithm's k until changed here
            st.session_state[keys.CL_SWEEP_K_FOLLOWS] = k_now
            if keys.CL_SWEEP_K in st.session_state:
                st.session_state[keys.CL_SWEEP_K] = k_now
        k_same = _number("ksame", keys.CL_SWEEP_K, "k for the side-by-side", 2, 2000, k_now)
    inputs = (key.features, key.reduction, k_max, k_same)
    kept = st.session_state.get(keys.CL_SWEEPS)
    clicked = st.button("Run sweeps", key=keys.CL_SWEEP)
    if clicked or (kept is None and st.query_params.get("sweeps") == "1"):  # a shared link that showed them
        kept = (inputs, _run_sweeps(X, k_max, k_same, truth))
        st.session_state[keys.CL_SWEEPS] = kept
    if kept is None or kept[0] != inputs:
        links.forget("sweeps")
        st.caption(
            "The points or the ks changed since the sweeps ran: run them again."
            if kept is not None
            else "Sweeps run several clusterings (a few seconds on thousands of points); the results stay until the "
            "points or the ks change."
        )
        return
    links.remember("sweeps", True, False)
    sweeps = kept[1]
    st.altair_chart(charts.elbow_chart(sweeps.elbow), width="stretch")
    st.dataframe(side_by_side_table(sweeps.side_by_side), key=keys.CL_SWEEP_TABLE, hide_index=True, width="stretch")
    st.dataframe(eps_table(sweeps.eps), key=keys.CL_EPS_TABLE, hide_index=True, width="stretch")
    st.caption(
        f"DBSCAN with min_samples {EPS_MIN_SAMPLES} at eps around the k-distance curve's suggestion. Noise: the share "
        "of points in no cluster; largest cluster: the share of all points in the biggest one."
    )


def _run_sweeps(X: np.ndarray, k_max: int, k_same: int, truth) -> Sweeps:
    """The sweeps, with a progress bar naming the clustering that runs and the time left."""
    bar = st.progress(0.0, text=f"Sweeps on {fmt.count(len(X))} points: starting…")

    def report(progress: SweepProgress) -> None:
        left = progress.seconds_left
        when = f" · {fmt.about(left)} left" if left is not None else ""
        bar.progress(
            min(progress.fraction, 1.0),
            text=f"Sweeps on {fmt.count(len(X))} points: {progress.next_step or 'done'} "
            f"({progress.done + (progress.done < progress.total)} of {progress.total}){when}",
        )

    sweeps = run_sweeps(X, k_max, k_same, truth, report=report)
    bar.empty()
    return sweeps


def download_section(ds: Dataset, fm: FeatureMatrix, result: Clustering) -> None:
    """The assignment as CSV, written when the button is pressed: at CelebA's size it is 2.8 MB and 0.1 s, which
    every rerun (each map selection) would otherwise pay and keep in the server's memory per visitor."""

    def assignment_csv() -> str:
        return pl.DataFrame(
            {"image_id": ds.table["image_id"].to_numpy()[fm.rows], "cluster": result.labels}
        ).write_csv()

    st.download_button(
        "Download the assignment (CSV)",
        assignment_csv,
        file_name=f"{ds.name}-clusters.csv",
        mime="text/csv",
        key=keys.CL_DOWNLOAD,
        on_click="ignore",
    )
