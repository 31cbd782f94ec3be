"""Binary classification metrics per attribute, curves, subgroup gaps and error lists.

Conventions: `labels` is (N,) or (N, A) 0/1, `probs` the predicted probability of the
positive class with the same shape; a prediction is positive when prob >= threshold.
Metrics that are undefined (e.g. AUC with one class present) are NaN, never an error.
"""

from __future__ import annotations

import numpy as np
import polars as pl

METRIC_NAMES = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "auc",
    "positive_rate",
    "predicted_positive_rate",
    "majority_accuracy",
)
CLI_METRICS = ("accuracy", "balanced_accuracy", "f1", "auc", "majority_accuracy")


def confusion_counts(labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> dict[str, int]:
    """True/false positives/negatives of one attribute at `threshold`: {"tp", "fp", "fn", "tn"}."""
    y = np.asarray(labels).astype(bool).ravel()
    pred = np.asarray(probs).ravel() >= threshold
    return {
        "tp": int(np.sum(pred & y)),
        "fp": int(np.sum(pred & ~y)),
        "fn": int(np.sum(~pred & y)),
        "tn": int(np.sum(~pred & ~y)),
    }


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def roc_auc(labels: np.ndarray, probs: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney statistic, ties count half); NaN with one class."""
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(probs, dtype=np.float64).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """All METRIC_NAMES for one attribute (fractions in 0-1; NaN where undefined)."""
    c = confusion_counts(labels, probs, threshold)
    n = c["tp"] + c["fp"] + c["fn"] + c["tn"]
    pos = c["tp"] + c["fn"]
    recall = _ratio(c["tp"], pos)
    specificity = _ratio(c["tn"], c["tn"] + c["fp"])
    precision = _ratio(c["tp"], c["tp"] + c["fp"])
    f1 = _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])
    if np.isnan(recall) or np.isnan(specificity):
        balanced = recall if np.isnan(specificity) else specificity
    else:
        balanced = (recall + specificity) / 2
    positive_rate = _ratio(pos, n)
    return {
        "accuracy": _ratio(c["tp"] + c["tn"], n),
        "balanced_accuracy": float(balanced),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "auc": roc_auc(labels, probs),
        "positive_rate": positive_rate,
        "predicted_positive_rate": _ratio(c["tp"] + c["fp"], n),
        "majority_accuracy": max(positive_rate, 1 - positive_rate) if n else float("nan"),
    }


def attribute_metrics(
    labels: np.ndarray, probs: np.ndarray, attributes: tuple[str, ...] | list[str], threshold=0.5
) -> pl.DataFrame:
    """One row per attribute with METRIC_NAMES columns; labels/probs (N, A); threshold: one or one per attribute."""
    labels = np.asarray(labels).reshape(len(labels), -1)
    probs = np.asarray(probs).reshape(len(probs), -1)
    thresholds = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (labels.shape[1],))
    rows = [
        {"attribute": a, **binary_metrics(labels[:, j], probs[:, j], float(thresholds[j]))}
        for j, a in enumerate(attributes)
    ]
    return pl.DataFrame(rows, schema={"attribute": pl.String, **dict.fromkeys(METRIC_NAMES, pl.Float64)})


# Decision thresholds are chosen, shown and linked to this many decimals: a rare attribute's validation negatives can
# end near 0.03 while its unseen positives score 0.05-0.2, so a 0.01 grid cannot place its cut.
THRESHOLD_DECIMALS = 3
THRESHOLD_STEP = 10.0**-THRESHOLD_DECIMALS


def balanced_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """(A,) threshold per attribute maximising balanced accuracy on (N, A) labels/probs (e.g. validation).

    A model trained on imbalanced labels ranks well (high AUC) but 0.5 is the wrong cut for rare attributes; the cut
    is chosen on validation so the test figures stay honest. 0.5 where a class is absent. Cuts run over a 0.001 grid;
    among cuts that tie (validation separates the classes), the lowest: just above the validation negatives. A rare
    attribute's validation positives are one or two people, its negatives dozens, so the negatives' upper edge is the
    better-measured bound, and unseen people with the attribute often score lower than the few seen (measured on the
    demo's Bald: docs/bench/classify.md).
    """
    labels = np.asarray(labels).reshape(len(labels), -1) > 0
    probs = np.asarray(probs).reshape(len(probs), -1)
    cuts = np.round(np.arange(1, round(1 / THRESHOLD_STEP)) * THRESHOLD_STEP, THRESHOLD_DECIMALS)
    out = np.full(labels.shape[1], 0.5)
    for j in range(labels.shape[1]):
        y, p = labels[:, j], probs[:, j]
        positives, negatives = np.sort(p[y]), np.sort(p[~y])
        if not len(positives) or not len(negatives):
            continue
        # Counts at each cut (a score >= cut says yes), in integers so ties are exact.
        found = len(positives) - np.searchsorted(positives, cuts, side="left")
        rejected = np.searchsorted(negatives, cuts, side="left")
        score = found * len(negatives) + rejected * len(positives)  # balanced accuracy x 2 x n_pos x n_neg
        out[j] = float(cuts[int(np.argmax(score))])  # argmax: the first, lowest, of tied cuts
    return out


def below_majority(metrics: dict[str, dict]) -> list[str]:
    """Attributes (of {attribute: {metric: value}}) whose accuracy is not above their majority-class accuracy:
    always giving the commoner answer would be right at least as often. Attributes without both figures are left out.
    """
    out = []
    for attribute, m in metrics.items():
        accuracy, majority = m.get("accuracy"), m.get("majority_accuracy")
        if accuracy is None or majority is None or np.isnan(accuracy) or np.isnan(majority):
            continue
        if not accuracy > majority:
            out.append(attribute)
    return out


def mean_metrics(table: pl.DataFrame) -> dict[str, float]:
    """Mean of each metric over attributes (NaNs ignored)."""
    out = {}
    for m in METRIC_NAMES:
        values = table[m].to_numpy()
        values = values[~np.isnan(values)]
        out[m] = float(values.mean()) if len(values) else float("nan")
    return out


def roc_curve(labels: np.ndarray, probs: np.ndarray) -> pl.DataFrame:
    """ROC points (false_positive_rate, true_positive_rate, threshold), from (0,0) to (1,1)."""
    y, s = np.asarray(labels).astype(bool).ravel(), np.asarray(probs, dtype=np.float64).ravel()
    thresholds, tp, fp = _cumulative_counts(y, s)
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return pl.DataFrame(
        {
            "false_positive_rate": np.r_[0.0, fp / n_neg],
            "true_positive_rate": np.r_[0.0, tp / n_pos],
            "threshold": np.r_[1.0, thresholds],
        }
    )


def pr_curve(labels: np.ndarray, probs: np.ndarray) -> pl.DataFrame:
    """Precision-recall points (recall, precision, threshold) over every distinct score."""
    y, s = np.asarray(labels).astype(bool).ravel(), np.asarray(probs, dtype=np.float64).ravel()
    thresholds, tp, fp = _cumulative_counts(y, s)
    n_pos = max(int(y.sum()), 1)
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    return pl.DataFrame({"recall": tp / n_pos, "precision": precision, "threshold": thresholds})


def _cumulative_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each distinct score (descending): the score, TP and FP counts when predicting >= it."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    last_of_run = np.r_[np.diff(s_sorted) != 0, True] if len(s_sorted) else np.zeros(0, bool)
    return s_sorted[last_of_run], tp[last_of_run].astype(float), fp[last_of_run].astype(float)


def subgroup_metrics(
    labels: np.ndarray, probs: np.ndarray, groups: np.ndarray, group_names: tuple[str, str], threshold: float = 0.5
) -> pl.DataFrame:
    """Metrics of one attribute within each group (groups: (N,) 0/1) plus a 'gap' row (|g1 - g0|)."""
    groups = np.asarray(groups).astype(bool).ravel()
    rows = []
    for value, name in ((False, group_names[0]), (True, group_names[1])):
        mask = groups == value
        rows.append({"group": name, "images": int(mask.sum()), **binary_metrics(labels[mask], probs[mask], threshold)})
    gap = {"group": "gap", "images": None}
    for m in METRIC_NAMES:
        a, b = rows[0][m], rows[1][m]
        gap[m] = abs(b - a) if not (np.isnan(a) or np.isnan(b)) else float("nan")
    rows.append(gap)
    return pl.DataFrame(
        rows, schema={"group": pl.String, "images": pl.Int64, **dict.fromkeys(METRIC_NAMES, pl.Float64)}
    )


def error_rows(labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5, limit: int = 12) -> dict[str, np.ndarray]:
    """Indices of the most confident false positives and false negatives (worst first)."""
    y, s = np.asarray(labels).astype(bool).ravel(), np.asarray(probs, dtype=np.float64).ravel()
    pred = s >= threshold
    fp = np.flatnonzero(pred & ~y)
    fn = np.flatnonzero(~pred & y)
    return {
        "false_positives": fp[np.argsort(-s[fp], kind="mergesort")][:limit],
        "false_negatives": fn[np.argsort(s[fn], kind="mergesort")][:limit],
    }
