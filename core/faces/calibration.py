"""The same-person distance of a dataset, calibrated on its own identities (face_recognition's `tolerance`, measured).

dlib's 0.6 was chosen for real photos (LFW). A dataset with identity labels can say for itself where "same
person" ends: sample pairs of faces of one identity and pairs of different identities, measure their euclidean
distances, and take the cut with the best balanced verification accuracy. The result says how well that cut
separates the two kinds of pairs (ROC AUC, accuracy at the cut), so a page can tell whether "same person"
means anything on this dataset (it does not on a set of drawn faces a descriptor cannot tell apart).

The same-person decision sits here too: `same_person_rule` says which threshold (if any) applies to a search,
`same_person` applies a threshold to the distances of the neighbours found. The Face search page phrases the
rule's basis and `python -m core search` prints it; neither decides anything itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import polars as pl

from core.data.dataset import Dataset
from core.data.embeddings import DLIB_MODEL, Embeddings

DLIB_THRESHOLD = 0.6  # dlib's published same-person cut for its descriptor on real photos (LFW)
MAX_PAIRS = 20_000  # pairs of each kind: plenty for a threshold, cheap at CelebA scale
MIN_PAIRS = 50  # fewer same-identity pairs than this: no calibration
TRUSTWORTHY_AUC = 0.95  # below, the page does not claim "same person" at all


@dataclass(frozen=True)
class Calibration:
    """Where same-person distances end on one dataset, and how well that cut works."""

    threshold: float  # euclidean distance: below = same person
    accuracy: float  # balanced verification accuracy at the threshold (same and different pairs weigh equally)
    auc: float  # ROC AUC of distance as a same/different score (1 = perfect, 0.5 = chance)
    same_pairs: int
    different_pairs: int
    median_same: float
    median_different: float

    @property
    def trustworthy(self) -> bool:
        """Whether the distance separates same from different people well enough to call faces 'same person'."""
        return self.auc >= TRUSTWORTHY_AUC


@dataclass(frozen=True)
class PairCounts:
    """How many pairs of faces share an identity label and how many do not: what `calibrate` can sample from."""

    same: int
    different: int

    @property
    def enough(self) -> bool:
        return self.same >= MIN_PAIRS and self.different >= MIN_PAIRS


def pair_counts(identity: pl.Series | Sequence, mask: np.ndarray | None = None) -> PairCounts:
    """PairCounts of (N,) identity labels (null or "" unknown), leaving out rows where mask (N,) bool is False.

    Counted, not sampled: cheap enough for every page run (value counts; pass the table's column, not a list)."""
    if isinstance(identity, pl.Series):
        labels = identity.cast(pl.String)
    else:
        labels = pl.Series("identity", [None if v is None else str(v) for v in identity], dtype=pl.String)
    if mask is not None:
        labels = labels.filter(pl.Series(np.asarray(mask, bool)))
    labels = labels.filter(labels.is_not_null() & (labels != ""))
    sizes = labels.value_counts()["count"].to_numpy().astype(np.int64)
    n = int(sizes.sum())
    same = int((sizes * (sizes - 1) // 2).sum())
    return PairCounts(same, n * (n - 1) // 2 - same)


def sample_pairs(identity: Sequence, max_pairs: int = MAX_PAIRS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(same, different): (k, 2) int64 index pairs of equal and of unequal identity labels, seeded, at most max_pairs."""
    labels = np.asarray([("" if v is None else str(v)) for v in identity], dtype=object)
    known = np.flatnonzero(labels != "")
    rng = np.random.default_rng(seed)
    if len(known) < 2:
        return np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)
    _, group = np.unique(labels[known].astype(str), return_inverse=True)
    order = np.argsort(group, kind="stable")
    sorted_rows, sorted_group = known[order], group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_group)])
    # Same-identity pairs: pick an identity weighted by its number of pairs, then two of its faces.
    weights = sizes * (sizes - 1) / 2.0
    same = np.zeros((0, 2), np.int64)
    if weights.sum() > 0:
        draws = rng.choice(len(sizes), size=max_pairs, p=weights / weights.sum())
        first = rng.integers(0, sizes[draws])
        second = (first + rng.integers(1, np.maximum(sizes[draws], 2))) % sizes[draws]
        same = np.column_stack([sorted_rows[starts[draws] + first], sorted_rows[starts[draws] + second]])
        same = np.unique(np.sort(same, axis=1), axis=0)
    a = rng.integers(0, len(known), size=max_pairs * 2)
    b = rng.integers(0, len(known), size=max_pairs * 2)
    keep = group[a] != group[b]
    different = np.unique(np.sort(np.column_stack([known[a[keep]], known[b[keep]]]), axis=1), axis=0)[:max_pairs]
    return same.astype(np.int64), different.astype(np.int64)


def pair_distances(vectors: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(k,) float64 euclidean distances of (k, 2) index pairs, computed in float64 (no BLAS-dependent rounding)."""
    if not len(pairs):
        return np.zeros(0)
    a = np.asarray(vectors[pairs[:, 0]], np.float64)
    b = np.asarray(vectors[pairs[:, 1]], np.float64)
    return np.sqrt(((a - b) ** 2).sum(axis=1))


def best_threshold(same: np.ndarray, different: np.ndarray) -> tuple[float, float]:
    """(threshold, balanced accuracy) maximising the mean of same-pair recall and different-pair specificity."""
    values = np.concatenate([same, different])
    is_same = np.concatenate([np.ones(len(same), bool), np.zeros(len(different), bool)])
    order = np.argsort(values, kind="stable")
    values, is_same = values[order], is_same[order]
    same_below = np.cumsum(is_same) / len(same)  # share of same pairs at or below each value
    diff_above = 1 - np.cumsum(~is_same) / len(different)  # share of different pairs above it
    score = (same_below + diff_above) / 2
    last = np.r_[values[1:] != values[:-1], True]  # cut only between distinct values
    score = np.where(last, score, -1)
    k = int(np.argmax(score))
    upper = values[k + 1] if k + 1 < len(values) else values[k]
    return float((values[k] + upper) / 2), float(score[k])


def roc_auc(same: np.ndarray, different: np.ndarray) -> float:
    """P(a random same pair is closer than a random different pair), ties counting half (Mann-Whitney)."""
    values = np.concatenate([same, different])
    ranks = np.empty(len(values))
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # average ranks of tied values
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    rank_same = ranks[: len(same)].sum()
    u = rank_same - len(same) * (len(same) - 1) / 2.0  # pairs where a same distance ranks above a different one
    return float(1 - u / (len(same) * len(different)))


def calibrate(
    vectors: np.ndarray, identity: Sequence, mask: np.ndarray | None = None, seed: int = 0
) -> Calibration | None:
    """The dataset's same-person threshold from (N, D) vectors and (N,) identity labels; None without enough pairs.

    mask (N,) bool leaves out rows without a face.
    """
    labels = np.asarray(identity, dtype=object).copy()
    if mask is not None:
        labels[~np.asarray(mask, bool)] = None
    same, different = sample_pairs(labels, seed=seed)
    if len(same) < MIN_PAIRS or len(different) < MIN_PAIRS:
        return None
    d_same, d_diff = pair_distances(vectors, same), pair_distances(vectors, different)
    threshold, accuracy = best_threshold(d_same, d_diff)
    return Calibration(
        threshold=round(threshold, 4),
        accuracy=accuracy,
        auc=roc_auc(d_same, d_diff),
        same_pairs=len(same),
        different_pairs=len(different),
        median_same=float(np.median(d_same)),
        median_different=float(np.median(d_diff)),
    )


def calibrate_embeddings(ds: Dataset, emb: Embeddings) -> Calibration | None:
    """`calibrate` on a dataset's stored embeddings and identity labels (None without identities or pairs)."""
    if not ds.has_identity:
        return None
    return calibrate(emb.vectors, ds.table["identity"].to_numpy(), emb.has_face)


class SamePersonBasis(StrEnum):
    """Why a search calls faces the same person below a threshold, or why it makes no such claim."""

    CALIBRATED = "calibrated"  # the dataset's own identities set the threshold, and it separates them well
    DLIB_DEFAULT = "dlib default"  # no identities: dlib's published cut for its descriptor on real photos
    NOT_EUCLIDEAN = "not euclidean"  # thresholds are for euclidean distance only
    DRAWN_FACES = "drawn faces"  # the demo's drawn faces and a photo brought in: none of them is that person
    TOO_FEW_PAIRS = "too few pairs"  # identities, but too few faces per identity to calibrate on
    POOR_SEPARATION = "poor separation"  # calibrated, but the distance tells identities apart too poorly
    NO_KNOWN_THRESHOLD = "no known threshold"  # no identities and not dlib's descriptor: nothing to go by


@dataclass(frozen=True)
class SamePersonRule:
    """The distance below which a search calls two faces the same person (None: no such claim) and its basis."""

    threshold: float | None  # euclidean distance
    basis: SamePersonBasis
    calibration: Calibration | None = None  # the dataset's, where its identities were measured


def same_person_rule(
    ds: Dataset,
    model: str,
    metric: str,
    query_in_dataset: bool,
    calibration: Callable[[], Calibration | None],
) -> SamePersonRule:
    """Which threshold decides 'same person' when `model`'s embeddings of `ds` are searched with `metric`.

    Calibrated on the dataset's identities where it has them (`calibration` is called only then, so a cached
    calibration is computed only when needed); dlib's 0.6 for its descriptor on photos without identities;
    never guessed. On the demo a photo from outside its drawn faces is nobody's.
    """
    if metric != "euclidean":
        return SamePersonRule(None, SamePersonBasis.NOT_EUCLIDEAN)
    if ds.is_demo and not query_in_dataset:
        return SamePersonRule(None, SamePersonBasis.DRAWN_FACES)
    if ds.has_identity:
        measured = calibration()
        if measured is None:
            return SamePersonRule(None, SamePersonBasis.TOO_FEW_PAIRS)
        if measured.trustworthy:
            return SamePersonRule(measured.threshold, SamePersonBasis.CALIBRATED, measured)
        return SamePersonRule(None, SamePersonBasis.POOR_SEPARATION, measured)
    if model != DLIB_MODEL:
        return SamePersonRule(None, SamePersonBasis.NO_KNOWN_THRESHOLD)
    return SamePersonRule(DLIB_THRESHOLD, SamePersonBasis.DLIB_DEFAULT)


def same_person(distances: np.ndarray | Sequence[float], threshold: float | None) -> np.ndarray:
    """(k,) bool: which neighbours are the same person as the query, i.e. strictly closer than `threshold`; all
    False where no threshold applies (None)."""
    distances = np.asarray(distances, dtype=np.float64)
    if threshold is None:
        return np.zeros(distances.shape, bool)
    return distances < threshold
