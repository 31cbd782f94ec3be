"""Sample the demo's identities, partitions and 40 attribute labels, all up front from one seed.

Labels come from a pairwise binary model fitted to real CelebA rows (core/demo/label_model.py), so
marginals and pairwise dependencies (lipstick with makeup, smiling with an open mouth, beards with
Male, ...) follow the real data. Each identity draws one full label vector from the model; its
persistent traits (sex, age, nose, lips, face shape, ...) are kept on all its images, its hair
is kept on most, and the rest is re-drawn per image from the model conditioned on what is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.celeba import CELEBA_ATTRIBUTES
from core.demo.label_model import BIAS, CELEBA_COOCCURRENCE, CELEBA_PREVALENCE, COUPLING

ATTRIBUTE_INDEX = {name: i for i, name in enumerate(CELEBA_ATTRIBUTES)}
# Kept on every image of an identity.
PERSISTENT = (
    "Male",
    "Young",
    "Pale_Skin",
    "Big_Nose",
    "Pointy_Nose",
    "Big_Lips",
    "Oval_Face",
    "Chubby",
    "Double_Chin",
    "Bushy_Eyebrows",
    "Bald",
    "Receding_Hairline",
)
# Kept on most images of an identity (hair colour and style change now and then).
MOSTLY_PERSISTENT = (
    "Black_Hair",
    "Blond_Hair",
    "Brown_Hair",
    "Gray_Hair",
    "Straight_Hair",
    "Wavy_Hair",
    "Narrow_Eyes",
    "Bags_Under_Eyes",
    "Arched_Eyebrows",
)
HAIR_CHANGE_RATE = 0.12
MIN_PER_IDENTITY, MAX_PER_IDENTITY = 5, 40
MEAN_PER_IDENTITY = 20
IDENTITY_CANDIDATES = 12  # candidate label vectors drawn per identity before balancing
PARTITION_SHARES = (0.8, 0.1, 0.1)
BALANCE_PASSES = 3
DIAGONAL_WEIGHT = 20.0  # prevalences matter more than co-occurrences when balancing
BURN_IN_SWEEPS = 60
IMAGE_SWEEPS = 8


@dataclass(frozen=True)
class LabelPlan:
    """Per-image identity (1-based, (N,) int), partition (0/1/2, (N,) int), labels ((N, 40) uint8)."""

    identity: np.ndarray
    partition: np.ndarray
    attributes: np.ndarray

    @property
    def n_images(self) -> int:
        """Number of images planned."""
        return len(self.identity)


def model_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(bias (40,), coupling (40, 40)) of the label model as float32 arrays."""
    return np.asarray(BIAS, np.float32), np.asarray(COUPLING, np.float32)


def gibbs_sweeps(
    state: np.ndarray, free: np.ndarray, bias: np.ndarray, coupling: np.ndarray, rng: np.random.Generator, sweeps: int
) -> np.ndarray:
    """Gibbs-update the free entries of state ((N, A) 0/1) under the pairwise model; returns uint8."""
    x = state.astype(np.float32)
    coupling = np.asarray(coupling, np.float32).copy()
    np.fill_diagonal(coupling, 0.0)
    bias = np.asarray(bias, np.float32)
    for _ in range(sweeps):
        for j in range(x.shape[1]):
            field = bias[j] + x @ coupling[:, j]
            on = (rng.random(len(x)) < 1.0 / (1.0 + np.exp(-field))).astype(np.float32)
            x[:, j] = np.where(free[:, j], on, x[:, j])
    return x.astype(np.uint8)


def identity_sizes(n_images: int, rng: np.random.Generator) -> np.ndarray:
    """Images per identity: 5..40 each (fewer only for tiny sets), skewed like CelebA, summing to n_images."""
    if n_images < 1:
        raise ValueError("the demo needs at least 1 image")
    n_ids = max(1, round(n_images / MEAN_PER_IDENTITY))
    low = min(MIN_PER_IDENTITY, n_images // n_ids)
    sizes = np.round(low + (MAX_PER_IDENTITY - low) * rng.beta(2.0, 2.7, n_ids)).astype(int)
    while (gap := n_images - int(sizes.sum())) != 0:
        step = 1 if gap > 0 else -1
        ok = np.flatnonzero((sizes + step >= max(1, low)) & (sizes + step <= MAX_PER_IDENTITY))
        pick = rng.choice(ok, size=min(abs(gap), len(ok)), replace=False)
        sizes[pick] += step
    return sizes


def _balanced_identities(
    candidates: np.ndarray, sizes: np.ndarray, target_pairs: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Pick one candidate vector per identity so image-weighted prevalences and co-occurrences match."""
    n_ids, a = len(sizes), candidates.shape[1]
    per = candidates.reshape(n_ids, -1, a).astype(np.float64)
    outer = per[:, :, :, None] * per[:, :, None, :]  # (ids, candidates, A, A)
    spread = np.sqrt(np.diag(target_pairs) * (1 - np.diag(target_pairs)))
    weight = (np.ones((a, a)) + np.eye(a) * DIAGONAL_WEIGHT) / np.outer(spread, spread)
    choice = np.zeros(n_ids, int)
    total = float(sizes.sum())
    pairs = (outer[np.arange(n_ids), choice] * sizes[:, None, None]).sum(0)
    for _ in range(BALANCE_PASSES):
        for i in rng.permutation(n_ids):
            without = pairs - sizes[i] * outer[i, choice[i]]
            options = (without[None] + sizes[i] * outer[i]) / total
            cost = (((options - target_pairs[None]) ** 2) * weight[None]).sum((1, 2))
            choice[i] = int(np.argmin(cost))
            pairs = without + sizes[i] * outer[i, choice[i]]
    return per[np.arange(n_ids), choice].astype(np.uint8)


def _identity_partitions(sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Partition (0 train, 1 val, 2 test) of each identity, about 80/10/10 of the images."""
    order = rng.permutation(len(sizes))
    cum = np.cumsum(sizes[order]) / sizes.sum()
    train_end, val_end = PARTITION_SHARES[0] + 1e-9, 1 - PARTITION_SHARES[2] + 1e-9
    part_sorted = np.where(cum <= train_end, 0, np.where(cum <= val_end, 1, 2))
    if len(sizes) >= 3:  # every partition gets at least one identity
        part_sorted[-1] = 2
        if not (part_sorted == 1).any():
            part_sorted[-2] = 1
    partition = np.empty(len(sizes), int)
    partition[order] = part_sorted
    return partition


def sample_labels(n_images: int, seed: int = 0) -> LabelPlan:
    """Identities, partitions and attribute labels for n_images images (deterministic in seed)."""
    rng = np.random.default_rng([seed, 1])
    bias, coupling = model_arrays()
    sizes = identity_sizes(n_images, rng)
    n_ids = len(sizes)
    target = np.asarray([CELEBA_PREVALENCE[a] for a in CELEBA_ATTRIBUTES])
    n_cand = n_ids * IDENTITY_CANDIDATES
    start = (rng.random((n_cand, len(target))) < target).astype(np.uint8)
    candidates = gibbs_sweeps(start, np.ones(start.shape, bool), bias, coupling, rng, BURN_IN_SWEEPS)
    id_labels = _balanced_identities(candidates, sizes, np.asarray(CELEBA_COOCCURRENCE), rng)
    id_partition = _identity_partitions(sizes, rng)
    # images: identity of each, ordered train -> val -> test, shuffled within a partition
    id_of_image = np.repeat(np.arange(n_ids), sizes)
    keys = id_partition[id_of_image] + rng.random(n_images)
    id_of_image = id_of_image[np.argsort(keys, kind="stable")]
    free = np.ones((n_images, len(target)), bool)
    free[:, [ATTRIBUTE_INDEX[a] for a in PERSISTENT]] = False
    mostly = [ATTRIBUTE_INDEX[a] for a in MOSTLY_PERSISTENT]
    keep_hair = rng.random(n_images) >= HAIR_CHANGE_RATE
    free[np.ix_(keep_hair, mostly)] = False
    attrs = gibbs_sweeps(id_labels[id_of_image], free, bias, coupling, rng, IMAGE_SWEEPS)
    numbers = rng.permutation(n_ids) + 1  # identity numbers carry no order, as in CelebA
    return LabelPlan(numbers[id_of_image], id_partition[id_of_image], attrs)
