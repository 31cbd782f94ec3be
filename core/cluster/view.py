"""The Clustering page's choices as one object and its URL contract (README "Links to a view"), shared by the page and
the lessons.

`View.from_params(params, ds)` reads a page address: a value the dataset cannot take (an attribute it lacks, a number
out of range, an unknown name) falls back to the default. `view.to_params()` writes the address back, defaults left
out, so links stay short. The page seeds its widgets from the address and writes the view they make; a lesson builds
the view it wants to show and computes its answer from the same object, so both read one set of rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.classify.store import load_predictions
from core.cluster.algorithms import ALGORITHMS, ClusterSpec, Param
from core.cluster.costs import MAX_POINTS
from core.cluster.features import FEATURE_SPACES, WEIGHTINGS, FeatureSpec
from core.cluster.reduce import MAP_METHODS, UMAP_METRICS, ReductionSpec
from core.data.dataset import Dataset
from core.data.embeddings import list_embeddings
from core.data.subset import MAX_TOP_IDENTITIES, Subset, parse_where, where_text

DEFAULT_MAX_POINTS = 5_000
MIN_POINTS = 100
REDUCTIONS = ("none", "pca", "umap")
PCA_VARIANCE = 0.95  # "PCA components 0" keeps this share of the variance
PCA_MAX_COMPONENTS = 512
UMAP_COMPONENTS = (2, 50, 10)  # (low, high, default)
UMAP_NEIGHBOURS = (2, 200, 15)
UMAP_MIN_DIST = (0.0, 1.0, 0.0)
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
# Every URL parameter the view owns (the subset's `ids` is not one: this page filters by the top identities only).
URL_NAMES = (
    "space",
    "emb",
    "attrs",
    "weights",
    "std",
    "where",
    "part",
    "top",
    "n",
    "reduce",
    "pcs",
    "ucomp",
    "unn",
    "umd",
    "umetric",
    "algo",
    *dict.fromkeys(PARAM_URL.values()),
    "map",
)


def default_algorithm(space: str) -> str:
    """Face identities (re-ranked) on embeddings, k-means on attributes."""
    return "rerank" if space == "embeddings" else "kmeans"


def pca_reduction(components: int) -> ReductionSpec:
    """PCA to `components` dimensions; 0 keeps PCA_VARIANCE of the variance."""
    return ReductionSpec("pca", PCA_VARIANCE if components == 0 else components)


def pca_components(spec: ReductionSpec) -> int:
    """The "PCA components" a PCA spec is chosen with (0: a share of the variance)."""
    return int(spec.n_components) if spec.n_components >= 1 else 0


def umap_reduction(components: int, neighbours: int, min_dist: float, metric: str) -> ReductionSpec:
    return ReductionSpec.of("umap", components, metric=metric, min_dist=min_dist, n_neighbors=neighbours)


def ward_euclidean(algorithm: str, values: dict) -> dict:
    """The parameters with the metric set to euclidean where ward linkage needs it (the page says so)."""
    if algorithm == "agglomerative" and values.get("linkage") == "ward" and values.get("metric") != "euclidean":
        return values | {"metric": "euclidean"}
    return values


@dataclass(frozen=True)
class ViewOptions:
    """What one dataset offers the page's choices: the values its URL parameters may take, and their defaults."""

    spaces: tuple[str, ...]  # feature spaces present, in FEATURE_SPACES order
    models: tuple[str, ...] = ()  # embedding models
    attributes: tuple[str, ...] = ()  # annotated
    predicted: tuple[str, ...] = ()  # attributes the newest classifier predicted for every image
    predicted_by: str = ""  # that classifier's id
    partitions: tuple[str, ...] = ()
    has_identity: bool = False
    n_images: int = 0

    @classmethod
    def of(cls, ds: Dataset) -> ViewOptions:
        models = tuple(list_embeddings(ds))
        predictions = load_predictions(ds.cache_dir)
        present = {
            "embeddings": bool(models),
            "attributes": bool(ds.attributes),
            "predicted": predictions is not None,
        }
        return cls(
            tuple(s for s in FEATURE_SPACES if present[s]),
            models,
            tuple(ds.attributes),
            predictions.attributes if predictions is not None else (),
            predictions.model_id if predictions is not None else "",
            tuple(ds.partition_counts()) if ds.has_partition else (),
            ds.has_identity,
            ds.n_images,
        )

    @property
    def default_space(self) -> str:
        return self.spaces[0] if self.spaces else FEATURE_SPACES[0]

    @property
    def most_points(self) -> int:
        """The largest "Maximum points" (every image; at least MIN_POINTS)."""
        return max(MIN_POINTS, self.n_images)

    @property
    def default_max_points(self) -> int:
        return min(DEFAULT_MAX_POINTS, self.most_points)

    def attribute_choices(self, space: str) -> tuple[str, ...]:
        """The attributes a feature space can be built from: annotated, or predicted."""
        return self.predicted if space == "predicted" else self.attributes


@dataclass(frozen=True)
class View:
    """Everything the page's sidebar decides on one dataset: which points and features, the reduction, the
    clustering, the map; `options` (what the dataset offers) only gives the defaults `to_params` leaves out."""

    options: ViewOptions = field(compare=False, repr=False)
    features: FeatureSpec
    subset: Subset
    max_points: int  # as asked; `point_limit` is what the algorithm accepts
    reduction: ReductionSpec
    clustering: ClusterSpec
    map_method: str = MAP_METHODS[0]
    seed: int = 0

    @property
    def point_limit(self) -> int:
        """At most this many points are clustered: max_points, capped where the algorithm refuses more."""
        limit = MAX_POINTS.get(self.clustering.algorithm)
        return min(self.max_points, limit) if limit else self.max_points

    @classmethod
    def from_params(cls, params: Mapping[str, str], ds: Dataset, options: ViewOptions | None = None) -> View:
        """The view an address asks for on this dataset; what the dataset cannot take falls back to the default."""
        options = options or ViewOptions.of(ds)
        features = features_from_params(params, options)
        return cls(
            options,
            features,
            subset_from_params(params, options),
            max_points_from_params(params, options),
            reduction_from_params(params),
            clustering_from_params(params, features.space),
            _read(params, "map", str, _one_of(MAP_METHODS), MAP_METHODS[0]),
        )

    def to_params(self) -> dict[str, str]:
        """The URL parameters of this view, those at their default left out."""
        out: dict[str, str] = {}
        options, spec = self.options, self.features

        def put(name: str, value: str, default: str) -> None:
            if value != default:
                out[name] = value

        put("space", spec.space, options.default_space)
        if spec.space == "embeddings" and len(options.models) > 1:
            put("emb", spec.model or options.models[0], options.models[0])
        if spec.space != "embeddings":
            put("attrs", ",".join(spec.attributes), "")
            put("weights", spec.weighting, "none")
        put("std", "1" if spec.standardise else "0", "0")
        put("where", where_text(self.subset.conditions), "")
        put("part", self.subset.partition or "", "")
        put("top", str(self.subset.top_identities), "0")
        put("n", str(self.max_points), str(options.default_max_points))
        reduction = self.reduction
        put("reduce", reduction.method, "none")
        if reduction.method == "pca":
            put("pcs", str(pca_components(reduction)), "0")
        if reduction.method == "umap":
            values = reduction.values
            put("ucomp", str(int(reduction.n_components)), str(UMAP_COMPONENTS[2]))
            put("unn", str(values["n_neighbors"]), str(UMAP_NEIGHBOURS[2]))
            put("umd", _text(values["min_dist"]), _text(UMAP_MIN_DIST[2]))
            put("umetric", values["metric"], UMAP_METRICS[0])
        algo = self.clustering.algorithm
        put("algo", algo, default_algorithm(spec.space))
        for p in ALGORITHMS[algo].params:
            put(PARAM_URL[p.name], _text(self.clustering.param(p.name)), _text(p.default))
        put("map", self.map_method, MAP_METHODS[0])
        return out


def features_from_params(params: Mapping[str, str], options: ViewOptions, space: str | None = None) -> FeatureSpec:
    """The features an address asks for (in `space` when one is chosen already)."""
    space = space or _read(params, "space", str, _one_of(options.spaces), options.default_space)
    if space == "embeddings":
        models = options.models
        model = _read(params, "emb", str, _one_of(models), models[0]) if len(models) > 1 else next(iter(models), None)
        attributes, weighting = (), "none"
    else:
        model = None
        attributes = tuple(_read(params, "attrs", _as_list, _all_of(options.attribute_choices(space)), []))
        weighting = _read(params, "weights", str, _one_of(WEIGHTINGS), "none")
    standardise = _read(params, "std", _as_bool, _any, False)
    return FeatureSpec(space, attributes, weighting, standardise, model)


def subset_from_params(params: Mapping[str, str], options: ViewOptions) -> Subset:
    """Attribute conditions the dataset has (others dropped), its partition, the N most frequent identities."""
    try:
        conditions = tuple((a, v) for a, v in parse_where(params.get("where", "")) if a in options.attributes)
    except ValueError:
        conditions = ()
    partition = _read(params, "part", str, _one_of(options.partitions), None)
    top = _read(params, "top", int, _between(0, MAX_TOP_IDENTITIES), 0) if options.has_identity else 0
    return Subset(conditions, partition, (), top)


def max_points_from_params(params: Mapping[str, str], options: ViewOptions) -> int:
    return _read(params, "n", int, _between(MIN_POINTS, options.most_points), options.default_max_points)


def reduction_from_params(params: Mapping[str, str], method: str | None = None) -> ReductionSpec:
    """The reduction before clustering an address asks for (of `method` when one is chosen already)."""
    method = method or _read(params, "reduce", str, _one_of(REDUCTIONS), "none")
    if method == "pca":
        return pca_reduction(_read(params, "pcs", int, _between(0, PCA_MAX_COMPONENTS), 0))
    if method == "umap":
        low, high, default = UMAP_COMPONENTS
        n = _read(params, "ucomp", int, _between(low, high), default)
        low, high, default = UMAP_NEIGHBOURS
        neighbours = _read(params, "unn", int, _between(low, high), default)
        low, high, default = UMAP_MIN_DIST
        min_dist = _read(params, "umd", float, _between(low, high), default)
        metric = _read(params, "umetric", str, _one_of(UMAP_METRICS), UMAP_METRICS[0])
        return umap_reduction(n, neighbours, min_dist, metric)
    return ReductionSpec()


def clustering_from_params(params: Mapping[str, str], space: str) -> ClusterSpec:
    """The clustering an address asks for: every parameter set, each valid or at its default (ward: euclidean)."""
    algorithm = _read(params, "algo", str, _one_of(ALGORITHMS), default_algorithm(space))
    return ClusterSpec.of(algorithm, **ward_euclidean(algorithm, clustering_values(params, algorithm)))


def clustering_values(params: Mapping[str, str], algorithm: str) -> dict:
    """{parameter: value} of `algorithm` an address gives, each valid or at its default. Parameters are read under
    their URL names, which algorithms share: k is k wherever it appears."""
    return {
        p.name: _read(params, PARAM_URL[p.name], _param_parser(p), _any, p.default)
        for p in ALGORITHMS[algorithm].params
    }


def _param_parser(p: Param) -> Callable[[str], Any]:
    """Text -> the parameter's value, checked by the algorithm's own Param (ParameterError, a ValueError, if not)."""
    parse = {"int": int, "float": float}.get(p.kind, str)
    return lambda text: p.check(parse(text))


# ---- reading one parameter


def _read(params: Mapping[str, str], name: str, parse: Callable[[str], Any], valid: Callable[[Any], bool], default):
    """The parameter `name`, parsed and valid on this dataset; else (absent, unreadable, invalid) the default."""
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except (ValueError, TypeError):
        return default
    return value if valid(value) else default


def _one_of(options) -> Callable[[Any], bool]:
    allowed = set(options)
    return lambda value: value in allowed


def _all_of(options) -> Callable[[Any], bool]:
    allowed = set(options)
    return lambda values: all(v in allowed for v in values)


def _between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: low <= value <= high


def _any(value) -> bool:
    return True


def _as_bool(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(text)
    return text == "1"


def _as_list(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def _text(value) -> str:
    """A number as a link writes it: whole floats without '.0' (0.0 -> '0', 1.25 -> '1.25')."""
    return f"{value:g}" if isinstance(value, float) else str(value)
