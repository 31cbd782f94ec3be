"""Clustering algorithms by name, each returning one label per point (-1 = noise).

Registry: kmeans, minibatch, agglomerative, dbscan, hdbscan, chinese_whispers, rerank (identity
clustering with k-reciprocal re-ranking, core.cluster.rerank).
`cluster(X, "dbscan", eps=...)` validates parameters and returns a Clustering;
an unknown name raises ValueError listing the choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.cluster.hdbscan_knn import hdbscan_knn
from core.cluster.metrics import suggest_eps, suggest_threshold
from core.cluster.rerank import reranked_identities

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
    """One algorithm parameter as the page and the command line show it."""

    name: str
    kind: str  # int | float | choice
    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class Algorithm:
    name: str
    label: str
    params: tuple[Param, ...]
    description: str


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "kmeans",
            "k-means",
            (Param("k", "int", 8, 2, 2000, help="number of clusters"),),
            "Splits points into k round groups of similar size.",
        ),
        Algorithm(
            "minibatch",
            "Mini-batch k-means",
            (Param("k", "int", 8, 2, 2000, help="number of clusters"),),
            "k-means on small random batches: much faster on large data, slightly less exact.",
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
        ),
        Algorithm(
            "hdbscan",
            "HDBSCAN",
            (
                Param("min_cluster_size", "int", 5, 2, 10_000, help="smallest group counted as a cluster"),
                Param("min_samples", "int", 0, 0, 1000, help="how conservative (0 = same as min_cluster_size)"),
            ),
            "DBSCAN over all densities at once; no eps to choose, gives outlier scores.",
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
        ),
    )
}


@dataclass(frozen=True)
class ClusterSpec:
    """An algorithm by name and the parameters set (hashable: a cache key); others keep their defaults."""

    algorithm: str = "kmeans"
    params: tuple[tuple[str, object], ...] = ()  # sorted (name, value) pairs

    @classmethod
    def of(cls, algorithm: str, **params) -> ClusterSpec:
        return cls(algorithm, tuple(sorted(params.items())))

    def param(self, name: str):
        """The value set for `name`, else the algorithm's default."""
        return dict(self.params).get(name, default_params(self.algorithm).get(name))


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # (n,) int64, -1 = noise
    algorithm: str
    params: dict
    outlier_scores: np.ndarray | None = None  # (n,) float, HDBSCAN only
    inertia: float | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_clusters(self) -> int:
        return len(np.unique(self.labels[self.labels >= 0]))

    @property
    def noise_fraction(self) -> float:
        return float((self.labels < 0).mean()) if len(self.labels) else 0.0


def algorithm(name: str) -> Algorithm:
    """The registry entry for name, or ValueError listing the choices."""
    if name not in ALGORITHMS:
        raise ValueError(f"Unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}.")
    return ALGORITHMS[name]


def default_params(name: str) -> dict:
    return {p.name: p.default for p in algorithm(name).params}


def check_linkage(linkage: str, metric: str) -> None:
    """ValueError unless the linkage/metric pair is valid (ward only with euclidean)."""
    if linkage not in LINKAGES:
        raise ValueError(f"Unknown linkage {linkage!r}; choose one of {', '.join(LINKAGES)}.")
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    if linkage == "ward" and metric != "euclidean":
        raise ValueError("Ward linkage works only with the euclidean metric; choose another linkage or euclidean.")


def _kmeans(X, k, seed, minibatch=False):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    k = int(min(k, len(X)))
    if minibatch:
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
        labels = model.fit_predict(X)
        return labels, float(model.inertia_)
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
    return labels, float(model.inertia_)


def _agglomerative(X, k, distance_threshold, linkage, metric):
    from sklearn.cluster import AgglomerativeClustering

    check_linkage(linkage, metric)
    if len(X) > AGGLOMERATIVE_MAX_POINTS:
        raise ValueError(
            f"Agglomerative clustering is limited to {AGGLOMERATIVE_MAX_POINTS:,} points; lower the maximum number of points."
        )
    if distance_threshold and distance_threshold > 0:
        model = AgglomerativeClustering(
            n_clusters=None, distance_threshold=distance_threshold, linkage=linkage, metric=metric
        )
    else:
        model = AgglomerativeClustering(n_clusters=int(min(k, len(X))), linkage=linkage, metric=metric)
    return model.fit_predict(X)


def _hdbscan(X, min_cluster_size, min_samples) -> tuple[np.ndarray, np.ndarray, str | None]:
    """(labels, outlier scores, note): hdbscan.HDBSCAN up to HDBSCAN_EXACT_MAX_POINTS, its k-NN tree beyond."""
    if len(X) > HDBSCAN_EXACT_MAX_POINTS:
        labels, scores = hdbscan_knn(X, int(min_cluster_size), int(min_samples) or None)
        return (
            labels,
            scores,
            (
                f"More than {HDBSCAN_EXACT_MAX_POINTS:,} points: HDBSCAN's tree was built from each point's "
                "nearest neighbours (much faster; matches the exact tree's clusters on the benchmarks)."
            ),
        )
    import hdbscan

    model = hdbscan.HDBSCAN(min_cluster_size=int(min_cluster_size), min_samples=int(min_samples) or None)
    labels = model.fit_predict(X)
    return labels, np.nan_to_num(np.asarray(model.outlier_scores_, np.float64)), None


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
    """Cluster X as `spec` says (see cluster)."""
    return cluster(X, spec.algorithm, seed=seed, **dict(spec.params))


def cluster(X: np.ndarray, name: str, seed: int = 0, **params) -> Clustering:
    """Cluster (n, d) float X with the named algorithm; parameters default as in ALGORITHMS.

    dbscan eps=0 and chinese_whispers threshold=0 are replaced by values suggested
    from the data (core.cluster_metrics.suggest_eps / suggest_threshold).
    """
    spec = algorithm(name)
    unknown = set(params) - {p.name for p in spec.params}
    if unknown:
        raise ValueError(f"{spec.label} has no parameter {', '.join(sorted(unknown))}.")
    p = default_params(name) | params
    X = np.asarray(X, np.float32)
    inertia, scores, notes = None, None, []
    if name in ("kmeans", "minibatch"):
        labels, inertia = _kmeans(X, p["k"], seed, minibatch=name == "minibatch")
    elif name == "agglomerative":
        labels = _agglomerative(X, p["k"], p["distance_threshold"], p["linkage"], p["metric"])
    elif name == "dbscan":
        from sklearn.cluster import DBSCAN

        if not p["eps"]:
            p["eps"] = suggest_eps(X, int(p["min_samples"]), seed=seed)
            notes.append(f"eps {p['eps']:.3f} was chosen from the knee of the k-distance curve.")
            if p["eps"] <= 0:  # most points have identical copies (0/1 attributes): group exact copies only
                p["eps"] = EPS_FLOOR
                notes.append("Most points have identical copies, so eps only groups identical points.")
        labels = DBSCAN(eps=float(p["eps"]), min_samples=int(p["min_samples"])).fit_predict(X)
    elif name == "hdbscan":
        labels, scores, note = _hdbscan(X, p["min_cluster_size"], p["min_samples"])
        notes += [note] if note else []
    elif name == "rerank":
        labels = reranked_identities(X, float(p["threshold"]), int(p["k1"]))
    else:
        if not p["threshold"]:
            p["threshold"] = suggest_threshold(X, seed=seed)
            notes.append(f"threshold {p['threshold']:.3f} was chosen from the data.")
        labels = chinese_whispers(X, p["threshold"])
    labels = _relabel(labels)
    warning = dominant_cluster_warning(labels)
    if warning:
        notes.append(warning)
    return Clustering(labels, name, p, scores, inertia, tuple(notes))
