"""What each cluster looks like: sizes, attribute shares, prominent/noisy attributes, centroids, mean face, eigenface."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import polars as pl

from core.data.images import open_rgb
from core.errors import ImageError

# Lazy imports: SciPy's submodules are imported inside the functions that use them, so pages and commands that never
# call them do not pay their import time and memory on a shared server.

log = logging.getLogger(__name__)

PROMINENT_SHARE = 0.8  # attribute present in at least this share of a cluster
NOISY_BAND = (0.35, 0.65)  # share close to a coin flip: the attribute does not characterise the cluster
FACE_SIZE = (64, 64)  # grayscale thumbnail size for mean faces and eigenfaces
MAX_FACES_PER_CLUSTER = (
    60  # a seeded sample for the mean face and eigenface: 200 full images took 1.2 s of every change
)


def cluster_sizes(labels: np.ndarray) -> pl.DataFrame:
    """cluster, size, share — largest first, noise (-1) last when present."""
    labels = np.asarray(labels)
    uniq, counts = np.unique(labels, return_counts=True)
    frame = pl.DataFrame({"cluster": uniq.astype(np.int64), "size": counts.astype(np.int64)})
    frame = frame.with_columns((pl.col("size") / len(labels)).alias("share"))
    return frame.sort([pl.col("cluster") < 0, pl.col("size")], descending=[False, True])


def cluster_means(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(clusters (k,), (k, d) float64 mean of X's rows per cluster); noise (-1) excluded.

    A sparse membership matrix times X: 5-13x faster than np.add.at on 202,599 x 128.
    """
    from scipy import sparse

    labels = np.asarray(labels)
    kept = np.flatnonzero(labels >= 0)
    clusters, member_of = np.unique(labels[kept], return_inverse=True)
    if not len(clusters):
        return clusters, np.zeros((0, np.shape(X)[1]))
    counts = np.bincount(member_of, minlength=len(clusters))
    weights = 1.0 / counts[member_of]
    membership = sparse.csr_matrix((weights, (member_of, kept)), shape=(len(clusters), len(labels)))
    return clusters, np.asarray(membership @ np.asarray(X, np.float64))


def attribute_shares(
    labels: np.ndarray, attributes: np.ndarray, names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(clusters (k,), shares (k, A) float) — share of each cluster's points with each attribute; noise excluded."""
    clusters, shares = cluster_means(attributes, labels)
    return clusters, shares if len(clusters) else np.zeros((0, len(names)))


def shares_long(clusters: np.ndarray, shares: np.ndarray, names: tuple[str, ...]) -> pl.DataFrame:
    """Heatmap data: one row per (cluster, attribute, share)."""
    k, a = shares.shape
    return pl.DataFrame(
        {
            "cluster": np.repeat(clusters, a).astype(np.int64),
            "attribute": list(names) * k,
            "share": shares.ravel(),
        }
    )


def describe_clusters(
    clusters: np.ndarray, shares: np.ndarray, names: tuple[str, ...], sizes: dict[int, int]
) -> pl.DataFrame:
    """cluster, size, prominent (share >= 0.8, by share) and noisy (share near 0.5) attribute lists."""
    rows = []
    for i, c in enumerate(clusters):
        order = np.argsort(-shares[i])
        prominent = [f"{names[j]} {shares[i, j]:.0%}" for j in order if shares[i, j] >= PROMINENT_SHARE]
        noisy = [names[j] for j in order if NOISY_BAND[0] <= shares[i, j] <= NOISY_BAND[1]]
        rows.append(
            {
                "cluster": int(c),
                "size": int(sizes.get(int(c), 0)),
                "prominent attributes": ", ".join(prominent) or "–",
                "noisy attributes": ", ".join(noisy) or "–",
            }
        )
    return pl.DataFrame(
        rows,
        schema={"cluster": pl.Int64, "size": pl.Int64, "prominent attributes": pl.Utf8, "noisy attributes": pl.Utf8},
    )


def centroid_distances(X: np.ndarray, labels: np.ndarray, largest: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(clusters (k,), (k, k) euclidean distances between cluster centroids); noise excluded.

    largest: only clusters 0..largest-1 (labels are numbered by decreasing size), so 10,000
    HDBSCAN clusters do not make a 10,000 x 10,000 matrix for a 30 x 30 heatmap.
    """
    labels = np.asarray(labels)
    if largest is not None:
        labels = np.where(labels < largest, labels, -1)
    clusters, centroids = cluster_means(X, labels)
    if not len(clusters):
        return clusters, np.zeros((0, 0))
    sq = (centroids**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * centroids @ centroids.T, 0)
    np.fill_diagonal(d2, 0)
    return clusters, np.sqrt(d2)


def gray_faces(paths: list, size: tuple[int, int] = FACE_SIZE, opener: Callable = open_rgb) -> np.ndarray:
    """(m, h*w) float32 grayscale pixels in [0, 1] of the images that open; unreadable ones are skipped."""
    out = []
    for path in paths:
        if path is None:
            continue
        try:
            img = opener(path).convert("L").resize(size)
        except ImageError as exc:
            log.info("skipping %s", exc)
            continue
        out.append(np.asarray(img, np.float32).ravel() / 255.0)
    return np.stack(out) if out else np.zeros((0, size[0] * size[1]), np.float32)


def mean_and_eigenface(
    pixels: np.ndarray, size: tuple[int, int] = FACE_SIZE
) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """(mean face (h,w) uint8, first eigenface (h,w) uint8 rescaled to 0..255, its variance share); None when too few."""
    if len(pixels) == 0:
        return None, None, 0.0
    h, w = size[1], size[0]
    mean = pixels.mean(axis=0)
    mean_img = np.clip(mean * 255, 0, 255).astype(np.uint8).reshape(h, w)
    if len(pixels) < 3:
        return mean_img, None, 0.0
    centred = pixels - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    first = vt[0]
    if first.sum() < 0:  # sign of an eigenvector is arbitrary: show mostly-bright
        first = -first
    span = first.max() - first.min() or 1.0
    eig_img = ((first - first.min()) / span * 255).astype(np.uint8).reshape(h, w)
    share = float(s[0] ** 2 / (s**2).sum()) if s.sum() else 0.0
    return mean_img, eig_img, share


def sample_members(labels: np.ndarray, cluster: int, n: int, seed: int = 0) -> np.ndarray:
    """Up to n positions (into labels) of one cluster's points, seeded."""
    members = np.flatnonzero(np.asarray(labels) == cluster)
    if len(members) <= n:
        return members
    return np.sort(np.random.default_rng(seed).choice(members, n, replace=False))
