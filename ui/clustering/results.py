"""Widgets and result panels of the Clustering page (the page itself stays a storyboard)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import streamlit as st

from core import cached
from core.charts import cluster as charts
from core.classify.store import load_predictions
from core.cli.cluster import labels_job_spec, map_job_spec, reduction_job_spec
from core.cluster.algorithms import ALGORITHMS, Clustering, ClusterSpec, Param
from core.cluster.costs import (
    JOB_START_SECONDS,
    MAX_POINTS,
    clustering_seconds,
    map_seconds,
    reduction_seconds,
    runs_inline,
)
from core.cluster.features import FEATURE_SPACES, FeatureKey, FeatureSpec
from core.cluster.map import (
    ALTAIR_MAX,
    CROWDED_SHARE,
    MAP_DRAW_MAX,
    SELECT_MODES,
    Palette,
    cluster_names,
    crowded_share,
    density,
    draw_method,
    drawn_positions,
    largest_first,
    map_frame,
    picked_image_ids,
    present_absent,
    selected_positions,
)
from core.cluster.metrics import suggest_eps
from core.cluster.reduce import MAP_METHODS, TSNE_MAX_POINTS, UMAP_METRICS, Reduction, ReductionSpec
from core.cluster.store import labels_key, load_clustering, load_map, map_key, reduction_key
from core.cluster.summary import MAX_FACES_PER_CLUSTER, cluster_sizes, describe_clusters, sample_members, shares_long
from core.cluster.sweeps import algorithms_side_by_side, eps_sweep, k_sweep
from core.data.dataset import Dataset
from core.data.subset import Subset
from core.faces.store import list_embeddings
from ui import links
from ui.filters import subset_ui
from ui.gallery import image_grid
from ui.jobs import embeddings_prerequisite, job_launcher
from ui.scatter_gl import scatter_gl

DEFAULT_MAX_POINTS = 5_000
DENDROGRAM_MAX = 300
HEATMAP_CLUSTERS = 30  # largest clusters shown in the attribute and centroid heatmaps
SPACE_LABELS = {
    "embeddings": "Face embeddings",
    "attributes": "Annotated attributes",
    "predicted": "Predicted attributes",
}
WEIGHT_LABELS = {
    "none": "equal",
    "inverse_prevalence": "rare attributes count more (1 / prevalence)",
    "rarity_sqrt": "rare count a bit more (√)",
}
REDUCE_LABELS = {"none": "none", "pca": "PCA", "umap": "UMAP"}


@dataclass(frozen=True)
class Choices:
    """Everything the sidebar decides: which points and features, the reduction, the clustering, the map."""

    spec: FeatureSpec
    subset: Subset
    max_points: int
    reduction: ReductionSpec
    clustering: ClusterSpec
    map_method: str
    seed: int = 0


# URL names of the algorithms' parameters (the same name across algorithms: k is k wherever it appears).
PARAM_URL = {
    "k": "k",
    "distance_threshold": "dist",
    "linkage": "linkage",
    "metric": "metric",
    "eps": "eps",
    "min_samples": "minpts",
    "min_cluster_size": "minsize",
    "threshold": "cut",
    "k1": "k1",
}
REDUCTION_URL = ("pcs", "ucomp", "unn", "umd", "umetric")


def available_spaces(ds: Dataset) -> list[str]:
    spaces = []
    if list_embeddings(ds.cache_dir):
        spaces.append("embeddings")
    if ds.attributes:
        spaces.append("attributes")
    if load_predictions(ds.cache_dir) is not None:
        spaces.append("predicted")
    return [s for s in FEATURE_SPACES if s in spaces]


def embeddings_note(ds: Dataset, spaces: list[str]) -> None:
    """Without embeddings: what they unlock here and the button that computes them; without anything: stop."""
    if "embeddings" in spaces:
        return
    if not spaces:
        st.info(f"{ds.name} has neither attribute annotations nor face embeddings, so there is nothing to cluster yet.")
    if ds.has_images or not spaces:
        embeddings_prerequisite(ds, "clustering faces by who they are (identity clusters)", key="cl-embed")


def default_algorithm(space: str) -> str:
    return "rerank" if space == "embeddings" else "kmeans"


def _follow_space(space: str) -> None:
    """When the feature space changes and the algorithm is still the old space's default, take the new one's."""
    before = st.session_state.get("cl-space-before")
    st.session_state["cl-space-before"] = space
    if before and before != space and st.session_state.get("cl-algo") == default_algorithm(before):
        st.session_state["cl-algo"] = default_algorithm(space)


def feature_ui(ds: Dataset, spaces: list[str]) -> FeatureSpec:
    """Feature space, attribute subset and weights, standardisation."""
    space = links.synced(
        "space",
        "cl-space",
        spaces[0],
        lambda: st.selectbox(
            "Feature space",
            spaces,
            format_func=SPACE_LABELS.get,
            key="cl-space",
            help="Embeddings group faces by who they are; attributes by how they look (hair, glasses…).",
        ),
        valid=links.one_of(spaces),
    )
    _follow_space(space)
    model = None
    attributes: tuple[str, ...] = ()
    weighting = "none"
    if space == "embeddings":
        models = list_embeddings(ds.cache_dir)
        if len(models) > 1:
            model = links.synced(
                "emb",
                "cl-model",
                models[0],
                lambda: st.selectbox("Embedding model", models, key="cl-model"),
                valid=links.one_of(models),
            )
        else:
            model = models[0]
            links.forget("emb")
        links.forget("attrs", "weights")
    else:
        links.forget("emb")
        options = ds.attributes
        if space == "predicted":
            predictions = load_predictions(ds.cache_dir)
            options = predictions.attributes
            st.caption(f"Probabilities predicted for every image by the newest classifier ({predictions.model_id}).")
        links.restore("cl-attrs", "attrs", links.as_list, links.all_of(options))
        attributes = tuple(st.multiselect("Attributes (none = all)", options, key="cl-attrs"))
        links.remember("attrs", list(attributes), [])
        weighting = links.synced(
            "weights",
            "cl-weighting",
            "none",
            lambda: st.selectbox(
                "Attribute weights", list(WEIGHT_LABELS), format_func=WEIGHT_LABELS.get, key="cl-weighting"
            ),
            valid=links.one_of(WEIGHT_LABELS),
        )
    standardise = links.synced(
        "std",
        "cl-standardise",
        False,
        lambda: st.checkbox(
            "Standardise features",
            value=False,
            key="cl-standardise",
            help="Give every column zero mean and unit variance before clustering.",
        ),
        links.as_bool,
    )
    return FeatureSpec(space, attributes, weighting, standardise, model)


def _number(name: str, key: str, label: str, low, high, default, **kwargs):
    """A number input whose value lives in the URL under `name`."""
    kind = type(default)
    return links.synced(
        name,
        key,
        default,
        lambda: kind(st.number_input(label, low, high, default, key=key, **kwargs)),
        kind,
        links.between(low, high),
    )


def reduction_ui() -> ReductionSpec:
    """Reduction before clustering: none, PCA (k or 95 % variance), UMAP (components, neighbours, min_dist, metric)."""
    method = links.synced(
        "reduce",
        "cl-reduce",
        "none",
        lambda: st.selectbox(
            "Reduce before clustering", list(REDUCE_LABELS), format_func=REDUCE_LABELS.get, key="cl-reduce"
        ),
        valid=links.one_of(REDUCE_LABELS),
    )
    if method != "pca":
        links.forget("pcs")
    if method != "umap":
        links.forget("ucomp", "unn", "umd", "umetric")
    if method == "pca":
        n = _number("pcs", "cl-pca-n", "PCA components (0 = keep 95 % of the variance)", 0, 512, 0)
        return ReductionSpec("pca", 0.95 if n == 0 else n)
    if method == "umap":
        n = _number("ucomp", "cl-umap-n", "UMAP components", 2, 50, 10)
        nn = _number("unn", "cl-umap-nn", "UMAP neighbours", 2, 200, 15)
        md = _number("umd", "cl-umap-md", "UMAP min_dist", 0.0, 1.0, 0.0, step=0.05)
        metric = links.synced(
            "umetric",
            "cl-umap-metric",
            UMAP_METRICS[0],
            lambda: st.selectbox("UMAP metric", UMAP_METRICS, key="cl-umap-metric"),
            valid=links.one_of(UMAP_METRICS),
        )
        return ReductionSpec("umap", n, (("metric", metric), ("min_dist", md), ("n_neighbors", nn)))
    return ReductionSpec()


def _param_widget(algo: str, p: Param):
    key = f"cl-{algo}-{p.name}"
    name = PARAM_URL.get(p.name, p.name)
    if p.kind == "choice":
        return links.synced(
            name,
            key,
            p.default,
            lambda: st.selectbox(p.name, p.choices, index=p.choices.index(p.default), key=key, help=p.help),
            valid=links.one_of(p.choices),
        )
    if p.kind == "int":
        return _number(name, key, p.name, int(p.low), int(p.high), int(p.default), help=p.help)
    return _number(
        name, key, p.name, float(p.low), float(p.high), float(p.default), step=0.01, format="%.3f", help=p.help
    )


def algorithm_ui(space: str) -> ClusterSpec:
    """Algorithm and its parameters (defaults that work: data-driven eps/threshold)."""
    names = list(ALGORITHMS)
    default = default_algorithm(space)
    algo = links.synced(
        "algo",
        "cl-algo",
        default,
        lambda: st.selectbox(
            "Algorithm",
            names,
            index=names.index(default),
            format_func=lambda n: ALGORITHMS[n].label,
            key="cl-algo",
        ),
        valid=links.one_of(names),
    )
    st.caption(ALGORITHMS[algo].description)
    own = {PARAM_URL.get(p.name, p.name) for p in ALGORITHMS[algo].params}
    links.forget(*(name for name in PARAM_URL.values() if name not in own))
    params = {p.name: _param_widget(algo, p) for p in ALGORITHMS[algo].params}
    if algo == "agglomerative" and params["linkage"] == "ward" and params["metric"] != "euclidean":
        st.warning("Ward linkage needs the euclidean metric; using euclidean.")
        params["metric"] = "euclidean"
    return ClusterSpec.of(algo, **params)


def sidebar(ds: Dataset, spaces: list[str]) -> Choices:
    """All the page's choices, in the sidebar; returns plain values."""
    with st.sidebar:
        st.header("Clustering")
        spec = feature_ui(ds, spaces)
        with st.expander("Subset", expanded=False):
            subset = subset_ui(ds, "cl-subset", top_identities=True)
        top = max(100, ds.n_images)
        max_points = _number("n", "cl-max", "Maximum points", 100, top, min(DEFAULT_MAX_POINTS, top), step=500)
        with st.expander("Reduction", expanded=False):
            reduction = reduction_ui()
        clustering = algorithm_ui(spec.space)
        limit = MAX_POINTS.get(clustering.algorithm)
        if limit and max_points > limit:
            st.caption(
                f"{ALGORITHMS[clustering.algorithm].label} handles at most {limit:,} points: using a sample of "
                f"{limit:,}."
            )
            max_points = limit
        map_method = links.synced(
            "map",
            "cl-map",
            MAP_METHODS[0],
            lambda: st.selectbox(
                "Map projection",
                MAP_METHODS,
                key="cl-map",
                format_func=str.upper,
                help=f"PCA is instant; UMAP and t-SNE run in the background (PCA is shown until they are ready). "
                f"t-SNE is limited to {TSNE_MAX_POINTS:,} points.",
            ),
            valid=links.one_of(MAP_METHODS),
        )
    return Choices(spec, subset, max_points, reduction, clustering, map_method)


def fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


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


def metrics_panel(scores: dict) -> None:
    """Internal metrics as st.metric; external ones when identities exist; one sentence reading them aloud."""
    inner = scores["internal"]
    cols = st.columns(5)
    cols[0].metric("Clusters", f"{inner['n_clusters']:,}", help=METRIC_HELP["Clusters"])
    cols[1].metric("Noise", f"{inner['noise_fraction']:.1%}", help=METRIC_HELP["Noise"])
    cols[2].metric("Silhouette", fmt(inner["silhouette"]), help=METRIC_HELP["Silhouette"])
    cols[3].metric("Davies–Bouldin", fmt(inner["davies_bouldin"]), help=METRIC_HELP["Davies–Bouldin"])
    cols[4].metric("Calinski–Harabasz", fmt(inner["calinski_harabasz"], 1), help=METRIC_HELP["Calinski–Harabasz"])
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
    plural = "" if inner["n_clusters"] == 1 else "s"
    sentence = f"{inner['n_clusters']:,} cluster{plural}, {words} (silhouette {fmt(silhouette)})"
    if ext:
        st.subheader("Against the true identities")
        cols = st.columns(3)
        for k, (label, key) in enumerate(
            [
                ("ARI", "ari"),
                ("NMI", "nmi"),
                ("Homogeneity", "homogeneity"),
                ("Completeness", "completeness"),
                ("Pairwise F1", "pairwise_f1"),
                ("BCubed F1", "bcubed_f1"),
            ]
        ):
            cols[k % 3].metric(label, fmt(ext[key]), help=METRIC_HELP[label])
        st.caption(
            f"Pairwise precision {ext['pairwise_precision']:.3f}, recall {ext['pairwise_recall']:.3f}; "
            f"BCubed precision {ext['bcubed_precision']:.3f}, recall {ext['bcubed_recall']:.3f}. "
            "Noise points count as clusters of their own (they lower recall, never precision)."
        )
        sentence += (
            f"; of the pairs of faces put in one cluster, {ext['pairwise_precision']:.0%} really are the same "
            f"person, and {ext['pairwise_recall']:.0%} of the same-person pairs end up together"
        )
    st.markdown(sentence + ".")


def selected_ids(event, frame: pl.DataFrame) -> list[str]:
    """Image ids picked on the map (click: the points; box: those inside it)."""
    try:
        picked = event.selection.get(charts.SELECTION) if event else None
    except AttributeError:
        picked = None
    return picked_image_ids(picked, frame)


def _map_coords(ds: Dataset, fm, fkey: FeatureKey, choices: Choices):
    """The 2-D map: PCA in the page; UMAP and t-SNE from a background job (PCA shown until the job is done).

    PCA stays in the page at any size (2 s for 202,599 x 128 on 2 busy cores; `python -m core cluster --save-map`
    stores UMAP and t-SNE only)."""
    method = choices.map_method
    if method == "tsne" and fm.n > TSNE_MAX_POINTS:
        st.info(
            f"t-SNE maps are limited to {TSNE_MAX_POINTS:,} points: showing PCA instead. Lower the maximum number "
            "of points for t-SNE."
        )
        method = "pca"
    seconds = map_seconds(method, fm.n)
    if method != "pca" and not runs_inline(seconds):  # PCA: a few seconds at CelebA's size, once per server
        stored = load_map(ds.cache_dir, map_key(fkey, method), fm.rows)
        if stored is not None:
            return Reduction(stored, method, 2, f"{method.upper()} map computed in the background.")
        seconds += JOB_START_SECONDS
        job_launcher(
            map_job_spec(ds, fkey, method),
            f"{method.upper()} map of {fm.n:,} points",
            f"Compute the {method.upper()} map again",
            key=f"cl-{method}-job",
            expected=seconds,
            auto_start=True,
        )
        st.caption(f"The map below is PCA until the {method.upper()} map is ready (it then replaces it by itself).")
        method = "pca"
    return cached.cluster_map(fkey, method, fm.X, ds, fm.rows)


def reduced_features(ds: Dataset, fm, fkey: FeatureKey, choices: Choices) -> Reduction | None:
    """The reduction before clustering: in the page when quick, else stored by a background job (None meanwhile)."""
    spec = choices.reduction
    seconds = reduction_seconds(spec, fm.n)
    if runs_inline(seconds):
        return cached.cluster_reduction(fkey, spec, fm.X)
    coords = load_map(ds.cache_dir, reduction_key(fkey, spec), fm.rows)
    if coords is not None:
        return Reduction(coords, spec.method, coords.shape[1], f"{spec.method.upper()} to {coords.shape[1]}-D.")
    job_launcher(
        reduction_job_spec(ds, fkey, spec),
        f"{spec.method.upper()} of {fm.n:,} points",
        f"Compute the {spec.method.upper()} reduction again",
        key="cl-reduce-job",
        expected=JOB_START_SECONDS + seconds,
        auto_start=True,
    )
    return None


def clustering_result(ds: Dataset, fm, fkey: FeatureKey, choices: Choices, reduced: Reduction) -> Clustering | None:
    """The clustering: in the page when quick, else stored by a background job (None while it runs)."""
    spec = choices.clustering
    limit = MAX_POINTS.get(spec.algorithm)
    if limit and fm.n > limit:
        raise ValueError(
            f"{ALGORITHMS[spec.algorithm].label} is limited to {limit:,} points and these choices give "
            f"{fm.n:,}: lower the maximum number of points or pick another algorithm."
        )
    seconds = clustering_seconds(spec, fm.n, reduced.coords.shape[1])
    if runs_inline(seconds):
        return cached.clustering(fkey, choices.reduction, spec, reduced.coords)
    stored = load_clustering(ds.cache_dir, labels_key(fkey, choices.reduction, spec), fm.rows)
    if stored is not None:
        return stored
    job_launcher(
        labels_job_spec(ds, fkey, choices.reduction, spec),
        f"Clustering {fm.n:,} points: {ALGORITHMS[spec.algorithm].label}",
        "Run this clustering again",
        key="cl-labels-job",
        expected=JOB_START_SECONDS + seconds,
        auto_start=True,
    )
    return None


def waiting_note(what: str) -> None:
    """Below a running job's panel: what appears when it ends, and that the page stays usable meanwhile."""
    st.caption(
        f"{what} runs in the background (it keeps running if you leave this page). The results appear here by "
        "themselves when it is done; smaller choices in the sidebar (fewer points, k-means) answer at once."
    )


DRAW_LABELS = {
    "auto": f"automatic (Altair up to {ALTAIR_MAX:,} points, WebGL beyond)",
    "webgl": "WebGL: every point",
    "altair": f"Altair: up to {MAP_DRAW_MAX:,} points",
}
SELECT_HELP = (
    "Click: drag to pan, click a point. Box: drag a box. Lasso (WebGL): draw around points. Scroll to zoom; the "
    "faces appear beside the map."
)
FACES_PAGE = 24  # thumbnails per page of a map selection


def _map_colours(ds: Dataset, fm, result, color_by: str, attribute: str | None) -> Palette | None:
    """The map's colour groups (largest distinct, the rest muted), or None for the density colouring."""
    if color_by == "cluster":
        return largest_first(result.labels, "cluster", noise=-1)
    if color_by == "identity":
        return largest_first(ds.table["identity"].gather(fm.rows).fill_null("–").to_numpy(), "identity", rest="people")
    if color_by == "attribute":
        return present_absent(ds.table[attribute].to_numpy()[fm.rows], attribute)
    return None


@dataclass(frozen=True)
class MapChoices:
    """The widgets above the map: colour by (and which attribute), how to select, how to draw."""

    color_by: str
    attribute: str | None
    mode: str
    draw: str

    @property
    def colouring(self) -> str:
        """One name per colouring ('cluster', 'attribute:Male', ...)."""
        return f"attribute:{self.attribute}" if self.attribute else self.color_by


def _map_choices(ds: Dataset) -> MapChoices:
    """Colour by (and which attribute), how to select, how to draw: the widgets above the map."""
    c1, c2, c3 = st.columns([1, 1, 1])
    colours = ["cluster"] + (["identity"] if ds.has_identity else []) + (["attribute"] if ds.attributes else [])
    colours.append("density")
    color_by = links.synced(
        "color",
        "cl-color",
        "cluster",
        lambda: c1.selectbox(
            "Colour by",
            colours,
            key="cl-color",
            help="Cluster, identity: the 18 largest get their own colour, the rest one grey. Density: how crowded "
            "each point's neighbourhood is (where many points overlap).",
        ),
        valid=links.one_of(colours),
    )
    attribute = None
    if color_by == "attribute":
        attribute = links.synced(
            "cattr",
            "cl-color-attr",
            ds.attributes[0],
            lambda: c1.selectbox("Attribute", ds.attributes, key="cl-color-attr"),
            valid=links.one_of(ds.attributes),
        )
    else:
        links.forget("cattr")
    mode = links.synced(
        "sel",
        "cl-select-mode",
        "click",
        lambda: c2.radio(
            "Select faces by", list(SELECT_MODES), horizontal=True, key="cl-select-mode", help=SELECT_HELP
        ),
        valid=links.one_of(SELECT_MODES),
    )
    draw = links.synced(
        "draw",
        "cl-draw",
        "auto",
        lambda: c3.selectbox("Draw the map with", list(DRAW_LABELS), format_func=DRAW_LABELS.get, key="cl-draw"),
        valid=links.one_of(DRAW_LABELS),
    )
    return MapChoices(color_by, attribute, mode, draw)


def map_section(ds: Dataset, fm, fkey: FeatureKey, choices: Choices, result) -> None:
    """Every point (WebGL) or a sample (Altair), coloured by cluster/identity/attribute/density; a click, box or
    lasso selection shows its faces beside the map, page by page."""
    projection = _map_coords(ds, fm, fkey, choices)
    view = _map_choices(ds)
    method = draw_method(view.draw, fm.n, view.mode)
    palette = _map_colours(ds, fm, result, view.color_by, view.attribute)
    _map_and_faces(ds, fm, fkey, choices, result, projection, palette, view, method)
    if view.color_by != "density" and crowded_share(projection.coords) > CROWDED_SHARE:
        st.caption("Most points here sit on top of others: colour by density to see where they crowd.")


@st.fragment
def _map_and_faces(ds: Dataset, fm, fkey: FeatureKey, choices: Choices, result, projection, palette, view, method):
    """The map and the faces its selection holds: a selection or a page turn reruns only this (a fragment), not the
    whole page (0.85 s at CelebA's size on busy cores)."""
    left, right = st.columns([3, 2])
    with left:
        if method == "webgl":
            picked = _webgl_map(ds, fm, fkey, choices, result, projection, palette, view)
        else:
            picked = _altair_map(ds, fm, choices, result, projection, palette, view.mode)
    with right:
        _selection_faces(ds, fm, result, picked)


def _webgl_map(
    ds: Dataset, fm, fkey: FeatureKey, choices: Choices, result, projection, palette, view: MapChoices
) -> np.ndarray:
    """Every point, drawn by the browser's GPU; returns the positions the selection holds."""
    version = charts.map_version(projection.coords)

    def build() -> bytes:
        identities = ds.table["identity"].gather(fm.rows).fill_null("–").to_numpy() if ds.has_identity else None
        return charts.webgl_map(
            projection.coords,
            ds.table["image_id"].to_numpy()[fm.rows],
            result.labels,
            identities,
            palette if palette is not None else density(projection.coords),
            mode=view.mode,
            tip_group=view.attribute is not None,
        )

    blob = cached.webgl_map(fkey, choices.reduction, choices.clustering, version, view.colouring, view.mode, build)
    selection = scatter_gl(blob, key="cl-map-gl")
    st.caption(
        f"{projection.method.upper()} map of all {fm.n:,} points, drawn with WebGL. {projection.note} Scroll to zoom, "
        "double-click to zoom back out; hover a point to see who it is."
    )
    return selected_positions(selection, projection.coords, version)


def _altair_map(ds: Dataset, fm, choices: Choices, result, projection, palette, mode: str) -> np.ndarray:
    """At most MAP_DRAW_MAX points with Altair; returns the positions (in the whole map) the selection holds."""
    if mode == "lasso":
        st.caption("Lasso needs the WebGL map: using a box here.")
    drawn = drawn_positions(fm.n, choices.seed)
    frame = map_frame(ds, fm.rows[drawn], projection.coords[drawn], result.labels[drawn], None)
    if palette is not None:
        frame = frame.with_columns(pl.Series("colour", np.asarray(palette.names)[palette.group[drawn]]))
    else:
        frame = frame.with_columns(pl.Series("density", density(projection.coords)[drawn]))
    event = st.altair_chart(
        charts.cluster_map(frame, "colour" if palette is not None else "density", palette, lasso=mode != "click"),
        on_select="rerun",
        selection_mode=charts.SELECTION,
        key="cl-map-chart",
        width="stretch",
    )
    sampled = (
        f" Drawing a sample of {len(drawn):,} of the {fm.n:,} points; the metrics and tables use all of them (the "
        "WebGL map draws every point)."
        if len(drawn) < fm.n
        else ""
    )
    st.caption(f"{projection.method.upper()} map. {projection.note}{sampled} Scroll to zoom, drag to pan (click mode).")
    ids = set(selected_ids(event, frame))
    return drawn[np.flatnonzero(frame["image_id"].is_in(list(ids)).to_numpy())] if ids else np.zeros(0, np.int64)


def _selection_faces(ds: Dataset, fm, result, picked: np.ndarray) -> None:
    """How many faces the selection holds and their thumbnails, a page at a time."""
    if not len(picked):
        st.caption("Select points on the map to see their faces here.")
        return
    pages = max(1, -(-len(picked) // FACES_PAGE))
    signature = (len(picked), int(picked[0]), int(picked[-1]))
    if st.session_state.get("cl-sel-signature") != signature:  # a new selection starts on its first page
        st.session_state["cl-sel-signature"] = signature
        st.session_state.pop("cl-sel-page", None)
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages:,})", 1, pages, 1, key="cl-sel-page"))
    shown = picked[(page - 1) * FACES_PAGE : page * FACES_PAGE]
    first, last = (page - 1) * FACES_PAGE + 1, (page - 1) * FACES_PAGE + len(shown)
    st.caption(
        ("1 face selected" if len(picked) == 1 else f"{len(picked):,} faces selected")
        + (f" (showing {first:,}–{last:,})" if pages > 1 else "")
    )
    ids = ds.table["image_id"].to_numpy()[fm.rows[shown]]
    names = cluster_names(result.labels[shown])
    image_grid(ds, list(ids), [f"{i} · cluster {c}" for i, c in zip(ids, names)], columns=4)


def k_distance_section(fkey: FeatureKey, choices: Choices, X: np.ndarray, result) -> None:
    """The k-distance curve with the suggested eps, to choose DBSCAN's radius."""
    k = max(1, int(choices.clustering.param("min_samples")) - 1)
    with st.expander("Choosing eps: the k-distance curve", expanded=True):
        curve, suggested = cached.k_distance_curve(fkey, choices.reduction, k, X)
        st.altair_chart(charts.k_distance_chart(curve, suggested, k), width="stretch")
        st.caption(
            f"Suggested eps: {suggested:.3f} (knee of the curve, capped where different identities start to link). "
            f"In use: {result.params['eps']:.3f}. Set eps to 0 to use the suggestion."
        )


def cluster_table_section(ds: Dataset, fm, fkey: FeatureKey, choices: Choices, result) -> None:
    """Size, prominent (share >= 0.8) and noisy attributes per cluster, and the cluster x attribute heatmap."""
    sizes = cluster_sizes(result.labels)
    clusters, shares = cached.cluster_attribute_shares(
        fkey, choices.reduction, choices.clustering, ds, fm.rows, result.labels
    )
    table = describe_clusters(
        clusters, shares, ds.attributes, dict(zip(sizes["cluster"].to_list(), sizes["size"].to_list()))
    )
    noise = int((result.labels < 0).sum())
    if noise:
        st.caption(f"{noise:,} noise points belong to no cluster.")
    st.dataframe(table, key="cl-table", hide_index=True, width="stretch", height=min(400, 38 + 35 * len(table)))
    shown = clusters[:HEATMAP_CLUSTERS]
    if len(shown):
        long = shares_long(shown, shares[: len(shown)], ds.attributes)
        st.altair_chart(
            charts.heatmap(
                long, "attribute", "cluster", "share", "Share of each attribute in each cluster (largest 30 clusters)"
            ),
            width="stretch",
        )


def cluster_faces_section(ds: Dataset, fm, result) -> None:
    """Pick a cluster: a sample gallery, its mean face and first eigenface."""
    clusters = sorted(int(c) for c in np.unique(result.labels) if c >= 0)
    if not clusters or not ds.has_images:
        return
    chosen = links.synced(
        "cluster",
        "cl-pick-cluster",
        clusters[0],
        lambda: st.selectbox("Look at cluster", clusters, key="cl-pick-cluster"),
        int,
        links.one_of(clusters),
    )
    members = sample_members(result.labels, chosen, MAX_FACES_PER_CLUSTER)
    ids = ds.table["image_id"].to_numpy()[fm.rows[members]]
    left, right = st.columns([3, 1])
    with left:
        image_grid(ds, list(ids[:12]), columns=6)
    with right:
        mean, eig, share = cached.cluster_faces(ds.key, tuple(ids), ds)
        if mean is not None:
            st.image(mean, caption=f"mean face of {len(ids)} images", width=128)
        if eig is not None:
            st.image(eig, caption=f"first eigenface ({share:.0%} of the variation)", width=128)


def centroid_section(X: np.ndarray, fkey: FeatureKey, choices: Choices, result) -> None:
    """Heatmap of distances between cluster centroids (largest 30 clusters)."""
    clusters, dist = cached.cluster_centroid_distances(
        fkey, choices.reduction, choices.clustering, HEATMAP_CLUSTERS, X, result.labels
    )
    if len(clusters) < 2:
        return
    frame = charts.distance_matrix_frame(clusters, dist)
    st.altair_chart(
        charts.heatmap(frame, "cluster_a", "cluster_b", "distance", "Distance between cluster centroids"),
        width="stretch",
    )


def dendrogram_section(X: np.ndarray, clustering: ClusterSpec) -> None:
    linkage, metric = clustering.param("linkage"), clustering.param("metric")
    st.altair_chart(charts.dendrogram_chart(X, linkage, metric), width="stretch")
    st.caption(f"Dendrogram ({linkage} linkage, {metric}): cut it at a height to get clusters.")


def sweeps_section(fkey: FeatureKey, choices: Choices, X: np.ndarray, truth) -> None:
    """Elbow + silhouette vs k, algorithms side by side at the same k, DBSCAN over eps — on a button."""
    c1, c2 = st.columns(2)
    with c1:
        k_max = _number("kmax", "cl-sweep-kmax", "Largest k", 3, 200, 20)
    with c2:
        k_now = int(choices.clustering.param("k") or 8)
        if st.session_state.get("cl-sweep-k-follows") != k_now:  # follows the algorithm's k until changed here
            st.session_state["cl-sweep-k-follows"] = k_now
            if "cl-sweep-k" in st.session_state:
                st.session_state["cl-sweep-k"] = k_now
        k_same = _number("ksame", "cl-sweep-k", "k for the side-by-side", 2, 2000, k_now)
    if not st.button("Run sweeps", key="cl-sweep"):
        st.caption("Sweeps run several clusterings; they take a few seconds on thousands of points.")
        return
    ks = sorted(set(np.linspace(2, k_max, min(10, k_max - 1)).astype(int)))
    st.altair_chart(charts.elbow_chart(k_sweep(X, ks)), width="stretch")
    side = algorithms_side_by_side(X, k_same, truth)
    st.dataframe(side, key="cl-sweep-table", hide_index=True, width="stretch")
    centre = suggest_eps(X, 3)
    eps = eps_sweep(X, np.round(np.linspace(centre * 0.6, centre * 1.4, 7), 4), 3, truth)
    st.dataframe(
        eps.select([c for c in ("eps", "n_clusters", "noise", "largest_share", "pairwise_f1") if c in eps.columns]),
        key="cl-eps-table",
        hide_index=True,
        width="stretch",
    )


def download_section(ds: Dataset, fm, result) -> None:
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
        key="cl-download",
        on_click="ignore",
    )


def outliers_section(ds: Dataset, fm, result) -> None:
    """HDBSCAN's outlier scores: how many points are clear outliers, and the most outlying faces."""
    scores = result.outlier_scores
    if scores is None or not len(scores):
        return
    strong = int((scores > 0.8).sum())
    st.caption(
        f"HDBSCAN outlier scores (0 = core of a cluster, 1 = far from any): median {np.median(scores):.2f}; "
        f"{strong:,} points score above 0.8."
    )
    worst = np.argsort(-scores)[:6]
    ids = ds.table["image_id"].to_numpy()[fm.rows[worst]]
    with st.expander("Most outlying faces"):
        image_grid(ds, list(ids), [f"{i} · {scores[w]:.2f}" for i, w in zip(ids, worst)], columns=6)
