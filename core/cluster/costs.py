"""How long a clustering step takes, before it runs: the Clustering page runs quick steps in the page and slow ones
as background jobs with this estimate on their progress bar.

Seconds measured on the shared 2-core machine (docs/bench/cluster.md, bench/bench_cluster.py), rounded up: an
estimate to tell a user what to expect, never a limit.
"""

from __future__ import annotations

from core.cluster.algorithms import AGGLOMERATIVE_MAX_POINTS, CHINESE_WHISPERS_MAX_POINTS, ClusterSpec
from core.cluster.reduce import ReductionSpec
from core.cluster.rerank import RERANK_MAX_POINTS

INLINE_SECONDS = 1.0  # slower steps run as background jobs
JOB_START_SECONDS = 4.0  # a job's own start: Python, the dataset, its vectors
UMAP_COMPILE_SECONDS = 25.0
MAX_POINTS = {  # algorithms that refuse more points (their memory grows with n squared)
    "rerank": RERANK_MAX_POINTS,
    "agglomerative": AGGLOMERATIVE_MAX_POINTS,
    "chinese_whispers": CHINESE_WHISPERS_MAX_POINTS,
}  # numba compiles UMAP in each new process (less once its disk cache is warm)


def clustering_seconds(spec: ClusterSpec, n: int, d: int) -> float:
    """Expected seconds to cluster n points of d dimensions with spec (fitted to timings on a busy 2-core machine)."""
    algo = spec.algorithm
    if algo == "rerank":  # 400 points 0.8 s, 2,000 4 s, 5,000 12 s: a Python loop per point, then n x n matrices
        return 0.5 + 8e-4 * n + 3.5e-7 * n * n
    if algo == "agglomerative":  # 5,000 points: 3 s
        return 0.05 + 1.2e-7 * n * n
    if algo == "hdbscan":  # 1,000 points 0.35 s, 5,000 7.7 s (128-d)
        return 0.1 + 3e-7 * n * n * min(1.0, max(d, 2) / 64)
    if algo == "chinese_whispers":  # 3,000 points 0.7 s
        return 0.1 + 2e-4 * n
    if algo == "dbscan":
        return 0.05 + 1e-4 * n
    k = int(spec.param("k") or 8)
    return 0.05 + 4e-6 * n * max(d, 2) / 10 * max(1.0, k / 8) ** 0.5  # k-means: 5,000 x 128, k 8 0.3 s, k 20 0.5 s


def reduction_seconds(spec: ReductionSpec, n: int) -> float:
    """Expected seconds of a reduction before clustering (UMAP compiles first in a new process)."""
    if spec.method == "umap":
        return UMAP_COMPILE_SECONDS + 0.006 * n
    if spec.method == "pca":
        return 0.05 + 2e-5 * n
    return 0.0


def map_seconds(method: str, n: int) -> float:
    """Expected seconds of a 2-D map: UMAP (96 s at 202,599 points) or t-SNE (Barnes-Hut)."""
    if method == "umap":
        return UMAP_COMPILE_SECONDS + 0.005 * n
    if method == "tsne":  # 2,000 points: 45 s on the busy machine
        return 3.0 + 0.021 * n
    return 0.05 + 2e-5 * n


def runs_inline(seconds: float) -> bool:
    return seconds <= INLINE_SECONDS
