"""Exact nearest-neighbour search with numpy: embeddings (cosine / euclidean) and attribute vectors (Hamming).

Every function returns (rows, distances) sorted nearest first. Rows without a
face (mask False) are never returned; `exclude` drops the query's own row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRICS = ("euclidean", "cosine")


@dataclass(frozen=True)
class EmbeddingIndex:
    """Embeddings prepared once for fast queries: float32 vectors, squared norms, unit vectors."""

    vectors: np.ndarray  # (N, D) float32
    sq_norms: np.ndarray  # (N,) float32
    unit: np.ndarray  # (N, D) float32, rows scaled to norm 1 (zero rows stay zero)
    mask: np.ndarray  # (N,) bool: rows that may be returned


def build_index(vectors: np.ndarray, mask: np.ndarray | None = None) -> EmbeddingIndex:
    """Precompute norms and unit vectors of (N, D) embeddings; mask (N,) bool marks usable rows."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    sq = np.einsum("ij,ij->i", v, v)
    norms = np.sqrt(sq)
    unit = v / np.where(norms > 0, norms, 1.0)[:, None]
    m = np.ones(len(v), bool) if mask is None else np.asarray(mask, bool)
    if len(m) != len(v):
        raise ValueError(f"mask has {len(m)} rows, vectors {len(v)}")
    return EmbeddingIndex(v, sq, unit.astype(np.float32), m)


def distances(index: EmbeddingIndex, query: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """(N,) float32 distances from one (D,) query to every row (inf where masked)."""
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {METRICS}.")
    q = np.asarray(query, np.float32).ravel()
    if metric == "euclidean":
        d2 = index.sq_norms - 2.0 * (index.vectors @ q) + float(q @ q)
        d = np.sqrt(np.maximum(d2, 0.0))
    else:
        qn = float(np.linalg.norm(q))
        d = 1.0 - index.unit @ (q / qn if qn > 0 else q)
    return np.where(index.mask, d, np.inf).astype(np.float32)


def top_k(dist: np.ndarray, k: int, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest finite entries of (N,) distances: (rows int64, distances) nearest first, ties by row."""
    dist = np.asarray(dist)
    if exclude is not None:
        dist = dist.copy()
        dist[exclude] = np.inf
    n_valid = int(np.isfinite(dist).sum())
    k = max(0, min(int(k), n_valid))
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, dist.dtype)
    if k < len(dist):
        kth = dist[np.argpartition(dist, k - 1)[k - 1]]
        below = np.flatnonzero(dist < kth)
        at = np.flatnonzero(dist == kth)[: k - len(below)]
        part = np.concatenate([below, at])
    else:
        part = np.flatnonzero(np.isfinite(dist))
    rows = part[np.lexsort((part, dist[part]))]
    return rows.astype(np.int64), dist[rows]


def exact_distances(vectors: np.ndarray, rows: np.ndarray, query: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """(len(rows),) float64 distances from the query to vectors[rows], computed directly in float64.

    Unlike `distances` (float32, one BLAS product for speed), the result does not depend on which BLAS kernel
    the CPU runs: a face's distance to itself is exactly 0.
    """
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {METRICS}.")
    v = np.asarray(vectors[rows], np.float64)
    q = np.asarray(query, np.float64).ravel()
    if metric == "euclidean":
        return np.sqrt(((v - q) ** 2).sum(axis=1))
    norms = np.linalg.norm(v, axis=1) * np.linalg.norm(q)
    cos = np.divide(v @ q, norms, out=np.zeros(len(v)), where=norms > 0)
    return 1.0 - cos


def nearest(
    index: EmbeddingIndex, query: np.ndarray, k: int = 10, metric: str = "euclidean", exclude: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest rows to a (D,) query vector: (rows, float64 distances) nearest first, ties by row.

    A fast float32 pass picks candidates (k plus a margin, so float32 rounding cannot push a true neighbour
    out); their distances are then recomputed exactly in float64 and re-ranked.
    """
    candidates, _ = top_k(distances(index, query, metric), int(k) + max(16, int(k)), exclude)
    exact = exact_distances(index.vectors, candidates, query, metric)
    order = np.lexsort((candidates, exact))[: max(0, int(k))]
    return candidates[order], exact[order]


def hamming_distances(attributes: np.ndarray, query: np.ndarray) -> np.ndarray:
    """(N,) int32 number of differing attributes between (N, A) 0/1 rows and a (A,) 0/1 query."""
    a = np.asarray(attributes, np.uint8)
    q = np.asarray(query, np.uint8).ravel()
    if a.shape[1] != len(q):
        raise ValueError(f"query has {len(q)} attributes, the table {a.shape[1]}")
    packed = np.packbits(a.astype(bool), axis=1)
    q_packed = np.packbits(q.astype(bool))
    return np.bitwise_count(packed ^ q_packed).sum(axis=1, dtype=np.int32)


def nearest_by_attributes(
    attributes: np.ndarray, query: np.ndarray, k: int = 10, exclude: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """k rows with the fewest differing attributes: (rows, Hamming distances) nearest first, ties by row."""
    return top_k(hamming_distances(attributes, query).astype(np.float32), k, exclude)
