"""k-reciprocal re-ranking of face distances (Zhong et al., CVPR 2017), for identity clustering.

Two faces of one person tend to be in each other's k nearest neighbours (k-reciprocal);
a look-alike of another person usually is not. The re-ranked distance mixes the
Jaccard distance between the points' (expanded, weighted) k-reciprocal sets with the
original distance: d* = (1 - lam) * d_jaccard + lam * d. It separates identities far
more evenly than raw distances, so one threshold works across a wide range (measured
in docs/bench/cluster.md). Cost: O(n^2) memory for the distance matrix; capped.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

# Lazy imports: SciPy's submodules are imported inside the functions that use them, so pages and commands that never
# call them do not pay their import time and memory on a shared server.

RERANK_MAX_POINTS = 5_000


def _pairwise(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, np.float64)
    sq = (X**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0)
    np.fill_diagonal(d2, 0)
    return np.sqrt(d2)


def _reciprocal(order: np.ndarray, i: int, k: int) -> np.ndarray:
    forward = order[i, : k + 1]
    backward = order[forward, : k + 1]
    return forward[np.any(backward == i, axis=1)]


def _encoding(D: np.ndarray, order: np.ndarray, k1: int) -> sparse.csr_matrix:
    """(n, n) sparse rows: each point's expanded k-reciprocal set weighted by exp(-d^2), summing to 1."""
    n = len(D)
    half = max(1, round(k1 / 2))
    rows, cols, vals = [], [], []
    for i in range(n):
        R = _reciprocal(order, i, k1)
        expanded = R
        for c in R:
            Rc = _reciprocal(order, c, half)
            if len(np.intersect1d(Rc, R, assume_unique=True)) > 2 / 3 * len(Rc):
                expanded = np.union1d(expanded, Rc)
        w = np.exp(-(D[i, expanded] ** 2))
        rows.append(np.full(len(expanded), i))
        cols.append(expanded)
        vals.append(w / w.sum())
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def k_reciprocal_distances(X: np.ndarray, k1: int = 20, k2: int = 6, lam: float = 0.3) -> np.ndarray:
    """(n, n) float64 re-ranked distance matrix of (n, d) X (euclidean base distance).

    The encodings are sparse (a few dozen entries per row), so the only dense n x n arrays
    are the distances and the result: 5,000 points peak at ~0.7 GB instead of ~1.9 GB.
    """
    n = len(X)
    if n > RERANK_MAX_POINTS:
        raise ValueError(f"Re-ranking is limited to {RERANK_MAX_POINTS:,} points; lower the maximum number of points.")
    D = _pairwise(X)
    k1 = max(1, min(k1, n - 1))
    order = np.argsort(D, axis=1, kind="stable")[:, : k1 + 1]
    V = _encoding(D, order, k1)
    if k2 > 1:  # local query expansion: average with the nearest k2 neighbours' encodings
        k2 = min(k2, n)
        expand = sparse.csr_matrix(
            (np.full(n * k2, 1 / k2), (np.repeat(np.arange(n), k2), order[:, :k2].ravel())), shape=(n, n)
        )
        V = expand @ V
    J = _jaccard(V)
    J *= 1 - lam
    D *= lam
    J += D
    return J


def _jaccard(V: sparse.csr_matrix) -> np.ndarray:
    """1 - sum(min) / sum(max) between the rows of a sparse non-negative matrix whose rows sum to 1."""
    n = V.shape[0]
    by_column = V.tocsc()
    J = np.empty((n, n), np.float64)
    shared = np.zeros(n)
    for i in range(n):
        shared[:] = 0
        for c, value in zip(V.indices[V.indptr[i] : V.indptr[i + 1]], V.data[V.indptr[i] : V.indptr[i + 1]]):
            lo, hi = by_column.indptr[c], by_column.indptr[c + 1]
            rows = by_column.indices[lo:hi]
            shared[rows] += np.minimum(value, by_column.data[lo:hi])
        J[i] = 1 - shared / (2 - shared)
    np.fill_diagonal(J, 0)
    return J


def reranked_identities(X: np.ndarray, threshold: float = 0.55, k1: int = 20) -> np.ndarray:
    """(n,) identity labels: average-linkage clustering of the k-reciprocal re-ranked distances cut at threshold."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    if len(X) < 2:
        return np.zeros(len(X), np.int64)
    R = k_reciprocal_distances(X, k1=k1)
    R += R.T  # numpy buffers the overlapping transpose
    R /= 2
    np.maximum(
        R, 0, out=R
    )  # identical points (attribute vectors): rounding leaves a Jaccard of -1e-16, refused by linkage
    np.fill_diagonal(R, 0)
    Z = linkage(squareform(R, checks=False), method="average")
    return fcluster(Z, t=threshold, criterion="distance").astype(np.int64) - 1
