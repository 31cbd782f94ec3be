"""Stand-in face embeddings with identity structure (for benches and tests when no real descriptors exist).

x = normalise(0.8 * g + 0.51 * u_identity + 0.32 * s_identity * e): g a shared direction,
u_identity one random direction per person, e per-image noise, s_identity a per-person
spread (log-normal around 1). Unit vectors whose distances resemble dlib's: same person
~0.45, different people ~0.85 (dlib's same-person cut is 0.6).
"""

from __future__ import annotations

import numpy as np

ALPHA, BETA, GAMMA = 0.8, 0.51, 0.316


def identity_embeddings(identities: np.ndarray, dim: int = 128, seed: int = 0, chunk: int = 50_000) -> np.ndarray:
    """(N, dim) float32 unit vectors; rows with the same identity label lie close together."""
    rng = np.random.default_rng(seed)
    uniq, inverse = np.unique(np.asarray(identities), return_inverse=True)
    g = rng.standard_normal(dim).astype(np.float32)
    g /= np.linalg.norm(g)
    centres = (rng.standard_normal((len(uniq), dim)) / np.sqrt(dim)).astype(np.float32)
    spread = np.exp(rng.normal(0, 0.15, len(uniq))).astype(np.float32)
    out = np.empty((len(inverse), dim), np.float32)
    for start in range(0, len(inverse), chunk):
        idx = inverse[start : start + chunk]
        noise = rng.standard_normal((len(idx), dim)).astype(np.float32) / np.sqrt(dim)
        x = ALPHA * g + BETA * centres[idx] + GAMMA * spread[idx, None] * noise
        out[start : start + chunk] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def celeba_like_identities(n: int = 202_599, n_identities: int = 10_177, seed: int = 0) -> np.ndarray:
    """(n,) int identity labels with CelebA-like sizes (most people ~20 images, a few with fewer)."""
    rng = np.random.default_rng(seed)
    sizes = np.clip(rng.normal(n / n_identities, 6, n_identities), 1, 35).astype(int)
    sizes = np.maximum(1, np.round(sizes * n / sizes.sum())).astype(int)
    labels = np.repeat(np.arange(n_identities), sizes)
    if len(labels) < n:
        labels = np.concatenate([labels, rng.integers(0, n_identities, n - len(labels))])
    return rng.permutation(labels[:n])
