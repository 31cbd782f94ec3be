"""Exact distances between rows, shared by the face calibration and the data-quality checks."""

from __future__ import annotations

import numpy as np

BLOCK = 65_536  # pairs measured at once (bounds the float64 copies)


def pair_distances(X: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m,) float64 euclidean distances between rows a[i] and b[i] of X, as differences in float64 (no
    BLAS-dependent rounding: what cuts are compared with), in blocks so that millions of pairs stay small."""
    out = np.empty(len(a))
    for start in range(0, len(a), BLOCK):
        xa = np.asarray(X[a[start : start + BLOCK]], np.float64)
        xb = np.asarray(X[b[start : start + BLOCK]], np.float64)
        out[start : start + BLOCK] = np.sqrt(((xa - xb) ** 2).sum(axis=1))
    return out
