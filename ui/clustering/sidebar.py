"""The Clustering page's sidebar: every choice starts from the page's address (core/cluster/view.py reads it) and the
View the choices make is written back to it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import streamlit as st

from core import format as fmt
from core.cluster.algorithms import ALGORITHMS, ClusterSpec, Param
from core.cluster.features import FeatureSpec
from core.cluster.reduce import MAP_METHODS, TSNE_MAX_POINTS, UMAP_METRICS, ReductionSpec
from core.cluster.view import (
    MIN_POINTS,
    PCA_MAX_COMPONENTS,
    REDUCTIONS,
    UMAP_COMPONENTS,
    UMAP_MIN_DIST,
    UMAP_NEIGHBOURS,
    URL_NAMES,
    View,
    ViewOptions,
    clustering_values,
    default_algorithm,
    features_from_params,
    pca_components,
    pca_reduction,
    reduction_from_params,
    umap_reduction,
    ward_euclidean,
)
from core.data.dataset import Dataset
from ui import links
from ui import state as keys
from ui.filters import subset_ui

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
WARD_NEEDS_EUCLIDEAN = "Ward linkage needs the euclidean metric; using euclidean."


def sidebar(ds: Dataset, options: ViewOptions) -> View:
    """All the page's choices, in the sidebar, as one View (also written to the page's address)."""
    asked = View.from_params(st.query_params.to_dict(), ds, options)
    with st.sidebar:
        st.header("Clustering")
        features = feature_ui(options, asked)
        with st.expander("Subset", expanded=False):
            subset = subset_ui(ds, keys.CL_SUBSET, top_identities=True)
        top = options.most_points
        max_points = _number(keys.CL_MAX_POINTS, "Maximum points", MIN_POINTS, top, asked.max_points, step=500)
        with st.expander("Reduction", expanded=False):
            reduction = reduction_ui(asked)
        view = View(options, features, subset, max_points, reduction, algorithm_ui(features.space, asked))
        clustering = view.clustering
        if view.point_limit < max_points:
            label = ALGORITHMS[clustering.algorithm].label
            limit = fmt.count(view.point_limit)
            st.caption(f"{label} handles at most {limit} points: using a sample of {limit}.")
        _seed(keys.CL_MAP_METHOD, asked.map_method)
        map_method = st.selectbox(
            "Map projection",
            MAP_METHODS,
            key=keys.CL_MAP_METHOD,
            format_func=str.upper,
            help=f"PCA is instant; UMAP and t-SNE run in the background (PCA is shown until they are ready). "
            f"t-SNE is limited to {fmt.count(TSNE_MAX_POINTS)} points.",
        )
    view = replace(view, map_method=map_method)
    _write(view)
    return view


def feature_ui(options: ViewOptions, asked: View) -> FeatureSpec:
    """Feature space, attribute subset and weights, standardisation."""
    _seed(keys.CL_SPACE, asked.features.space, lambda value: value in options.spaces)
    space = st.selectbox(
        "Feature space",
        options.spaces,
        format_func=SPACE_LABELS.get,
        key=keys.CL_SPACE,
        help="Embeddings group faces by who they are; attributes by how they look (hair, glasses…).",
    )
    _follow_space(space)
    wanted = features_from_params(_address(), options, space)
    model, attributes, weighting = wanted.model, (), "none"
    if space == "embeddings" and len(options.models) > 1:
        _seed(keys.CL_MODEL, wanted.model, lambda value: value in options.models)
        model = st.selectbox("Embedding model", options.models, key=keys.CL_MODEL)
    elif space != "embeddings":
        choices = options.attribute_choices(space)
        if space == "predicted":
            st.caption(f"Probabilities predicted for every image by the newest classifier ({options.predicted_by}).")
        _seed(keys.CL_ATTRIBUTES, list(wanted.attributes), lambda values: set(values) <= set(choices))
        attributes = tuple(st.multiselect("Attributes (none = all)", choices, key=keys.CL_ATTRIBUTES))
        _seed(keys.CL_WEIGHTING, wanted.weighting)
        weighting = st.selectbox(
            "Attribute weights", list(WEIGHT_LABELS), format_func=WEIGHT_LABELS.get, key=keys.CL_WEIGHTING
        )
    _seed(keys.CL_STANDARDISE, wanted.standardise)
    standardise = st.checkbox(
        "Standardise features",
        key=keys.CL_STANDARDISE,
        help="Give every column zero mean and unit variance before clustering.",
    )
    return FeatureSpec(space, attributes, weighting, standardise, model)


def _follow_space(space: str) -> None:
    """When the feature space changes and the algorithm is still the old space's default, take the new one's."""
    before = st.session_state.get(keys.CL_SPACE_BEFORE)
    st.session_state[keys.CL_SPACE_BEFORE] = space
    if before and before != space and st.session_state.get(keys.CL_ALGORITHM) == default_algorithm(before):
        st.session_state[keys.CL_ALGORITHM] = default_algorithm(space)


def reduction_ui(asked: View) -> ReductionSpec:
    """Reduction before clustering: none, PCA (k or 95 % variance), UMAP (components, neighbours, min_dist, metric)."""
    _seed(keys.CL_REDUCE, asked.reduction.method)
    method = st.selectbox("Reduce before clustering", REDUCTIONS, format_func=REDUCE_LABELS.get, key=keys.CL_REDUCE)
    wanted = reduction_from_params(_address(), method)
    if method == "pca":
        n = _number(
            keys.CL_PCA_COMPONENTS,
            "PCA components (0 = keep 95 % of the variance)",
            0,
            PCA_MAX_COMPONENTS,
            pca_components(wanted),
        )
        return pca_reduction(n)
    if method == "umap":
        values = wanted.values
        n = _number(keys.CL_UMAP_COMPONENTS, "UMAP components", *UMAP_COMPONENTS[:2], int(wanted.n_components))
        nn = _number(keys.CL_UMAP_NEIGHBOURS, "UMAP neighbours", *UMAP_NEIGHBOURS[:2], values["n_neighbors"])
        md = _number(keys.CL_UMAP_MIN_DIST, "UMAP min_dist", *UMAP_MIN_DIST[:2], values["min_dist"], step=0.05)
        _seed(keys.CL_UMAP_METRIC, values["metric"])
        metric = st.selectbox("UMAP metric", UMAP_METRICS, key=keys.CL_UMAP_METRIC)
        return umap_reduction(n, nn, md, metric)
    return ReductionSpec()


def algorithm_ui(space: str, asked: View) -> ClusterSpec:
    """Algorithm and its parameters (defaults that work: data-driven eps/threshold)."""
    _seed(keys.CL_ALGORITHM, asked.clustering.algorithm)
    algo = st.selectbox("Algorithm", list(ALGORITHMS), format_func=lambda n: ALGORITHMS[n].label, key=keys.CL_ALGORITHM)
    st.caption(ALGORITHMS[algo].description)
    wanted = clustering_values(_address(), algo)  # the address's values, for this algorithm's parameters
    values = {p.name: _param_widget(algo, p, wanted[p.name]) for p in ALGORITHMS[algo].params}
    usable = ward_euclidean(algo, values)
    if usable != values:
        st.warning(WARD_NEEDS_EUCLIDEAN)
    return ClusterSpec.of(algo, **usable)


def _param_widget(algo: str, p: Param, wanted):
    key = keys.cl_param(algo, p.name)
    if p.kind == "choice":
        _seed(key, wanted)
        return st.selectbox(p.name, p.choices, key=key, help=p.help)
    if p.kind == "int":
        return _number(key, p.name, int(p.low), int(p.high), int(wanted), help=p.help)
    return _number(key, p.name, float(p.low), float(p.high), float(wanted), step=0.01, format="%.3f", help=p.help)


def _number(key: str, label: str, low, high, wanted, **kwargs):
    """A number input between low and high, starting at `wanted` (the address's value) in a new session."""
    _seed(key, wanted, lambda value: low <= value <= high)
    return type(wanted)(st.number_input(label, low, high, key=key, **kwargs))


def _seed(key: str, wanted: Any, valid: Callable[[Any], bool] | None = None) -> None:
    """Before a widget is drawn: a session without a value for it (a link opened in a new tab), or with one this
    dataset cannot take, starts from the value the address asks for."""
    if key not in st.session_state or (valid is not None and not valid(st.session_state[key])):
        st.session_state[key] = wanted


def _address() -> Mapping[str, str]:
    return st.query_params.to_dict()


def _write(view: View) -> None:
    """The view into the page's address: its parameters set, those at their default taken out."""
    params = view.to_params()
    for name in URL_NAMES:
        if name in params:
            links.remember(name, params[name])
        else:
            links.forget(name)
