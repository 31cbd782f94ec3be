"""Parameter sweeps: inertia and silhouette against k, algorithms side by side, DBSCAN over eps."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import polars as pl

from core.cluster.algorithms import cluster
from core.cluster.metrics import external_metrics, internal_metrics

log = logging.getLogger(__name__)

SIDE_BY_SIDE = ("kmeans", "minibatch", "agglomerative", "hdbscan", "chinese_whispers")


def k_sweep(X: np.ndarray, ks: Sequence[int], seed: int = 0) -> pl.DataFrame:
    """k, inertia, silhouette (sampled when large) for k-means at each k (elbow and silhouette plots)."""
    rows = []
    for k in ks:
        if k >= len(X):
            continue
        result = cluster(X, "kmeans", seed=seed, k=int(k))
        rows.append(
            {
                "k": int(k),
                "inertia": result.inertia,
                "silhouette": internal_metrics(X, result.labels, seed=seed)["silhouette"],
            }
        )
    return pl.DataFrame(rows, schema={"k": pl.Int64, "inertia": pl.Float64, "silhouette": pl.Float64})


def _row(name: str, result, X, truth, seed: int, seconds: float) -> dict:
    inner = internal_metrics(X, result.labels, seed=seed)
    row = {
        "algorithm": name,
        "n_clusters": inner["n_clusters"],
        "noise": inner["noise_fraction"],
        "silhouette": inner["silhouette"],
        "seconds": seconds,
    }
    if truth is not None:
        ext = external_metrics(truth, result.labels)
        row |= {"ari": ext["ari"], "nmi": ext["nmi"], "pairwise_f1": ext["pairwise_f1"], "bcubed_f1": ext["bcubed_f1"]}
    return row


def algorithms_side_by_side(
    X: np.ndarray, k: int, truth: Sequence | None = None, seed: int = 0, names: Sequence[str] = SIDE_BY_SIDE
) -> pl.DataFrame:
    """One row per algorithm on the same points (k where an algorithm takes k); failures are reported, not raised."""
    rows = []
    for name in names:
        params = {"k": k} if name in ("kmeans", "minibatch", "agglomerative") else {}
        if name == "agglomerative":
            params |= {"linkage": "average", "metric": "cosine"}
        t0 = time.perf_counter()
        try:
            result = cluster(X, name, seed=seed, **params)
        except ValueError as exc:
            log.info("%s skipped: %s", name, exc)
            continue
        rows.append(_row(name, result, X, truth, seed, time.perf_counter() - t0))
    return pl.DataFrame(rows)


def eps_sweep(
    X: np.ndarray, eps_values: Sequence[float], min_samples: int, truth: Sequence | None = None, seed: int = 0
) -> pl.DataFrame:
    """DBSCAN at each eps: clusters, noise share, largest-cluster share (and external metrics with identities)."""
    rows = []
    for eps in eps_values:
        t0 = time.perf_counter()
        result = cluster(X, "dbscan", seed=seed, eps=float(eps), min_samples=int(min_samples))
        row = _row(f"eps {eps:.3g}", result, X, truth, seed, time.perf_counter() - t0)
        kept = result.labels[result.labels >= 0]
        row["eps"] = float(eps)
        row["largest_share"] = float(np.bincount(kept).max() / len(result.labels)) if len(kept) else 0.0
        rows.append(row)
    return pl.DataFrame(rows)
