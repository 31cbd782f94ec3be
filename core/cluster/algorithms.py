"""Clustering algorithms by name, each returning one label per point (-1 = noise).

Registry: kmeans, minibatch, agglomerative, dbscan, hdbscan, chinese_whispers, rerank (identity
clustering with k-reciprocal re-ranking, core.cluster.rerank).
`cluster(X, "dbscan", eps=...)` validates parameters and returns a Clustering. Every parameter is checked here, by
its `Param` (range or choices), before any library runs, so the page, the command line, the lessons and the
background jobs all get the same one-sentence ParameterError (a ValueError); an unknown name lists the choices.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core import format as fmt
from core.cluster.hdbscan_knn import hdbscan_knn
from core.cluster.metrics import suggest_eps, suggest_threshold
from core.cluster.rerank import reranked_identities
from core.errors import ParameterError

# Lazy imports: dlib, hdbscan, SciPy's submodules, scikit-learn are imported inside the functions that use them, so
# pages and commands that never call them do not pay their import time and memory on a shared server.

LINKAGES = ("ward", "complete", "average", "single")
METRICS = ("euclidean", "manhattan", "cosine")
AGGLOMERATIVE_MAX_POINTS = 20_000  # O(n^2) memory beyond this
CHINESE_WHISPERS_MAX_POINTS = 30_000  # dlib compares all pairs
KMEANS_ALGORITHM = (
    "lloyd"  # sklearn's default; elkan was slower here (20k x 128, k=100: 51 s vs 37-43 s on the shared 2 cores)
)
KMEANS_SAMPLE = 20_000  # k-means on more points than this starts from centres fitted on a sample
HDBSCAN_EXACT_MAX_POINTS = (
    20_000  # beyond, the spanning tree comes from the k-NN graph (~3x faster, same clusters: core.cluster.hdbscan_knn)
)
EPS_FLOOR = 1e-6  # DBSCAN refuses eps 0
DOMINANT_SHARE = 0.5  # warn when one cluster holds more than this share of the points


@dataclass(frozen=True)
class Param:
    """One algorithm parameter as the page and the command line show it, and the values it accepts."""

    name: str
    kind: str  # int | float | choice
    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""

    def check(self, value) -> object:
        """The value as this parameter holds it (int, float or one of the choices); ParameterError otherwise."""
        if self.kind == "choice":
            if value not in self.choices:
                raise ParameterError(f"{self.name} must be one of {', '.join(self.choices)}; got {value!r}.")
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or math.isnan(number):
            raise ParameterError(f"{self.name} must be a number; got {value!r}.")
        if self.kind == "int":
            if not number.is_integer():
                raise ParameterError(f"{self.name} must be a whole number; got {value!r}.")
            number = int(number)
        if not self.low <= number <= self.high:
            raise ParameterError(
                f"{self.name} must be between {_plain(self.low)} and {_plain(self.high)}; got {_plain(number)}."
            )
        return number


def _plain(number: float) -> str:
    """2000 -> '2,000', 1000.0 -> '1,000', 0.05 -> '0.05'."""
    return fmt.count(number) if float(number).is_integer() else f"{number:g}"


@dataclass(frozen=True)
class Fit:
    """What one algorithm found: labels (any numbering, -1 = noise) and what is shown beside them."""

    labels: np.ndarray
    chosen: dict = field(default_factory=dict)  # parameters chosen from the data (eps 0, threshold 0)
    notes: tuple[str, ...] = ()
    outlier_scores: np.ndarray | None = None
    inertia: float | None = None


@dataclass(frozen=True)
class Algorithm:
    name: str
    label: str
    params: tuple[Param, ...]
    description: str
    fit: Callable[[np.ndarray, dict, int], Fit] = field(repr=False, compare=False)  # (X, every parameter, seed)


def check_linkage(linkage: str, metric: str) -> None:
    """ParameterError unless the linkage/metric pair is valid (ward only with euclidean)."""
    if linkage not in LINKAGES:
        raise ParameterError(f"Unknown linkage {linkage!r}; choose one of {', '.join(LINKAGES)}.")
    if metric not in METRICS:
        raise ParameterError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    if linkage == "ward" and metric != "euclidean":
        raise ParameterError("Ward linkage works only with the euclidean metric; choose another linkage or euclidean.")


def _kmeans(X: np.ndarray, k: int, seed: int, minibatch: bool = False) -> Fit:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    k = int(min(k, len(X)))
    if minibatch:
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
        labels = model.fit_predict(X)
        return Fit(labels, inertia=float(model.inertia_))
    init = "k-means++"
    if len(X) > KMEANS_SAMPLE:
        # Centres from a seeded sample first; the full-data run then starts near convergence
        # and needs a few iterations instead of ~100 (inertia compared in bench/bench_cluster.py).
        rows = np.random.default_rng(seed).choice(len(X), KMEANS_SAMPLE, replace=False)
        init = (
            KMeans(n_clusters=k, random_state=seed, n_init=1, tol=1e-3, algorithm=KMEANS_ALGORITHM)
            .fit(X[rows])
            .cluster_centers_
        )
    model = KMeans(
        n_clusters=k,
        init=init,
        random_state=seed,
        n_init=1,
        max_iter=30 if len(X) > KMEANS_SAMPLE else 300,
        algorithm=KMEANS_ALGORITHM,
    )
    labels = model.fit_predict(X)
    return Fit(labels, inertia=float(model.inertia_))


def _agglomerative(X: np.ndarray, p: dict, seed: int) -> Fit:
    from sklearn.cluster import AgglomerativeClustering

    if len(X) > AGGLOMERATIVE_MAX_POINTS:
        raise ValueError(
            f"Agglomerative clustering is limited to {AGGLOMERATIVE_MAX_POINTS:,} points; lower the maximum number of points."
        )
    linkage, metric = p["linkage"], p["metric"]
    if p["distance_threshold"] > 0:
        model = AgglomerativeClustering(
            n_clusters=None, distance_threshold=p["distance_threshold"], linkage=linkage, metric=metric
        )
    else:
        model = AgglomerativeClustering(n_clusters=int(min(p["k"], len(X))), linkage=linkage, metric=metric)
    return Fit(model.fit_predict(X))


def _dbscan(X: np.ndarray, p: dict, seed: int) -> Fit:
    """eps 0: the knee of the k-distance curve (EPS_FLOOR when most points have identical copies)."""
    from sklearn.cluster import DBSCAN

    eps, notes = p["eps"], []
    if not eps:
        eps = suggest_eps(X, int(p["min_samples"]), seed=seed)
        notes.append(f"eps {eps:.3f} was chosen from the knee of the k-distance curve.")
        if eps <= 0:  # most points have identical copies (0/1 attributes): group exact copies only
            eps = EPS_FLOOR
            notes.append("Most points have identical copies, so eps only groups identical points.")
    labels = DBSCAN(eps=float(eps), min_samples=int(p["min_samples"])).fit_predict(X)
    return Fit(labels, {"eps": eps}, tuple(notes))


def _hdbscan(X: np.ndarray, p: dict, seed: int) -> Fit:
    """hdbscan.HDBSCAN up to HDBSCAN_EXACT_MAX_POINTS, its k-NN tree beyond (with a note saying so)."""
    min_cluster_size, min_samples = int(p["min_cluster_size"]), int(p["min_samples"]) or None
    if len(X) > HDBSCAN_EXACT_MAX_POINTS:
        labels, scores = hdbscan_knn(X, min_cluster_size, min_samples)
        note = (
            f"More than {HDBSCAN_EXACT_MAX_POINTS:,} points: HDBSCAN's tree was built from each point's "
            "nearest neighbours (much faster; matches the exact tree's clusters on the benchmarks)."
        )
        return Fit(labels, notes=(note,), outlier_scores=scores)
    import hdbscan

    model = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples)
    labels = model.fit_predict(X)
    return Fit(labels, outlier_scores=np.nan_to_num(np.asarray(model.outlier_scores_, np.float64)))


def _chinese_whispers(X: np.ndarray, p: dict, seed: int) -> Fit:
    """threshold 0: chosen from the data (core.cluster.metrics.suggest_threshold)."""
    threshold, notes = p["threshold"], ()
    if not threshold:
        threshold = suggest_threshold(X, seed=seed)
        notes = (f"threshold {threshold:.3f} was chosen from the data.",)
    return Fit(chinese_whispers(X, threshold), {"threshold": threshold}, notes)


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "kmeans",
            "k-means",
            (Param("k", "int", 8, 2, 2000, help="number of clusters"),),
            "Splits points into k round groups of similar size.",
            lambda X, p, seed: _kmeans(X, p["k"], seed),
        ),
        Algorithm(
            "minibatch",
            "Mini-batch k-means",
            (Param("k", "int", 8, 2, 2000, help="number of clusters"),),
            "k-means on small random batches: much faster on large data, slightly less exact.",
            lambda X, p, seed: _kmeans(X, p["k"], seed, minibatch=True),
        ),
        Algorithm(
            "agglomerative",
            "Agglomerative (hierarchical)",
            (
                Param("k", "int", 8, 2, 2000, help="number of clusters (ignored when a distance threshold is set)"),
                Param(
                    "distance_threshold", "float", 0.0, 0.0, 1000.0, help="merge clusters closer than this (0 = use k)"
                ),
                Param(
                    "linkage",
                    "choice",
                    "ward",
                    choices=LINKAGES,
                    help="how the distance between two clusters is measured",
                ),
                Param("metric", "choice", "euclidean", choices=METRICS, help="ward needs euclidean"),
            ),
            "Merges the closest groups step by step; the dendrogram shows the merge order.",
            _agglomerative,
        ),
        Algorithm(
            "dbscan",
            "DBSCAN",
            (
                Param(
                    "eps",
                    "float",
                    0.0,
                    0.0,
                    1000.0,
                    help="neighbourhood radius (0 = suggested from the k-distance curve)",
                ),
                Param("min_samples", "int", 3, 1, 1000, help="points needed within eps to start a cluster"),
            ),
            "Dense regions become clusters, isolated points are noise. eps decides everything: use the k-distance helper.",
            _dbscan,
        ),
        Algorithm(
            "hdbscan",
            "HDBSCAN",
            (
                Param("min_cluster_size", "int", 5, 2, 10_000, help="smallest group counted as a cluster"),
                Param("min_samples", "int", 0, 0, 1000, help="how conservative (0 = same as min_cluster_size)"),
            ),
            "DBSCAN over all densities at once; no eps to choose, gives outlier scores.",
            _hdbscan,
        ),
        Algorithm(
            "chinese_whispers",
            "Chinese whispers (identity)",
            (
                Param(
                    "threshold", "float", 0.0, 0.0, 10.0, help="link faces closer than this (0 = chosen from the data)"
                ),
            ),
            "Graph clustering for face identities: faces closer than the threshold are linked and labels spread.",
            _chinese_whispers,
        ),
        Algorithm(
            "rerank",
            "Face identities (re-ranked)",
            (
                Param(
                    "threshold",
                    "float",
                    0.55,
                    0.05,
                    1.0,
                    help="cut on the re-ranked distance (0.4-0.7 all work well on dlib faces)",
                ),
                Param(
                    "k1",
                    "int",
                    20,
                    2,
                    200,
                    help="neighbours considered (about the typical number of photos per person)",
                ),
            ),
            "Best for grouping faces by person: k-reciprocal re-ranking of the distances, then average linkage. Up to 5,000 points.",
            lambda X, p, seed: Fit(reranked_identities(X, float(p["threshold"]), int(p["k1"]))),
        ),
    )
}


def algorithm(name: str) -> Algorithm:
    """The registry entry for name, or ParameterError listing the choices."""
    if name not in ALGORITHMS:
        raise ParameterError(f"Unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}.")
    return ALGORITHMS[name]


def default_params(name: str) -> dict:
    return {p.name: p.default for p in algorithm(name).params}


def checked_params(name: str, params: dict) -> dict:
    """The parameters set for algorithm `name`, each checked by its Param (and the linkage with its metric)."""
    entry = algorithm(name)
    own = {p.name: p for p in entry.params}
    unknown = sorted(set(params) - set(own))
    if unknown:
        raise ParameterError(f"{entry.label} has no parameter {', '.join(unknown)}.")
    checked = {key: own[key].check(value) for key, value in params.items()}
    if name == "agglomerative":
        every = default_params(name) | checked
        check_linkage(every["linkage"], every["metric"])
    return checked


@dataclass(frozen=True)
class ClusterSpec:
    """An algorithm by name and its parameters (hashable: a cache key); those not given take their defaults.

    Always valid and complete: construction checks the name and every parameter given (ParameterError, one
    sentence) and fills in the others, so one clustering has one spec. This is the one place parameters go from a
    dict to sorted (name, value) pairs (`of`) and back (`values`).
    """

    algorithm: str = "kmeans"
    params: tuple[tuple[str, object], ...] = ()  # sorted (name, value) pairs, every parameter of the algorithm

    def __post_init__(self) -> None:
        every = default_params(self.algorithm) | checked_params(self.algorithm, dict(self.params))
        object.__setattr__(self, "params", tuple(sorted(every.items())))

    @classmethod
    def of(cls, algorithm: str, **params) -> ClusterSpec:
        return cls(algorithm, tuple(params.items()))

    @property
    def values(self) -> dict:
        """{name: value} of every parameter of the algorithm."""
        return dict(self.params)

    def param(self, name: str):
        """The value of parameter `name` (None when the algorithm has no such parameter)."""
        return self.values.get(name)

    def to_json(self) -> str:
        """JSON for a background job's command line (ClusterSpec.from_json reads it back, checked again)."""
        return json.dumps({"algorithm": self.algorithm, "params": self.params}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ClusterSpec:
        raw = json.loads(text)
        return cls(raw["algorithm"], tuple(tuple(p) for p in raw["params"]))


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # (n,) int64, -1 = noise
    algorithm: str
    params: dict
    outlier_scores: np.ndarray | None = None  # (n,) float, HDBSCAN only
    inertia: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)  # what was chosen for the user (eps, threshold, method)
    warnings: tuple[str, ...] = field(default_factory=tuple)  # what is probably wrong (one cluster holds most points)

    @property
    def n_clusters(self) -> int:
        return len(np.unique(self.labels[self.labels >= 0]))

    @property
    def noise_fraction(self) -> float:
        return float((self.labels < 0).mean()) if len(self.labels) else 0.0


def chinese_whispers(X: np.ndarray, threshold: float) -> np.ndarray:
    """(n,) labels from dlib's Chinese whispers over the graph of pairs closer than threshold (euclidean).

    Same graph as dlib.chinese_whispers_clustering (every pair closer than threshold, plus
    self-loops, identical labels), but the edges come from a radius-neighbour search
    instead of dlib's loop over all pairs.
    """
    import dlib
    from scipy import sparse
    from sklearn.neighbors import NearestNeighbors

    n = len(X)
    if n > CHINESE_WHISPERS_MAX_POINTS:
        raise ValueError(
            f"Chinese whispers is limited to {CHINESE_WHISPERS_MAX_POINTS:,} points; lower the maximum number of points."
        )
    graph = NearestNeighbors(radius=float(threshold)).fit(X).radius_neighbors_graph(X, mode="connectivity")
    upper = sparse.triu(graph, k=1).tocoo()
    edges = list(zip(upper.row.tolist(), upper.col.tolist())) + [(i, i) for i in range(n)]
    return np.asarray(dlib.chinese_whispers(edges), np.int64)


IDENTITY_ALGORITHMS = ("chinese_whispers", "rerank")  # link faces closer than a same-person distance


def identity_on_attributes_warning(algorithm: str, space: str, labels: np.ndarray) -> str | None:
    """Why an identity algorithm finds hundreds of groups on attribute labels (None for other algorithms or spaces).

    Those algorithms link two faces when they are as close as two photos of one person, a distance face embeddings
    are trained to have; on 0/1 labels it links only faces whose labels (almost) all agree.
    """
    if algorithm not in IDENTITY_ALGORITHMS or space == "embeddings":
        return None
    found = len(np.unique(labels[labels >= 0]))
    return (
        f"{ALGORITHMS[algorithm].label} groups faces by person, which needs face embeddings: on attribute labels it "
        f"links only faces whose labels (almost) all agree, hence {found:,} groups of {len(labels):,} faces. To group "
        "by attributes, use k-means, HDBSCAN or agglomerative."
    )


def dominant_cluster_warning(labels: np.ndarray) -> str | None:
    """A warning when one cluster holds more than DOMINANT_SHARE of the points (eps/threshold too large)."""
    kept = labels[labels >= 0]
    if not len(kept) or len(labels) < 10:
        return None
    share = np.bincount(kept).max() / len(labels)
    if (share > DOMINANT_SHARE and len(np.unique(kept)) > 1) or share > 0.9:
        return (
            f"One cluster holds {share:.0%} of the points: the radius/threshold is probably too large "
            "(points of different groups get chained together). Lower eps or the threshold."
        )
    return None


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 by decreasing cluster size; noise stays -1."""
    labels = np.asarray(labels, np.int64)
    out = np.full(len(labels), -1, np.int64)
    kept = labels >= 0
    if kept.any():
        _uniq, inverse, counts = np.unique(labels[kept], return_inverse=True, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        out[kept] = rank[inverse]
    return out


def cluster_by(X: np.ndarray, spec: ClusterSpec, seed: int = 0) -> Clustering:
    """Cluster (n, d) float X as `spec` says (a valid spec: its parameters were checked when it was made).

    dbscan eps=0 and chinese_whispers threshold=0 are replaced by values suggested from the data
    (core.cluster.metrics.suggest_eps / suggest_threshold); Clustering.params holds the values used.
    """
    params = spec.values
    fit = ALGORITHMS[spec.algorithm].fit(np.asarray(X, np.float32), params, seed)
    labels = _relabel(fit.labels)
    warning = dominant_cluster_warning(labels)
    return Clustering(
        labels,
        spec.algorithm,
        params | fit.chosen,
        fit.outlier_scores,
        fit.inertia,
        fit.notes,
        (warning,) if warning else (),
    )


def cluster(X: np.ndarray, name: str, seed: int = 0, **params) -> Clustering:
    """Cluster (n, d) float X with the named algorithm; parameters default as in ALGORITHMS (see cluster_by)."""
    return cluster_by(X, ClusterSpec.of(name, **params), seed=seed)
