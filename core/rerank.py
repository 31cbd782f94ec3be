"""k-reciprocal re-ranking of face distances (Zhong et al., CVPR 2017), for identity clustering.

Two faces of one person tend to be in each other's k nearest neighbours (k-reciprocal);
a look-alike of another person usually is not. The re-ranked distance mixes the
Jaccard distance between the points' (expanded, weighted) k-reciprocal sets with the
original distance: d* = (1 - lam) * d_jaccard + lam * d. It separates identities far
more evenly than raw distances, so one threshold works across a wide range (measured
in docs/bench/cluster.md). Cost: O(n^2) memory for the distance matrix; capped.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

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


def k_reciprocal_distances(X: np.ndarray, k1: int = 20, k2: int = 6, lam: float = 0.3) -> np.ndarray:
    """(n, n) float64 re-ranked distance matrix of (n, d) X (euclidean base distance)."""
    n = len(X)
    if n > RERANK_MAX_POINTS:
        raise ValueError(f"Re-ranking is limited to {RERANK_MAX_POINTS:,} points; lower the maximum number of points.")
    D = _pairwise(X)
    k1 = max(1, min(k1, n - 1))
    order = np.argsort(D, axis=1, kind="stable")[:, : k1 + 1]
    V = np.zeros((n, n), np.float64)
    half = max(1, int(round(k1 / 2)))
    for i in range(n):
        R = _reciprocal(order, i, k1)
        expanded = R
        for c in R:
            Rc = _reciprocal(order, c, half)
            if len(np.intersect1d(Rc, R, assume_unique=True)) > 2 / 3 * len(Rc):
                expanded = np.union1d(expanded, Rc)
        w = np.exp(-D[i, expanded] ** 2)
        V[i, expanded] = w / w.sum()
    if k2 > 1:  # local query expansion: average with the nearest k2 neighbours' vectors
        V = V[order[:, : min(k2, n)]].mean(axis=1)
    return (1 - lam) * _jaccard(V) + lam * D


def _jaccard(V: np.ndarray) -> np.ndarray:
    """1 - sum(min) / sum(max) between the rows of a sparse-ish non-negative matrix, via an inverted index."""
    n = len(V)
    postings = [np.flatnonzero(V[:, c]) for c in range(V.shape[1])]
    J = np.ones((n, n), np.float64)
    for i in range(n):
        shared = np.zeros(n)
        for c in np.flatnonzero(V[i]):
            rows = postings[c]
            shared[rows] += np.minimum(V[i, c], V[rows, c])
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
    R = (R + R.T) / 2
    np.fill_diagonal(R, 0)
    Z = linkage(squareform(R, checks=False), method="average")
    return fcluster(Z, t=threshold, criterion="distance").astype(np.int64) - 1
