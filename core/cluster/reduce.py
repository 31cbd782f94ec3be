"""Dimensionality reduction before clustering and for 2-D maps: PCA, UMAP, t-SNE, by name."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from core.cluster.numba_cache import cache_library_code

# Lazy imports: scikit-learn, umap-learn are imported inside the functions that use them, so pages and commands that
# never call them do not pay their import time and memory on a shared server.

REDUCERS = ("none", "pca", "umap", "tsne")
MAP_METHODS = ("pca", "umap", "tsne")
TSNE_MAX_POINTS = 5_000  # t-SNE is O(n log n) but slow in practice; larger inputs are sampled
UMAP_METRICS = ("euclidean", "cosine", "manhattan")
# Spectral initialisation lays out each connected piece of the neighbour graph separately: on the
# 202,599-point stand-in (thousands of pieces, one per identity) it took 3 of UMAP's 4.5 minutes.
# PCA initialisation gave the same map quality there (10-NN identity agreement 0.9925 vs 0.9926).
UMAP_SPECTRAL_MAX_POINTS = 20_000


@dataclass(frozen=True)
class ReductionSpec:
    """A reduction before clustering (hashable: a cache key)."""

    method: str = "none"  # none | pca | umap
    n_components: float = 0  # PCA: a count, or a share of the variance in (0, 1); UMAP: a count
    params: tuple[tuple[str, object], ...] = ()  # sorted (name, value) pairs, e.g. UMAP's n_neighbors

    @classmethod
    def of(cls, method: str, n_components: float = 0, **params) -> ReductionSpec:
        return cls(method, n_components, tuple(sorted(params.items())))

    @property
    def values(self) -> dict:
        """The method's own parameters (UMAP's metric, min_dist, n_neighbors) as a dict."""
        return dict(self.params)

    def to_json(self) -> str:
        """JSON for a background job's command line (ReductionSpec.from_json reads it back)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReductionSpec:
        raw = json.loads(text)
        return cls(raw["method"], raw["n_components"], tuple(tuple(p) for p in raw["params"]))


@dataclass(frozen=True)
class Reduction:
    coords: np.ndarray  # (n, k) float32
    method: str
    n_components: int
    note: str = ""  # what a user should know (components kept, variance, caps)


def _check(method: str) -> None:
    if method not in REDUCERS:
        raise ValueError(f"Unknown reduction {method!r}; choose one of {', '.join(REDUCERS)}.")


def pca(X: np.ndarray, n_components: float = 0.95, seed: int = 0) -> Reduction:
    """PCA to an int number of components, or a float in (0, 1): keep that share of variance."""
    from sklearn.decomposition import PCA

    limit = min(X.shape)
    if isinstance(n_components, float) and 0 < n_components < 1:
        model = PCA(n_components=n_components, svd_solver="full", random_state=seed)
    else:
        model = PCA(n_components=max(1, min(int(n_components), limit)), random_state=seed)
    Y = model.fit_transform(X).astype(np.float32)
    kept = int(model.n_components_)
    share = float(model.explained_variance_ratio_.sum())
    return Reduction(Y, "pca", kept, f"PCA kept {kept} components ({share:.1%} of the variance).")


def umap(
    X: np.ndarray,
    n_components: int = 2,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
    seed: int | None = 0,
) -> Reduction:
    """UMAP (umap-learn). seed=None lets it run in parallel (faster, not reproducible).

    Spectral initialisation up to UMAP_SPECTRAL_MAX_POINTS points, PCA initialisation beyond.
    """
    import umap as umap_learn

    cache_library_code()
    if metric not in UMAP_METRICS:
        raise ValueError(f"Unknown UMAP metric {metric!r}; choose one of {', '.join(UMAP_METRICS)}.")
    n_neighbors = max(2, min(n_neighbors, len(X) - 1))
    model = umap_learn.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric=metric,
        random_state=seed,
        low_memory=True,
        n_jobs=1 if seed is not None else -1,
        init="spectral" if len(X) <= UMAP_SPECTRAL_MAX_POINTS else "pca",
    )
    Y = model.fit_transform(X).astype(np.float32)
    return Reduction(
        Y, "umap", n_components, f"UMAP to {n_components}-D ({n_neighbors} neighbours, min_dist {min_dist}, {metric})."
    )


def tsne(X: np.ndarray, n_components: int = 2, perplexity: float = 30.0, seed: int = 0) -> Reduction:
    """t-SNE (scikit-learn); callers cap the input at TSNE_MAX_POINTS."""
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, max(2.0, (len(X) - 1) / 3))
    Y = TSNE(n_components=n_components, perplexity=perplexity, init="pca", random_state=seed).fit_transform(X)
    return Reduction(Y.astype(np.float32), "tsne", n_components, f"t-SNE (perplexity {perplexity:g}).")


def reduce(X: np.ndarray, method: str = "none", n_components: float = 2, seed: int = 0, **params) -> Reduction:
    """Reduce (n, d) X by name: none | pca | umap | tsne; unknown names raise ValueError listing choices."""
    _check(method)
    if method == "none":
        return Reduction(np.asarray(X, np.float32), "none", X.shape[1], "")
    if method == "pca":
        return pca(X, n_components, seed=seed)
    if method == "umap":
        return umap(X, int(n_components), seed=seed, **params)
    return tsne(X, int(n_components), seed=seed, **params)


def reduce_by(X: np.ndarray, spec: ReductionSpec, seed: int = 0) -> Reduction:
    """Reduce X as `spec` says (see reduce)."""
    return reduce(X, spec.method, spec.n_components, seed=seed, **spec.values)


def map_2d(X: np.ndarray, method: str = "pca", seed: int = 0, **params) -> Reduction:
    """2-D coordinates for the scatter map; t-SNE inputs larger than TSNE_MAX_POINTS are refused."""
    if method not in MAP_METHODS:
        raise ValueError(f"Unknown map projection {method!r}; choose one of {', '.join(MAP_METHODS)}.")
    if method == "tsne" and len(X) > TSNE_MAX_POINTS:
        raise ValueError(f"t-SNE maps are limited to {TSNE_MAX_POINTS:,} points; lower the maximum number of points.")
    if X.shape[1] <= 2 and method == "pca":
        pad = np.zeros((len(X), 2), np.float32)
        pad[:, : X.shape[1]] = X
        return Reduction(pad, "pca", 2, "")
    return reduce(X, method, 2, seed=seed, **params)
