"""The same-person distance of a dataset, calibrated on its own identities (face_recognition's `tolerance`, measured).

dlib's 0.6 was chosen for real photos (LFW). A dataset with identity labels can say for itself where "same
person" ends. Two cuts are measured:

- the verification cut: sample pairs of faces of one identity and pairs of different identities and take the
  cut with the best balanced accuracy (ROC AUC and accuracy say how well distances separate the two kinds);
- the same-person cut, the one a search claims "probably the same person" with: the largest distance at which
  at least TARGET_PRECISION of the faces that close to a query are that person. It is measured as a search
  sees it: faces of the dataset used as queries against every other face, so that the many more strangers than
  same-person photos a search meets are counted (balanced pairs hide them: on the 6,000-image demo the
  balanced cut was right for 13 % of the faces it called the same person).

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
from core.distances import pair_distances

DLIB_THRESHOLD = 0.6  # dlib's published same-person cut for its descriptor on real photos (LFW)
MAX_PAIRS = 20_000  # pairs of each kind: plenty for a threshold, cheap at CelebA scale
MIN_PAIRS = 50  # fewer same-identity pairs than this: no calibration; and the fewest below a same-person cut
TRUSTWORTHY_AUC = 0.95  # below, distances separate identities too poorly for the identity check to be evidence
TARGET_PRECISION = 0.95  # "probably the same person": at least this share of the faces that close are that person
MAX_QUERIES = 1_000  # faces used as queries for the same-person cut (a seeded sample beyond that)
MIN_QUERIES = 200  # ... but at least this many (about 4,000 same-person pairs on CelebA)
MAX_DISTANCES = 50_000_000  # queries x faces measured: fewer queries on a large dataset (about 3 s of CPU)
CUT_STEP = 0.001  # the same-person cut is a multiple of this: distances are shown (and decided) to 3 decimals
MAX_BINS = 100_000  # distances binned for the cut (coarser steps for embeddings with very long vectors)
BLOCK_DISTANCES = 2_000_000  # distances computed at once (about 16 MB of float64 per array of a block)


@dataclass(frozen=True)
class SamePersonCut:
    """The distance below which a search calls a face the same person, and how often that is right on the dataset."""

    threshold: float  # euclidean distance: strictly closer = the same person
    precision: float  # share of the faces closer than threshold to a query that are that person (>= target)
    recall: float  # share of each query's other photos of the same person that are closer than threshold
    target: float  # the precision the cut was chosen for
    queries: int  # faces used as queries
    hits: int  # (query, face) pairs closer than threshold


@dataclass(frozen=True)
class Calibration:
    """Where same-person distances end on one dataset, and how well those cuts work."""

    threshold: float  # the verification cut: best balanced accuracy of same vs different pairs
    accuracy: float  # balanced verification accuracy at the threshold (same and different pairs weigh equally)
    auc: float  # ROC AUC of distance as a same/different score (1 = perfect, 0.5 = chance)
    same_pairs: int
    different_pairs: int
    median_same: float
    median_different: float
    same_person: SamePersonCut | None = None  # the cut a search claims "same person" with; None: none is precise

    @property
    def trustworthy(self) -> bool:
        """Whether the distance separates same from different people well (ROC AUC at least TRUSTWORTHY_AUC)."""
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


@dataclass(frozen=True)
class SearchCounts:
    """How many (query, face) pairs of each kind lie below each distance edge, over faces used as queries."""

    edges: np.ndarray  # (B + 1,) float64 distance edges, from 0 up
    same_below: np.ndarray  # (B + 1,) int64 same-identity pairs strictly closer than each edge
    all_below: np.ndarray  # (B + 1,) int64 pairs strictly closer than each edge
    same_total: int  # same-identity pairs at any distance
    queries: int


def _identity_groups(identity: Sequence, mask: np.ndarray | None) -> np.ndarray:
    """(N,) int64 identity number of each row, -1 where unlabelled or masked out."""
    labels = np.asarray([("" if v is None else str(v)) for v in identity], dtype=object)
    if mask is not None:
        labels[~np.asarray(mask, bool)] = ""
    group = np.full(len(labels), -1, np.int64)
    known = labels != ""
    if known.any():
        group[known] = np.unique(labels[known].astype(str), return_inverse=True)[1]
    return group


def search_counts(
    vectors: np.ndarray, group: np.ndarray, max_queries: int | None = None, seed: int = 0
) -> SearchCounts:
    """Every labelled face of a seeded sample searched against every other labelled face.

    max_queries: the sample's size, by default MAX_QUERIES, fewer on a large dataset (MAX_DISTANCES, MIN_QUERIES).

    vectors (N, D); group (N,) int64 identity numbers, -1 for faces left out. Distances in float64 from the
    squared norms (rounding far below one step), binned in steps of CUT_STEP up to the largest possible one.
    """
    rows = np.flatnonzero(group >= 0)
    if max_queries is None:
        max_queries = max(MIN_QUERIES, min(MAX_QUERIES, MAX_DISTANCES // max(len(rows), 1)))
    queries = rows
    if len(rows) > max_queries:
        queries = np.sort(np.random.default_rng(seed).choice(rows, max_queries, replace=False))
    X = np.asarray(vectors[rows], np.float64)
    sq = np.einsum("ij,ij->i", X, X)
    top = 2.0 * float(np.sqrt(sq.max())) if len(sq) else 1.0  # no two faces are farther apart
    step = max(CUT_STEP, top / MAX_BINS)
    bins = int(np.ceil(top / step)) + 1
    edges = np.round(np.arange(bins + 1) * step, 6)
    same_hist = np.zeros(bins, np.int64)
    all_hist = np.zeros(bins, np.int64)
    position = np.searchsorted(rows, queries)  # each query's place among `rows`
    block = max(1, BLOCK_DISTANCES // max(len(rows), 1))
    for start in range(0, len(queries), block):
        at = position[start : start + block]
        d = np.sqrt(np.maximum(sq[at, None] + sq[None, :] - 2.0 * (X[at] @ X.T), 0.0))
        d[np.arange(len(at)), at] = np.inf  # a face is not its own neighbour
        same = group[rows[at]][:, None] == group[rows][None, :]
        index = np.minimum(d / step, bins).astype(np.int64)  # bin j: j steps <= d < j + 1 steps; itself: bin `bins`
        all_hist += np.bincount(index.ravel(), minlength=bins + 1)[:bins]
        same_hist += np.bincount(index[same], minlength=bins + 1)[:bins]
    zero = np.zeros(1, np.int64)
    return SearchCounts(
        edges,
        np.concatenate([zero, np.cumsum(same_hist)]),
        np.concatenate([zero, np.cumsum(all_hist)]),
        int(same_hist.sum()),
        len(queries),
    )


def same_person_cut(counts: SearchCounts, target: float = TARGET_PRECISION) -> SamePersonCut | None:
    """The distance that finds the most of each query's other photos while at least `target` of the faces closer
    than it are the query's person (and at least MIN_PAIRS of them): the smallest such distance where a larger one
    finds no more of them. None where no distance is that precise."""
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = counts.same_below / counts.all_below
    good = np.flatnonzero((counts.all_below > 0) & (precision >= target) & (counts.same_below >= MIN_PAIRS))
    if not len(good) or not counts.same_total:
        return None
    k = int(good[np.argmax(counts.same_below[good])])  # the first edge with the most same-person pairs below it
    return SamePersonCut(
        threshold=float(counts.edges[k]),
        precision=float(precision[k]),
        recall=float(counts.same_below[k] / counts.same_total),
        target=target,
        queries=counts.queries,
        hits=int(counts.all_below[k]),
    )


def calibrate(
    vectors: np.ndarray, identity: Sequence, mask: np.ndarray | None = None, seed: int = 0
) -> Calibration | None:
    """The dataset's same-person cuts from (N, D) vectors and (N,) identity labels; None without enough pairs.

    mask (N,) bool leaves out rows without a face.
    """
    labels = np.asarray(identity, dtype=object).copy()
    if mask is not None:
        labels[~np.asarray(mask, bool)] = None
    same, different = sample_pairs(labels, seed=seed)
    if len(same) < MIN_PAIRS or len(different) < MIN_PAIRS:
        return None
    d_same = pair_distances(vectors, same[:, 0], same[:, 1])
    d_diff = pair_distances(vectors, different[:, 0], different[:, 1])
    threshold, accuracy = best_threshold(d_same, d_diff)
    return Calibration(
        threshold=round(threshold, 4),
        accuracy=accuracy,
        auc=roc_auc(d_same, d_diff),
        same_pairs=len(same),
        different_pairs=len(different),
        median_same=float(np.median(d_same)),
        median_different=float(np.median(d_diff)),
        same_person=same_person_cut(search_counts(vectors, _identity_groups(labels, None), seed=seed)),
    )


def calibrate_embeddings(ds: Dataset, emb: Embeddings) -> Calibration | None:
    """`calibrate` on a dataset's stored embeddings and identity labels (None without identities or pairs)."""
    if not ds.has_identity:
        return None
    return calibrate(emb.vectors, ds.table["identity"].to_numpy(), emb.has_face)


class SamePersonBasis(StrEnum):
    """Why a search calls faces the same person below a threshold, or why it makes no such claim."""

    CALIBRATED = "calibrated"  # the dataset's own identities set a threshold of the target precision
    DLIB_DEFAULT = "dlib default"  # no identities: dlib's published cut for its descriptor on real photos
    NOT_EUCLIDEAN = "not euclidean"  # thresholds are for euclidean distance only
    DRAWN_FACES = "drawn faces"  # the demo's drawn faces and a photo that is not one of them: nobody's
    TOO_FEW_PAIRS = "too few pairs"  # identities, but too few faces per identity to calibrate on
    POOR_SEPARATION = "poor separation"  # calibrated, but no distance finds the same person precisely enough
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

    Calibrated on the dataset's identities where it has them: the cut of TARGET_PRECISION, or no claim where no
    distance is that precise (`calibration` is called only then, so a cached calibration is computed only when
    needed); dlib's 0.6 for its descriptor on photos without identities; never guessed. query_in_dataset: the
    query is one of the dataset's faces (picked, or a dataset image uploaded again). On the demo a photo from
    outside its drawn faces is nobody's.
    """
    if metric != "euclidean":
        return SamePersonRule(None, SamePersonBasis.NOT_EUCLIDEAN)
    if ds.is_demo and not query_in_dataset:
        return SamePersonRule(None, SamePersonBasis.DRAWN_FACES)
    if ds.has_identity:
        measured = calibration()
        if measured is None:
            return SamePersonRule(None, SamePersonBasis.TOO_FEW_PAIRS)
        if measured.same_person is not None:
            return SamePersonRule(measured.same_person.threshold, SamePersonBasis.CALIBRATED, measured)
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
