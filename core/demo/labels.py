"""Sample the demo's identities, partitions and 40 attribute labels, all up front from one seed.

Labels come from a pairwise binary model fitted to real CelebA rows (core/demo/label_model.py), so
marginals and pairwise dependencies (lipstick with makeup, smiling with an open mouth, beards with
Male, ...) follow the real data. Each identity draws one full label vector from the model; its
persistent traits (sex, age, nose, lips, face shape, ...) are kept on all its images, its hair
is kept on most, its beard and accessories on many, and the rest is re-drawn per image from the
model conditioned on what is kept. Partitions are whole identities (as in CelebA), stratified so
that every common attribute can be trained, validated and tested.

How many images each person has: the classic demo (no identity count given) gives everyone 5-40, so face search
always finds a person's other photos; with an identity count (`--identities`), people have CelebA's own spread
(1-35 photos, a third of them 20 or 30), scaled to the requested mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from core.data.celeba import CELEBA_ATTRIBUTES
from core.demo.label_model import BIAS, CELEBA_COOCCURRENCE, CELEBA_PREVALENCE, COUPLING
from core.stats.intervals import MIN_MODEL_IMAGES

ATTRIBUTE_INDEX = {name: i for i, name in enumerate(CELEBA_ATTRIBUTES)}
# Labelled (with CelebA's co-occurrences, so it goes with drawn labels) but never drawn: core/demo/specs.py and
# draw.py read every other label, so nothing in a demo picture shows it.
UNDRAWN = ("Attractive",)
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
# Groups of attributes an image keeps from its identity with some probability (the whole group together: a
# new haircut, a shave) and otherwise re-draws from the model. Measured on the first 20,000 rows of
# list_attr_celeba.txt with identity_CelebA.txt, two images of one CelebA person disagree on Eyeglasses 6.3 % of
# the time, Wearing_Hat 6.1 %, Goatee 6.3 %, No_Beard 9.9 %, Wearing_Necktie 8.6 %, Smiling 36.9 %, Black_Hair
# 20 %, Bangs 16 %, Arched_Eyebrows 23 % (the demo before issue 16 re-drew all but hair on every image and
# disagreed up to 1.9 times as often). These rates keep the demo at or below CelebA's figures; lowest where
# CelebA's disagreement is mostly label noise (brows, eyes, hair colour) and for glasses, which move a face
# descriptor most (docs/bench/demo.md).
STICKY_GROUPS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "Straight_Hair", "Wavy_Hair", "Bangs"), 0.92),
    (("Narrow_Eyes", "Bags_Under_Eyes", "Arched_Eyebrows"), 0.96),
    (("No_Beard", "Goatee", "Mustache", "Sideburns", "5_o_Clock_Shadow"), 0.8),
    (("Eyeglasses",), 0.9),
    (("Wearing_Hat",), 0.5),
    (("Wearing_Necktie",), 0.5),
    (("Smiling", "Mouth_Slightly_Open", "High_Cheekbones"), 0.4),
)
MIN_PER_IDENTITY, MAX_PER_IDENTITY = 5, 40
MEAN_PER_IDENTITY = 20
# CelebA's people by how many images they have (identity_CelebA.txt: 10,177 people with 1, 2, ... 35 images each,
# 202,599 in all): the shape a sized drawing follows.
CELEBA_IMAGES_PER_IDENTITY = (
    44, 324, 245, 221, 221, 207, 183, 176, 187, 202, 199, 165, 176, 210, 172, 219, 173, 217, 288, 1044,
    565, 419, 369, 290, 361, 106, 125, 216, 493, 2343, 9, 3, 0, 2, 3,
)  # fmt: skip
IDENTITY_CANDIDATES = 12  # candidate label vectors drawn per identity before balancing
PARTITION_SHARES = (0.8, 0.1, 0.1)  # CelebA's train/val/test shares of the images
# Every attribute with at least STRATIFY_MIN_TOTAL positive images gets at least STRATIFY_MIN_EACH in each
# partition (where the set is large enough), so a classifier of it can be trained, validated and tested.
STRATIFY_MIN_TOTAL = 100
SCORABLE_FROM = 4 * MIN_MODEL_IMAGES  # from this many images on, val and test hold MIN_MODEL_IMAGES each
STRATIFY_MIN_EACH = 10
# Integer costs of the partition search (exact sums, so the result is the same on every CPU): a missing
# required positive outweighs everything else; then the partitions' image shares; then each attribute's share.
MISSING_COST = 1_000_000
SIZE_COST = 20_000  # per whole partition missed
SHARE_COST = 1_000  # per whole attribute share of a partition missed
REPAIR_PASSES = 12
# An identity is tried against at most this many identities of another partition for a swap: every pair is
# O(identities^2) a pass, hours at CelebA's 10,177; a sample finds as good swaps (the demo's 300 try all).
SWAP_PARTNERS = 400
BALANCE_PASSES = 3
DIAGONAL_WEIGHT = 20.0  # prevalences matter more than co-occurrences when balancing
# Pairs a lesson audits (the fairness lesson: a blond-hair classifier by sex, CelebA's canonical worst group, about
# 1 % of its images). Their co-occurrence is balanced as closely as a prevalence (without it the demo's 6,000 images
# held 3 blond men where CelebA's rate gives about 55), and their intersection is stratified like an attribute:
# where it has TAUGHT_MIN_TOTAL images, validation and test get STRATIFY_MIN_EACH each, so the group can be scored.
TAUGHT_PAIRS = (("Blond_Hair", "Male"),)
TAUGHT_MIN_TOTAL = 3 * STRATIFY_MIN_EACH
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
    """Gibbs-update the free entries of state ((N, A) 0/1) under the pairwise model; returns uint8.

    One BLAS thread: these thin products run 10x slower when two threads fight over a busy machine's cores.
    """
    x = state.astype(np.float32)
    coupling = np.asarray(coupling, np.float32).copy()
    np.fill_diagonal(coupling, 0.0)
    bias = np.asarray(bias, np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
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
    return _settle(sizes, n_images, max(1, low), MAX_PER_IDENTITY, rng)


def celeba_identity_sizes(n_images: int, n_identities: int, rng: np.random.Generator) -> np.ndarray:
    """Images per identity ((n_identities,) int) spread like CelebA's, scaled to n_images / n_identities each.

    CelebA's sorted counts are read at evenly spaced quantiles, so 202,599 images of 10,177 people give exactly
    CelebA's histogram; other sizes get its shape, nudged by single images to the requested total.
    """
    if not 1 <= n_identities <= n_images:
        raise ValueError(f"the identities must number between 1 and the images ({n_images:,}), not {n_identities:,}")
    celeba = np.repeat(np.arange(1, len(CELEBA_IMAGES_PER_IDENTITY) + 1), CELEBA_IMAGES_PER_IDENTITY)
    at = ((np.arange(n_identities) + 0.5) / n_identities * len(celeba)).astype(int)
    scale = n_images / n_identities / celeba.mean()
    sizes = np.maximum(1, np.rint(celeba[at] * scale)).astype(int)
    most = max(int(np.ceil(celeba[-1] * scale)), -(-n_images // n_identities))
    return rng.permutation(_settle(sizes, n_images, 1, most, rng))


def _settle(sizes: np.ndarray, total: int, low: int, high: int, rng: np.random.Generator) -> np.ndarray:
    """Move sizes by single images (each kept in low..high) until they sum to total."""
    while (gap := total - int(sizes.sum())) != 0:
        step = 1 if gap > 0 else -1
        ok = np.flatnonzero((sizes + step >= low) & (sizes + step <= high))
        pick = rng.choice(ok, size=min(abs(gap), len(ok)), replace=False)
        sizes[pick] += step
    return sizes


def _balanced_identities(
    candidates: np.ndarray, sizes: np.ndarray, target_pairs: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Pick one candidate vector per identity so image-weighted prevalences and co-occurrences match."""
    n_ids, a = len(sizes), candidates.shape[1]
    per = candidates.reshape(n_ids, -1, a).astype(np.float64)

    def outer(i: int) -> np.ndarray:  # (candidates, A, A) of identity i; all at once would take 1.5 GB at 10,177
        return per[i, :, :, None] * per[i, :, None, :]

    spread = np.sqrt(np.diag(target_pairs) * (1 - np.diag(target_pairs)))
    emphasis = np.ones((a, a)) + np.eye(a) * DIAGONAL_WEIGHT
    for i, j in _taught_indices():
        emphasis[i, j] = emphasis[j, i] = 1.0 + DIAGONAL_WEIGHT
    weight = emphasis / np.outer(spread, spread)
    choice = np.zeros(n_ids, int)
    total = float(sizes.sum())
    first = per[:, 0]
    pairs = (first * sizes[:, None]).T @ first  # whole numbers: exact in any summation order
    for _ in range(BALANCE_PASSES):
        for i in rng.permutation(n_ids):
            mine = outer(i)
            without = pairs - sizes[i] * mine[choice[i]]
            options = (without[None] + sizes[i] * mine) / total
            cost = (((options - target_pairs[None]) ** 2) * weight[None]).sum((1, 2))
            choice[i] = int(np.argmin(cost))
            pairs = without + sizes[i] * mine[choice[i]]
    return per[np.arange(n_ids), choice].astype(np.uint8)


def _taught_indices() -> list[tuple[int, int]]:
    return [(ATTRIBUTE_INDEX[a], ATTRIBUTE_INDEX[b]) for a, b in TAUGHT_PAIRS]


def _taught_columns(attrs: np.ndarray) -> np.ndarray:
    """(N, len(TAUGHT_PAIRS)) uint8: whether each image holds both attributes of each taught pair."""
    return np.stack([attrs[:, i] & attrs[:, j] for i, j in _taught_indices()], axis=1)


def _stratified_start(sizes: np.ndarray, positives: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Partition of each identity by iterative stratification (Sechidis et al., 2011) over whole identities.

    The attribute with the fewest positives still unplaced goes first; each of its identities goes into the
    partition that still wants the most of it (then the most images).
    """
    n_ids = len(sizes)
    shares = partition_shares(int(sizes.sum()))
    want_images = shares * sizes.sum()
    want = shares[:, None] * positives.sum(0)[None, :]
    partition = np.full(n_ids, -1)
    tiebreak = rng.random(n_ids)

    def place(i: int, attribute: int | None) -> None:
        fits = want_images >= sizes[i] / 2
        first = want[:, attribute] if attribute is not None else want_images
        choice = np.lexsort((want_images, first, fits))[-1]
        partition[i] = choice
        want[choice] -= positives[i]
        want_images[choice] -= sizes[i]

    while (partition < 0).any():
        remaining = positives[partition < 0].sum(0)
        if remaining.max() == 0:
            break
        attribute = int(np.argmin(np.where(remaining > 0, remaining, np.inf)))
        carriers = np.flatnonzero((partition < 0) & (positives[:, attribute] > 0))
        for i in carriers[np.lexsort((tiebreak[carriers], -positives[carriers, attribute]))]:
            place(int(i), attribute)
    for i in np.flatnonzero(partition < 0)[np.argsort(tiebreak[partition < 0])]:
        place(int(i), None)
    return partition


def partition_shares(n_images: int) -> np.ndarray:
    """Image shares of train/val/test: CelebA's, but val and test keep MIN_MODEL_IMAGES each where the set allows.

    The Attribute classifiers page scores no model on fewer test images, so a small demo (400 images) still gets
    test and validation splits it can score.
    """
    shares = np.asarray(PARTITION_SHARES, np.float64)
    if n_images >= SCORABLE_FROM:
        shares[1:] = np.maximum(shares[1:], MIN_MODEL_IMAGES / n_images)
        shares[0] = 1.0 - shares[1:].sum()
    return shares


class _PartitionCost:
    """Integer cost of the partitions' contents: missing required positives, image shares, attribute shares."""

    def __init__(self, sizes: np.ndarray, positives: np.ndarray, required_from: np.ndarray) -> None:
        n_images = int(sizes.sum())
        shares = partition_shares(n_images)
        totals = positives.sum(0)
        self.columns = np.concatenate([positives, sizes[:, None]], axis=1).astype(np.int64)  # (n_ids, A + 1)
        self.target = np.rint(shares[:, None] * np.r_[totals, sizes.sum()][None, :]).astype(np.int64)  # (3, A + 1)
        scale = np.r_[np.full(len(totals), SHARE_COST), SIZE_COST]
        self.weight = np.maximum(1, np.rint(scale[None, :] / np.maximum(self.target, 1))).astype(np.int64)
        self.minimum = np.zeros_like(self.target)
        self.minimum[:, :-1] = np.where(totals >= required_from, STRATIFY_MIN_EACH, 0)[None, :]
        self.minimum[:, -1] = 1  # no empty partition while there are identities to spare
        if n_images >= SCORABLE_FROM:
            self.minimum[1:, -1] = MIN_MODEL_IMAGES

    def of(self, p: int, have: np.ndarray) -> np.ndarray:
        """Cost of partition p holding `have` ((..., A + 1) counts), summed over the last axis."""
        missing = np.maximum(self.minimum[p] - have, 0) * MISSING_COST
        return (missing + np.abs(have - self.target[p]) * self.weight[p]).sum(-1)


def _identity_partitions(
    sizes: np.ndarray, positives: np.ndarray, required_from: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Partition (0 train, 1 val, 2 test) of each identity: about 80/10/10 of the images and of each attribute.

    positives (n_ids, C) counts each identity's positive images per column (the attributes, then the taught pairs).
    A stratified start, then moves and swaps of whole identities that lower _PartitionCost (first of all: no
    partition is empty and every column with required_from[c] positives or more gets STRATIFY_MIN_EACH in each,
    where the set is large enough).
    """
    partition = _stratified_start(sizes, positives, rng)
    if len(sizes) < 2:
        return partition
    cost = _PartitionCost(sizes, positives, required_from)
    have = np.stack([cost.columns[partition == p].sum(0) for p in range(3)])
    for _ in range(REPAIR_PASSES):
        improved = False
        for i in rng.permutation(len(sizes)):
            p = partition[i]
            base_p = cost.of(p, have[p])
            best, best_move = 0, None
            for q in (0, 1, 2):
                if q == p:
                    continue
                base = base_p + cost.of(q, have[q])
                others = np.flatnonzero(partition == q)
                if len(others) > SWAP_PARTNERS:
                    others = rng.choice(others, SWAP_PARTNERS, replace=False)
                # move i alone (others[:0]) or swap it with each identity of q
                shift = np.concatenate([np.zeros((1, cost.columns.shape[1]), np.int64), cost.columns[others]])
                delta = cost.columns[i] - shift
                after = cost.of(p, have[p] - delta) + cost.of(q, have[q] + delta) - base
                k = int(np.argmin(after))
                if after[k] < best:
                    best, best_move = int(after[k]), (q, None if k == 0 else int(others[k - 1]), delta[k])
            if best_move is not None:
                q, j, delta = best_move
                partition[i] = q
                if j is not None:
                    partition[j] = p
                have[p] -= delta
                have[q] += delta
                improved = True
        if not improved:
            break
    return partition


def sample_labels(n_images: int, seed: int = 0, identities: int | None = None) -> LabelPlan:
    """Identities, partitions and attribute labels for n_images images (deterministic in seed).

    identities: how many people, with CelebA's spread of images per person; None: the classic demo's people
    (about one per MEAN_PER_IDENTITY images, 5-40 images each).
    """
    rng = np.random.default_rng([seed, 1])
    bias, coupling = model_arrays()
    if identities is None:
        sizes = identity_sizes(n_images, rng)
    else:
        sizes = celeba_identity_sizes(n_images, identities, rng)
    n_ids = len(sizes)
    target = np.asarray([CELEBA_PREVALENCE[a] for a in CELEBA_ATTRIBUTES])
    n_cand = n_ids * IDENTITY_CANDIDATES
    start = (rng.random((n_cand, len(target))) < target).astype(np.uint8)
    candidates = gibbs_sweeps(start, np.ones(start.shape, bool), bias, coupling, rng, BURN_IN_SWEEPS)
    id_labels = _balanced_identities(candidates, sizes, np.asarray(CELEBA_COOCCURRENCE), rng)
    # images grouped by identity; each keeps its persistent traits and, group by group, often more
    id_of_image = np.repeat(np.arange(n_ids), sizes)
    free = np.ones((n_images, len(target)), bool)
    free[:, [ATTRIBUTE_INDEX[a] for a in PERSISTENT]] = False
    for names, keep_rate in STICKY_GROUPS:
        keep = rng.random(n_images) < keep_rate
        free[np.ix_(keep, [ATTRIBUTE_INDEX[a] for a in names])] = False
    attrs = gibbs_sweeps(id_labels[id_of_image], free, bias, coupling, rng, IMAGE_SWEEPS)
    positives = np.zeros((n_ids, len(target) + len(TAUGHT_PAIRS)))
    np.add.at(positives, id_of_image, np.concatenate([attrs, _taught_columns(attrs)], axis=1))
    required_from = np.r_[np.full(len(target), STRATIFY_MIN_TOTAL), np.full(len(TAUGHT_PAIRS), TAUGHT_MIN_TOTAL)]
    id_partition = _identity_partitions(sizes, positives, required_from, rng)
    # CelebA orders images train -> val -> test; shuffled within a partition
    order = np.argsort(id_partition[id_of_image] + rng.random(n_images), kind="stable")
    id_of_image, attrs = id_of_image[order], attrs[order]
    numbers = rng.permutation(n_ids) + 1  # identity numbers carry no order, as in CelebA
    return LabelPlan(numbers[id_of_image], id_partition[id_of_image], attrs)
