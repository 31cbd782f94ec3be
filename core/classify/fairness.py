"""Worst-group audit of a stored attribute classifier: who the model fails, by how much, and what a threshold per
group would trade.

For one predicted attribute (the target) and the groups that one or two other attributes make: per group the test
images, positives, accuracy, balanced accuracy, true- and false-positive rates, each with its 95 % Wilson interval
(core.stats.intervals); the worst group and its gap to all test images; the equal-opportunity difference (largest
minus smallest true-positive rate over the groups) and the demographic-parity difference (the same for the share
answered yes), as fairlearn defines them; and per-group thresholds that give every group the same true-positive
rate, traced against accuracy.

Front door: `audit_model(ds, meta, predictions, target, groups_by)` -> `FairnessAudit`; `threshold_tradeoff(audit)`.
Conventions as core.classify.metrics: labels (N,) 0/1, probs (N,) the predicted probability of yes; a face is
answered yes when prob >= threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core import format as fmt
from core.classify.metrics import THRESHOLD_DECIMALS
from core.classify.models import check_choice
from core.classify.store import ClassifierMeta
from core.data.dataset import Dataset
from core.stats.intervals import MIN_MODEL_IMAGES, MIN_MODEL_POSITIVES, Rate

GROUP_SOURCES = {
    "image": "each image's own label",
    "person": "the person's usual label (most of their images)",
}
# The figures a worst group can be chosen by; lower is worse for each.
WORST_BY = {
    "balanced_accuracy": "balanced accuracy",
    "accuracy": "accuracy",
    "tpr": "true-positive rate",
}
MAX_GROUP_ATTRIBUTES = 2
TRADEOFF_STEPS = 50  # true-positive-rate targets traced for per-group thresholds
SHARED_CUTS = np.linspace(0.01, 0.99, 99)  # single thresholds traced for comparison


# ---------------------------------------------------------------- groups


def group_names(groups_by: tuple[str, ...]) -> tuple[str, ...]:
    """Names of the 2**K groups of K attributes, in code order: ('not Male', 'Male'); the first attribute varies
    slowest ('not Male · not Young', 'not Male · Young', 'Male · not Young', 'Male · Young')."""
    k = len(groups_by)
    return tuple(
        " · ".join(a if code >> (k - 1 - i) & 1 else f"not {a}" for i, a in enumerate(groups_by))
        for code in range(2**k)
    )


def group_codes(values: np.ndarray) -> np.ndarray:
    """(N,) int64 group of each row from its (N, K) 0/1 group labels, numbered as group_names orders them."""
    values = np.asarray(values).reshape(len(values), -1).astype(np.int64)
    return (values << np.arange(values.shape[1] - 1, -1, -1)).sum(axis=1)


def person_labels(identity: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, K) uint8: each image's person's usual label (yes when at least half of their images say yes).

    identity (N,) with None where unknown; those rows keep their own labels. A group by a person's usual label
    does not move a face between groups because one photo of them was labelled differently.
    """
    labels = np.asarray(labels).reshape(len(labels), -1)
    out = labels.astype(np.uint8)
    known = np.array([i is not None and i == i for i in identity], bool)  # None and NaN are unknown
    if not known.any():
        return out
    _, person = np.unique(np.asarray(identity)[known].astype(str), return_inverse=True)
    images = np.bincount(person)
    for j in range(labels.shape[1]):
        share = np.bincount(person, weights=labels[known, j].astype(np.float64)) / images
        out[known, j] = share[person] >= 0.5
    return out


# ---------------------------------------------------------------- one group's figures


@dataclass(frozen=True)
class GroupFigures:
    """One group's confusion counts at a threshold, and its rates with their 95 % Wilson intervals."""

    name: str
    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def of(cls, name: str, labels: np.ndarray, answers: np.ndarray) -> GroupFigures:
        """Counts of (N,) 0/1 labels against (N,) bool answers."""
        y, yes = np.asarray(labels).astype(bool), np.asarray(answers).astype(bool)
        return cls(name, int((yes & y).sum()), int((yes & ~y).sum()), int((~yes & y).sum()), int((~yes & ~y).sum()))

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def positives(self) -> int:
        return self.tp + self.fn

    @property
    def negatives(self) -> int:
        return self.fp + self.tn

    @property
    def small(self) -> bool:
        """Too few images, or too few of either answer, for its rates to mean much (greyed on the page)."""
        return self.n < MIN_MODEL_IMAGES or min(self.positives, self.negatives) < MIN_MODEL_POSITIVES

    def rate(self, metric: str) -> Rate:
        """accuracy, tpr, fpr, tnr or selection_rate (the share answered yes) as k of n."""
        counts = {
            "accuracy": (self.tp + self.tn, self.n),
            "tpr": (self.tp, self.positives),
            "fpr": (self.fp, self.negatives),
            "tnr": (self.tn, self.negatives),
            "selection_rate": (self.tp + self.fp, self.n),
        }
        return Rate(*counts[check_choice("rate", metric, counts)])

    def value(self, metric: str) -> float:
        """The metric's value; balanced accuracy is NaN unless the group has images of both answers."""
        if metric == "balanced_accuracy":
            return (self.rate("tpr").share + self.rate("tnr").share) / 2
        return self.rate(metric).share

    def interval(self, metric: str) -> tuple[float, float]:
        """95 % interval: Wilson's for a rate; for balanced accuracy the mean of the TPR's and TNR's Wilson ends.

        Balanced accuracy is not one binomial share, so it has no Wilson interval of its own; averaging the two
        intervals' ends gives one at least as wide as the pair's joint uncertainty (never falsely narrow).
        """
        if metric == "balanced_accuracy":
            (tpr_low, tpr_high), (tnr_low, tnr_high) = self.rate("tpr").interval, self.rate("tnr").interval
            return (tpr_low + tnr_low) / 2, (tpr_high + tnr_high) / 2
        return self.rate(metric).interval

    def to_json(self) -> dict:
        figures = {
            m: {"value": _json_float(self.value(m)), "low": _json_float(low), "high": _json_float(high)}
            for m in ("accuracy", "balanced_accuracy", "tpr", "fpr", "selection_rate")
            for low, high in [self.interval(m)]
        }
        return {"group": self.name, "images": self.n, "positives": self.positives, "small": self.small, **figures}


def _json_float(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


# ---------------------------------------------------------------- the audit


@dataclass(frozen=True)
class Difference:
    """Largest minus smallest value of a rate over the groups where it is defined, and the two groups."""

    value: float
    highest: GroupFigures | None
    lowest: GroupFigures | None

    def to_json(self) -> dict:
        return {
            "value": _json_float(self.value),
            "highest": self.highest.name if self.highest else None,
            "lowest": self.lowest.name if self.lowest else None,
        }


@dataclass(frozen=True, eq=False)
class FairnessAudit:
    """A model's answers for one attribute, split into groups, at the model's own threshold for it."""

    model_id: str
    target: str
    groups_by: tuple[str, ...]
    source: str  # a key of GROUP_SOURCES
    threshold: float
    worst_by: str  # a key of WORST_BY
    overall: GroupFigures
    groups: tuple[GroupFigures, ...]  # every group that has test images, in group_names order
    rows: np.ndarray = field(repr=False)  # (n,) table rows of the test images
    labels: np.ndarray = field(repr=False)  # (n,) 0/1 target labels
    probs: np.ndarray = field(repr=False)  # (n,) probabilities of yes
    codes: np.ndarray = field(repr=False)  # (n,) index into `names` of each image's group
    names: tuple[str, ...] = ()  # every possible group, in code order (empty ones included)

    @property
    def answers(self) -> np.ndarray:
        """(n,) bool: the model's yes/no at its threshold."""
        return self.probs >= self.threshold

    @property
    def worst(self) -> GroupFigures | None:
        """The group lowest on worst_by among those with enough images (None when no group has)."""
        scored = [g for g in self.groups if not g.small and not math.isnan(g.value(self.worst_by))]
        return min(scored, key=lambda g: g.value(self.worst_by)) if scored else None

    @property
    def lower_small_groups(self) -> tuple[GroupFigures, ...]:
        """Groups with too few images that score below the worst group (said, not chosen: they may be chance)."""
        worst = self.worst
        bar = worst.value(self.worst_by) if worst else math.inf
        return tuple(g for g in self.groups if g.small and g.value(self.worst_by) < bar)

    @property
    def worst_gap(self) -> float:
        """The worst group's worst_by minus all test images' (negative: the group does worse)."""
        worst = self.worst
        return worst.value(self.worst_by) - self.overall.value(self.worst_by) if worst else float("nan")

    def difference(self, metric: str) -> Difference:
        """Largest minus smallest `metric` over the groups where it is defined (NaN with fewer than two)."""
        defined = [g for g in self.groups if not math.isnan(g.value(metric))]
        if len(defined) < 2:
            return Difference(float("nan"), None, None)
        high = max(defined, key=lambda g: g.value(metric))
        low = min(defined, key=lambda g: g.value(metric))
        return Difference(high.value(metric) - low.value(metric), high, low)

    @property
    def equal_opportunity(self) -> Difference:
        """Equal-opportunity difference: the spread of true-positive rates (0 when every group's is the same)."""
        return self.difference("tpr")

    @property
    def demographic_parity(self) -> Difference:
        """Demographic-parity difference: the spread of the share answered yes, whatever the labels say."""
        return self.difference("selection_rate")

    def to_json(self) -> dict:
        worst = self.worst
        return {
            "model_id": self.model_id,
            "target": self.target,
            "groups_by": list(self.groups_by),
            "group_labels": self.source,
            "threshold": round(self.threshold, 6),
            "overall": self.overall.to_json(),
            "groups": [g.to_json() for g in self.groups],
            "worst_by": self.worst_by,
            "worst_group": worst.name if worst else None,
            "worst_value": _json_float(worst.value(self.worst_by)) if worst else None,
            "worst_gap": _json_float(self.worst_gap),
            "equal_opportunity_difference": self.equal_opportunity.to_json(),
            "demographic_parity_difference": self.demographic_parity.to_json(),
        }


def audit_answers(
    labels: np.ndarray,
    probs: np.ndarray,
    codes: np.ndarray,
    names: tuple[str, ...],
    threshold: float,
    worst_by: str = "balanced_accuracy",
    **about,
) -> FairnessAudit:
    """The audit of (n,) labels and probabilities split by (n,) group codes (indices into names)."""
    check_choice("figure to find the worst group by", worst_by, WORST_BY)
    labels = np.asarray(labels).astype(np.uint8).ravel()
    probs = np.asarray(probs, np.float64).ravel()
    codes = np.asarray(codes, np.int64).ravel()
    answers = probs >= threshold
    groups = tuple(
        GroupFigures.of(name, labels[codes == c], answers[codes == c])
        for c, name in enumerate(names)
        if (codes == c).any()
    )
    about = {"model_id": "", "target": "", "groups_by": (), "source": "image"} | about
    return FairnessAudit(
        threshold=float(threshold),
        worst_by=worst_by,
        overall=GroupFigures.of("all test images", labels, answers),
        groups=groups,
        labels=labels,
        probs=probs,
        codes=codes,
        names=tuple(names),
        rows=about.pop("rows", np.arange(len(labels))),
        **about,
    )


def audit_model(
    ds: Dataset,
    meta: ClassifierMeta,
    predictions: dict[str, np.ndarray],
    target: str,
    groups_by: tuple[str, ...],
    source: str = "image",
    worst_by: str = "balanced_accuracy",
) -> FairnessAudit:
    """The worst-group audit of a stored model's test predictions ({'rows', 'labels', 'probs'}) for `target`.

    Groups come from the dataset's current labels of `groups_by` (one or two attributes), per image or, with
    source 'person', per person (their usual label). ValueError says what to change.
    """
    check_choice("attribute", target, meta.attributes)
    check_choice("group labels", source, GROUP_SOURCES)
    groups_by = tuple(groups_by)
    if not 1 <= len(groups_by) <= MAX_GROUP_ATTRIBUTES:
        raise ValueError(f"Choose one or {MAX_GROUP_ATTRIBUTES} attributes to group the faces by.")
    for name in groups_by:
        check_choice("group attribute", name, ds.attributes)
    if target in groups_by or len(set(groups_by)) < len(groups_by):
        raise ValueError("Group by attributes other than the predicted one, each once.")
    if source == "person" and not ds.has_identity:
        raise ValueError(f"{ds.name} has no identities: group the faces by each image's own label.")
    rows = np.asarray(predictions["rows"])
    j = meta.attributes.index(target)
    columns = [ds.attributes.index(a) for a in groups_by]
    if source == "person":
        values = person_labels(ds.table["identity"].to_numpy(), ds.attribute_matrix()[:, columns])[rows]
    else:
        values = ds.attribute_matrix(rows)[:, columns]
    return audit_answers(
        predictions["labels"][:, j],
        predictions["probs"][:, j],
        group_codes(values),
        group_names(groups_by),
        meta.threshold(target),  # as the results table and the threshold slider use it
        worst_by,
        model_id=meta.model_id,
        target=target,
        groups_by=groups_by,
        source=source,
        rows=rows,
    )


# ---------------------------------------------------------------- per-group thresholds


def equal_tpr_thresholds(audit: FairnessAudit, target_tpr: float) -> np.ndarray:
    """(len(names),) threshold per group: the highest at which the group's true-positive rate reaches target_tpr.

    The highest such cut answers yes to the fewest of the group's negatives. It is the ceil(target * P)-th highest
    score among the group's P positives, found directly rather than searched. A group without positives (no rate
    to equalise) keeps the model's threshold.
    """
    out = np.full(len(audit.names), audit.threshold)
    for code in range(len(audit.names)):
        scores = np.sort(audit.probs[(audit.codes == code) & (audit.labels == 1)])[::-1]
        if len(scores):
            needed = max(1, math.ceil(target_tpr * len(scores) - 1e-9))
            out[code] = scores[min(needed, len(scores)) - 1]
    return out


@dataclass(frozen=True)
class TradeoffPoint:
    """Accuracy and true-positive-rate gap of all test images at one threshold per group."""

    kind: str  # "one threshold" | "per-group thresholds"
    thresholds: tuple[float, ...]  # one per group name
    accuracy: float
    tpr_gap: float  # the equal-opportunity difference at these thresholds
    target_tpr: float | None = None  # per-group thresholds: the rate every group was brought to (at least)


def point_at(audit: FairnessAudit, thresholds: np.ndarray, kind: str, target_tpr: float | None = None) -> TradeoffPoint:
    """The trade-off point of answering yes when prob >= thresholds[group]."""
    thresholds = np.asarray(thresholds, np.float64)
    answers = audit.probs >= thresholds[audit.codes]
    y = audit.labels.astype(bool)
    tprs = [
        float((answers & y & (audit.codes == c)).sum() / positives)
        for c in range(len(audit.names))
        if (positives := int((y & (audit.codes == c)).sum()))
    ]
    gap = max(tprs) - min(tprs) if len(tprs) >= 2 else float("nan")
    return TradeoffPoint(kind, tuple(map(float, thresholds)), float((answers == y).mean()), gap, target_tpr)


@dataclass(frozen=True)
class Tradeoff:
    """One shared threshold vs a threshold per group that equalises true-positive rates."""

    shared: tuple[TradeoffPoint, ...]  # one point per shared threshold (SHARED_CUTS and the model's own)
    per_group: tuple[TradeoffPoint, ...]  # one point per target true-positive rate
    model: TradeoffPoint  # the model's own threshold for every group
    equalised: TradeoffPoint | None  # every group brought to the TPR all test images get at the model's threshold

    def to_json(self) -> dict:
        def point(p: TradeoffPoint | None) -> dict | None:
            if p is None:
                return None
            return {
                "thresholds": [round(t, 6) for t in p.thresholds],
                "accuracy": _json_float(p.accuracy),
                "tpr_gap": _json_float(p.tpr_gap),
                "target_tpr": _json_float(p.target_tpr) if p.target_tpr is not None else None,
            }

        return {
            "model": point(self.model),
            "equalised": point(self.equalised),
            "per_group": [point(p) for p in self.per_group],
            "shared": [point(p) for p in self.shared],
        }


def threshold_tradeoff(audit: FairnessAudit, steps: int = TRADEOFF_STEPS) -> Tradeoff | None:
    """The accuracy-vs-gap trade-off of per-group thresholds, beside one shared threshold; None unless at least two
    groups have positives (there is no true-positive rate to equalise otherwise).

    Our own search rather than fairlearn's ThresholdOptimizer: that one answers some faces with a coin flip between
    two thresholds (a randomised rule that a class cannot reproduce or explain face by face) and would add a
    dependency; a deterministic cut per group is what a teacher can point at, and it is found exactly (see
    equal_tpr_thresholds). Figures are on the test split the thresholds are chosen on: an optimistic what-if.
    """
    with_positives = {int(c) for c in np.unique(audit.codes[audit.labels == 1])}
    if len(with_positives) < 2:
        return None
    n = len(audit.names)
    shared = tuple(
        point_at(audit, np.full(n, cut), "one threshold") for cut in np.unique(np.r_[SHARED_CUTS, audit.threshold])
    )
    targets = np.linspace(1 / steps, 1.0, steps)
    per_group = tuple(
        point_at(audit, equal_tpr_thresholds(audit, t), "per-group thresholds", float(t)) for t in targets
    )
    overall_tpr = audit.overall.value("tpr")
    equalised = (
        point_at(audit, equal_tpr_thresholds(audit, overall_tpr), "per-group thresholds", overall_tpr)
        if overall_tpr > 0
        else None
    )
    return Tradeoff(shared, per_group, point_at(audit, np.full(n, audit.threshold), "one threshold"), equalised)


# ---------------------------------------------------------------- the nearest face answered the other way


@dataclass(frozen=True)
class Counterpart:
    """The face nearest to a chosen one (by embedding) that the model answers the other way."""

    index: int  # into the audit's test images
    distance: float  # euclidean, in the embedding space


def nearest_answered_otherwise(
    vectors: np.ndarray, answers: np.ndarray, query: int, has_face: np.ndarray | None = None
) -> Counterpart | None:
    """Among (n, D) vectors, the one nearest to vectors[query] whose (n,) answer differs; None when there is none.

    has_face (n,) bool leaves out images without a face (their vectors mean nothing).
    """
    vectors = np.asarray(vectors, np.float64)
    answers = np.asarray(answers).astype(bool)
    candidates = answers != answers[query]
    if has_face is not None:
        candidates &= np.asarray(has_face, bool)
        if not has_face[query]:
            return None
    if not candidates.any():
        return None
    distances = np.sqrt(((vectors - vectors[query]) ** 2).sum(axis=1))
    distances[~candidates] = np.inf
    best = int(np.argmin(distances))
    return Counterpart(best, float(distances[best]))


# ---------------------------------------------------------------- sentences (the page and the lessons write them alike)


def worst_sentence(audit: FairnessAudit) -> str | None:
    """'The model does worst on **Male**: balanced accuracy 71.2% (95% interval …) on 258 test images, -20.1 pp
    against all test images.' None when no group has enough images to rank."""
    worst, label = audit.worst, WORST_BY[audit.worst_by]
    if worst is None:
        return None
    low, high = worst.interval(audit.worst_by)
    return (
        f"The model does worst on **{worst.name}**: {label} {fmt.percent(worst.value(audit.worst_by))} "
        f"(95% interval {fmt.percent(low)}–{fmt.percent(high)}) on {fmt.plural(worst.n, 'test image')}, "
        f"{fmt.signed_points(audit.worst_gap)} against all test images."
    )


def tradeoff_sentence(audit: FairnessAudit, tradeoff: Tradeoff) -> str:
    """The model's one threshold beside per-group thresholds that give every group the overall true-positive rate."""
    model, equalised = tradeoff.model, tradeoff.equalised
    text = (
        f"One threshold ({fmt.decimal(audit.threshold, THRESHOLD_DECIMALS)}) for everyone: accuracy {fmt.percent(model.accuracy)}, "
        f"true-positive rates {fmt.points(model.tpr_gap)} apart."
    )
    if equalised is None:
        return text
    cuts = ", ".join(
        f"{name} {fmt.decimal(t, THRESHOLD_DECIMALS)}"
        for code, (name, t) in enumerate(zip(audit.names, equalised.thresholds))
        if (audit.codes == code).any()
    )
    return text + (
        f" A threshold per group ({cuts}) that gives every group at least the true-positive rate all test images "
        f"get ({fmt.percent(equalised.target_tpr)}): accuracy {fmt.percent(equalised.accuracy)}, rates "
        f"{fmt.points(equalised.tpr_gap)} apart."
    )
