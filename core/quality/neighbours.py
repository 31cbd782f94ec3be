"""Every pair of rows closer than a small radius, without comparing all pairs (an inverted-file search).

Near-duplicates are far closer to each other than to anything else, so a coarse partition finds them:
k-means cells over the rows (about sqrt(N) of them, fitted on a sample), each row filed in its nearest cell
and compared only with the rows of its `probes` nearest cells. A pair is missed only when neither row has
the other's cell among its nearest probes; on the CelebA-size stand-in with planted copies that never
happened at 4 probes (bench/bench_quality.py measures the recall against the brute-force search here).
Candidate distances come from float32 matrix products, with slack; every kept pair is re-measured in
float64, so the pairs and distances returned do not depend on the machine's BLAS kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.distances import pair_distances

EXACT_BELOW = 6_000  # fewer rows than this: compare all pairs (cheaper than building cells)
PROBES = 4  # cells each row is compared with
KMEANS_ITERATIONS = 8
KMEANS_SAMPLE_PER_CELL = 40
BLOCK = 2_048  # rows per matrix product block
SLACK = 1e-3  # float32 candidate filter margin (euclidean units) before the float64 re-measure


@dataclass(frozen=True)
class ClosePairs:
    """Pairs of row indices (a < b) and their euclidean distances, sorted by (a, b)."""

    a: np.ndarray  # (m,) int64
    b: np.ndarray  # (m,) int64
    distance: np.ndarray  # (m,) float64

    def __len__(self) -> int:
        return len(self.a)


def _empty() -> ClosePairs:
    return ClosePairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


def _finish(X: np.ndarray, a: list, b: list, radius: float) -> ClosePairs:
    """Unique (a < b) candidate pairs, re-measured in float64 and kept when within radius."""
    if not a:
        return _empty()
    a, b = np.concatenate(a), np.concatenate(b)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    codes = np.unique(lo[keep] * np.int64(len(X)) + hi[keep])
    lo, hi = codes // len(X), codes % len(X)
    dist = pair_distances(X, lo, hi)
    within = dist <= radius
    return ClosePairs(lo[within], hi[within], dist[within])


def _block_pairs(X32, sq, rows_a, rows_b, radius: float, same: bool):
    """Candidate pairs between two row sets (float32 products, with slack); `same`: a set against itself."""
    limit = (radius + SLACK) ** 2
    out_a, out_b = [], []
    for start in range(0, len(rows_a), BLOCK):
        qa = rows_a[start : start + BLOCK]
        d2 = sq[qa][:, None] - 2.0 * (X32[qa] @ X32[rows_b].T) + sq[rows_b][None, :]
        i, j = np.nonzero(d2 <= limit)
        if same:
            keep = qa[i] < rows_b[j]
            i, j = i[keep], j[keep]
        out_a.append(qa[i])
        out_b.append(rows_b[j])
    return out_a, out_b


def close_pairs_exact(X: np.ndarray, radius: float) -> ClosePairs:
    """Every pair of rows of (N, D) X within `radius` (euclidean), comparing all N^2 / 2 pairs (the baseline)."""
    X32 = np.ascontiguousarray(X, np.float32)
    sq = np.einsum("ij,ij->i", X32, X32)
    rows = np.arange(len(X32))
    a, b = _block_pairs(X32, sq, rows, rows, radius, same=True)
    return _finish(X, a, b, radius)


def kmeans_cells(X32: np.ndarray, cells: int, seed: int = 0) -> np.ndarray:
    """(cells, D) float32 centres: Lloyd's algorithm on a seeded sample (a coarse partition, not a clustering)."""
    rng = np.random.default_rng(seed)
    sample = X32[np.sort(rng.choice(len(X32), min(len(X32), cells * KMEANS_SAMPLE_PER_CELL), replace=False))]
    centres = sample[rng.choice(len(sample), cells, replace=False)].copy()
    for _ in range(KMEANS_ITERATIONS):
        nearest = _nearest_cells(sample, centres, 1)[:, 0]
        sums = np.zeros_like(centres)
        np.add.at(sums, nearest, sample)
        counts = np.bincount(nearest, minlength=cells)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return centres


def _nearest_cells(X32: np.ndarray, centres: np.ndarray, k: int) -> np.ndarray:
    """(N, k) int64 indices of each row's k nearest centres, nearest first."""
    csq = np.einsum("ij,ij->i", centres, centres)
    out = np.empty((len(X32), k), np.int64)
    for start in range(0, len(X32), BLOCK * 4):
        block = X32[start : start + BLOCK * 4]
        d2 = csq[None, :] - 2.0 * (block @ centres.T)  # the row's own norm does not change its ranking
        part = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < len(centres) else np.argsort(d2, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d2, part, axis=1), axis=1, kind="stable")
        out[start : start + len(block)] = np.take_along_axis(part, order, axis=1)
    return out


def close_pairs(X: np.ndarray, radius: float, probes: int = PROBES, seed: int = 0) -> ClosePairs:
    """Pairs of rows of (N, D) X within `radius` (euclidean), found through k-means cells instead of all pairs."""
    n = len(X)
    if n < 2:
        return _empty()
    if n < EXACT_BELOW:
        return close_pairs_exact(X, radius)
    X32 = np.ascontiguousarray(X, np.float32)
    sq = np.einsum("ij,ij->i", X32, X32)
    cells = int(np.clip(round(np.sqrt(n)), 2, 4_096))
    centres = kmeans_cells(X32, cells, seed)
    near = _nearest_cells(X32, centres, min(probes, cells))
    home = near[:, 0]
    order = np.argsort(home, kind="stable")
    bounds = np.searchsorted(home[order], np.arange(cells + 1))
    members = [order[bounds[c] : bounds[c + 1]] for c in range(cells)]
    # Rows probing cell c (as any of their nearest cells) are compared with the rows filed in c.
    probe_rows = np.repeat(np.arange(n), near.shape[1])
    probe_cells = near.ravel()
    porder = np.argsort(probe_cells, kind="stable")
    pbounds = np.searchsorted(probe_cells[porder], np.arange(cells + 1))
    out_a, out_b = [], []
    for c in range(cells):
        queries = probe_rows[porder[pbounds[c] : pbounds[c + 1]]]
        if len(members[c]) and len(queries):
            a, b = _block_pairs(X32, sq, queries, members[c], radius, same=False)
            out_a += a
            out_b += b
    return _finish(X, out_a, out_b, radius)
