"""Suspect attribute labels: out-of-fold predicted probabilities, then confident learning (cleanlab).

1. Features: the face descriptors (when the dataset has embeddings) beside a PCA of 24 x 30 whole-image
   thumbnails (when it has images). The descriptor sees the aligned face only, not what lies around it: on the
   demo it found 58 % of planted Wearing_Hat flips at 0.58 precision, the thumbnails 99 %.
2. Out-of-fold probabilities: folds are drawn by identity (given enough people), so no person's photos are scored
   by a model that saw that person (a model that memorised a face would vouch for its labels). One L2-regularised
   logistic regression per attribute, all attributes fitted together in one L-BFGS problem (the objective is a sum over attributes,
   so the fits are exactly the separate ones, at the cost of one matrix product per step).
3. Only attributes the model can see are checked: where its out-of-fold ROC AUC is below MIN_AUC, a disagreement
   says more about the model than about the label (on the 6,000-image demo, whose labels are all right,
   Wearing_Necklace and Bald: 0.77 and 0.78), and labels known not to show (the demo's Attractive, never drawn;
   passed in as `unseen`) are not fitted at all. The bar is low on purpose: heavy label noise looks the same to
   the model (3 % of Wearing_Hat flipped on the 400-image test demo, 40 % of its yes labels: AUC 0.85, as the
   undrawn Attractive), and finding that noise is the check's job.
4. Confident learning per attribute (cleanlab): the number of errors is estimated from the calibrated confident
   joint (cleanlab's `off_diagonal_calibrated`; its default count under-estimates with two classes, as its own
   documentation warns: on the demo it found 136 of 180 planted flips), and `find_label_issues` returns that
   many suspects, ranked by self-confidence (the probability the model gives the annotated label).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from core.processes import map_in_threads
from core.quality.projection import principal_axes

# Lazy imports: scipy.optimize and cleanlab are imported inside the functions that use them.

log = logging.getLogger(__name__)

N_FOLDS = 5
C = 0.1  # inverse L2 strength per sample, as scikit-learn's LogisticRegression(C=...) on standardised features
PIXEL_COMPONENTS = 64  # PCA components kept of the thumbnails
PCA_SAMPLE = 20_000  # rows the PCA is fitted on
MIN_PER_CLASS = 2 * N_FOLDS  # an attribute needs this many images of each value to be audited
MIN_AUC = 0.8  # below, the model cannot see the attribute well enough for its disagreements to mean a wrong label
WEAK_AUC = 0.9  # below, it sees it poorly: the page says its suspects are weaker evidence
MAX_ITER = 300
# At most one feature per this many usable images (shared among the sources): on the 400-image test demo all 192
# features let the models memorise (planted Eyeglasses flips found at 0.04 precision); 50 per source did not.
IMAGES_PER_FEATURE = 4
MAX_FIT_ROWS = 40_000  # training rows per fold's fit (a seeded sample beyond that)
# Folds hold out whole people only when each fold still leaves many people to learn from: with few identities a
# rare, person-bound attribute (glasses) is worn by one or two people, and holding them out leaves the model no
# example of it (400 demo images of 20 people, 3 % flips: precision at 0.8 recall 0.29 by people, 0.71-0.74 by rows).
MIN_IDENTITIES_PER_FOLD = 20

ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class LabelFeatures:
    """The matrix the label models see."""

    X: np.ndarray  # (N, d) float64, standardised columns
    usable: np.ndarray  # (N,) bool: rows with at least one feature source
    sources: tuple[str, ...]  # "face descriptors", "image thumbnails"


def _standardise(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    mean = X[rows].mean(axis=0)
    std = X[rows].std(axis=0)
    return (X - mean) / np.where(std > 1e-9, std, 1.0)


def thumbnail_components(thumbs: np.ndarray, usable: np.ndarray, components: int = PIXEL_COMPONENTS, seed: int = 0):
    """(N, components) float64 PCA scores of flattened (N, h, w, 3) uint8 thumbnails (fitted on a seeded sample)."""
    flat = thumbs.reshape(len(thumbs), -1)
    rows = np.flatnonzero(usable)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(rows, min(len(rows), PCA_SAMPLE), replace=False))
    mean, basis = principal_axes(flat[sample].astype(np.float64) / 255.0, components, seed)
    out = np.zeros((len(flat), len(basis)))
    for start in range(0, len(flat), 10_000):  # float64 copies of a block only: all of CelebA's would be 3.5 GB
        block = flat[start : start + 10_000].astype(np.float64) / 255.0
        out[start : start + 10_000] = (block - mean) @ basis.T
    out[~usable] = 0.0
    return out


def label_features(
    vectors: np.ndarray | None,
    has_face: np.ndarray | None,
    thumbs: np.ndarray | None,
    readable: np.ndarray | None,
    seed: int = 0,
) -> LabelFeatures:
    """Whitened face descriptors (N, D) and/or thumbnail PCA scores side by side; missing parts are zeros.

    Each source is whitened on its own, so that with few images each keeps its own largest components (the
    descriptor's would otherwise crowd out the thumbnails', where hats and hair are).
    """
    parts, usable, sources = [], None, []
    n_sources = int(vectors is not None) + int(thumbs is not None and readable is not None)
    if vectors is not None:
        face = np.asarray(has_face, bool)
        parts.append(np.where(face[:, None], whiten(np.asarray(vectors, np.float64), face, n_sources), 0.0))
        usable, sources = face.copy(), ["face descriptors"]
    if thumbs is not None and readable is not None and np.asarray(readable).any():
        ok = np.asarray(readable, bool)
        pixels = thumbnail_components(thumbs, ok, seed=seed)
        parts.append(np.where(ok[:, None], whiten(pixels, ok, n_sources), 0.0))
        usable = ok.copy() if usable is None else usable | ok
        sources.append("image thumbnails")
    if not parts:
        raise ValueError("no features: the label check needs face embeddings or image files")
    return LabelFeatures(np.hstack(parts), usable, tuple(sources))


def whiten(X: np.ndarray, rows: np.ndarray, share: int = 1) -> np.ndarray:
    """PCA-whitened copy of (N, d) X (statistics of `rows`): decorrelated unit-variance columns, the largest
    components only when there are few images (IMAGES_PER_FEATURE, shared among `share` sources).

    Descriptor dimensions are strongly correlated; on decorrelated inputs L-BFGS needs a fraction of the steps.
    """
    mean = X[rows].mean(axis=0)
    centred = X - mean
    cov = centred[rows].T @ centred[rows] / max(int(np.sum(rows)) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    keep = values > values.max() * 1e-8
    most = max(8, int(np.sum(rows)) // (IMAGES_PER_FEATURE * share))
    keep &= np.arange(len(values)) >= len(values) - most  # eigh sorts ascending: the largest components last
    return centred @ (vectors[:, keep] / np.sqrt(values[keep]))


def group_folds(identity: Sequence, n_folds: int = N_FOLDS, seed: int = 0) -> np.ndarray:
    """(N,) int fold of each row: whole identities per fold (rows without one are their own group), sizes balanced.

    With fewer than MIN_IDENTITIES_PER_FOLD people per fold, every row is its own group (folds of images).
    """
    people = {str(v) for v in identity if v is not None and v != ""}
    if len(people) < MIN_IDENTITIES_PER_FOLD * n_folds:
        identity = [None] * len(identity)
    keys = [f"\0{i}" if v is None or v == "" else str(v) for i, v in enumerate(identity)]
    groups, inverse, sizes = np.unique(np.array(keys, dtype=str), return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(groups))
    # Walk the shuffled groups, cutting the running row count into n_folds equal spans.
    cumulative = np.cumsum(sizes[order]) - sizes[order] / 2.0
    fold_of_group = np.empty(len(groups), np.int64)
    fold_of_group[order] = np.minimum((cumulative * n_folds / len(keys)).astype(np.int64), n_folds - 1)
    return fold_of_group[inverse]


def fit_logistic(
    X: np.ndarray, Y: np.ndarray, weights: np.ndarray | None = None, c: float | None = None, gtol: float = 1e-5
) -> tuple[np.ndarray, np.ndarray]:
    """(W (d, A), b (A,)) of one L2 logistic regression per column of (n, A) 0/1 Y, fitted together (L-BFGS).

    Minimises, per column, the (weights-weighted) sum of log losses + ||w||^2 / (2c): scikit-learn's objective
    with C=c and sample_weight (intercepts not penalised). weights: (n, A) >= 0, default all ones. The objective
    is divided by n so that `gtol` means the same at every size.
    """
    from scipy.optimize import minimize

    c = C if c is None else c
    n, d, a = X.shape[0], X.shape[1], Y.shape[1]
    Yf = Y.astype(np.float64)
    w = np.ones(Y.shape) if weights is None else np.asarray(weights, np.float64)

    def loss_and_grad(theta: np.ndarray):
        W, b = theta[: d * a].reshape(d, a), theta[d * a :]
        z = X @ W + b
        loss = (w * (np.logaddexp(0.0, z) - Yf * z)).sum() + (W**2).sum() / (2 * c)  # log(1 + e^z) - y z, stably
        r = w * (1.0 / (1.0 + np.exp(-z)) - Yf)
        grad = np.concatenate([(X.T @ r + W / c).ravel(), r.sum(axis=0)])
        return loss / n, grad / n

    prior = np.clip((w * Yf).sum(axis=0) / np.maximum(w.sum(axis=0), 1e-12), 1e-6, 1 - 1e-6)
    theta0 = np.concatenate([np.zeros(d * a), np.log(prior / (1 - prior))])
    options = {"maxiter": MAX_ITER, "gtol": gtol}
    result = minimize(loss_and_grad, theta0, jac=True, method="L-BFGS-B", options=options)
    return result.x[: d * a].reshape(d, a), result.x[d * a :]


def out_of_fold_probabilities(
    X: np.ndarray,
    Y: np.ndarray,
    folds: np.ndarray,
    weights: np.ndarray | None = None,
    progress: ProgressFn | None = None,
    seed: int = 0,
) -> np.ndarray:
    """(N, A) float64 P(attribute = 1) of each row from the models fitted on the other folds (weights: (N, A)).

    Each fold's models are fitted on at most MAX_FIT_ROWS of its training rows (a seeded sample): a linear model on
    a few hundred features has learnt what it can long before that, and the cost of a fit grows with the rows.
    """
    probs = np.zeros(Y.shape)
    n_folds = int(folds.max()) + 1 if len(folds) else 0
    rng = np.random.default_rng(seed)
    trains = []
    for k in range(n_folds):  # drawn in fold order, so the samples do not depend on the threads
        train = np.flatnonzero(folds != k)
        trains.append(np.sort(rng.choice(train, MAX_FIT_ROWS, replace=False)) if len(train) > MAX_FIT_ROWS else train)

    def fit(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return fit_logistic(X[train], Y[train], None if weights is None else weights[train])

    if progress:
        progress(0.0, f"fitting {n_folds} folds")
    # The folds' fits are independent: one per core (SciPy's L-BFGS-B is re-entrant since 1.15, its C rewrite).
    for k, (W, b) in enumerate(map_in_threads(fit, trains)):
        test = folds == k
        probs[test] = 1.0 / (1.0 + np.exp(-(X[test] @ W + b)))
        if progress:
            progress((k + 1) / n_folds, f"fold {k + 1} of {n_folds} fitted")
    return probs


def cleaned_probabilities(
    X: np.ndarray, Y: np.ndarray, folds: np.ndarray, progress: ProgressFn | None = None
) -> np.ndarray:
    """Out-of-fold probabilities in two rounds: the second trains without the labels the first disagreed with.

    Confident learning's own recipe (find issues, prune, retrain). Wrong labels in the training folds blunt the
    probabilities of the images they resemble: on the demo with 3 % planted flips the first round gave the
    flipped Eyeglasses images P(true) 0.8-0.95, below confident learning's per-class thresholds, and the
    calibrated count found 78 % of the flips; after the second round 92-94 % at precision 1.0.
    """

    def stage(offset: float, label: str):
        return (lambda f, m: progress((offset + f) / 2, f"{label}: {m}")) if progress else None

    first = out_of_fold_probabilities(X, Y, folds, progress=stage(0, "first round"))
    agree = ((first >= 0.5) == (Y == 1)).astype(np.float64)
    return out_of_fold_probabilities(X, Y, folds, weights=agree, progress=stage(1, "second round"))


@dataclass(frozen=True)
class AttributeIssues:
    """Confident learning's verdict on one attribute."""

    attribute: str
    estimated_errors: int  # cleanlab's calibrated estimate of how many labels are wrong
    suspects: np.ndarray  # (k,) int64 rows, likeliest error first (k == estimated_errors up to rounding)
    accuracy: float  # out-of-fold accuracy of the model against the annotations
    balanced_accuracy: float
    auc: float  # out-of-fold ROC AUC against the annotations: how well the model ranks yes above no


def attribute_issues(attribute: str, labels: np.ndarray, probs: np.ndarray) -> AttributeIssues:
    """Confident learning's suspects among (n,) 0/1 labels given (n,) out-of-fold P(label = 1).

    cleanlab estimates the joint of annotated and true values from the calibrated confident joint; the number of
    errors among the images annotated v is its off-diagonal mass in row v. Those images with the lowest
    self-confidence (cleanlab's label quality score: the probability of the annotated value) are the suspects:
    what cleanlab's find_label_issues(filter_by="prune_by_class", num_to_remove_per_class=...) returns up to its
    rounding of the counts, done here because that function divides 0 by 0 for a value with no estimated errors.
    """
    from cleanlab.count import compute_confident_joint, estimate_joint
    from cleanlab.rank import get_label_quality_scores
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, np.int64)
    pred = np.column_stack([1.0 - probs, probs])
    joint = estimate_joint(labels, pred, confident_joint=compute_confident_joint(labels, pred, calibrate=True))
    per_value = np.rint((joint.sum(axis=1) - np.diag(joint)) * len(labels)).astype(np.int64)
    quality = get_label_quality_scores(labels, pred, method="self_confidence")
    picked = []
    for value in (0, 1):
        rows = np.flatnonzero(labels == value)
        count = int(min(per_value[value], len(rows)))
        picked.append(rows[np.argsort(quality[rows], kind="stable")[:count]])
    suspects = np.concatenate(picked)
    suspects = suspects[np.argsort(quality[suspects], kind="stable")]
    predicted = (probs >= 0.5).astype(np.int64)
    recalls = [float((predicted[labels == v] == v).mean()) for v in (0, 1)]
    return AttributeIssues(
        attribute=attribute,
        estimated_errors=int(per_value.sum()),
        suspects=suspects.astype(np.int64),
        accuracy=float((predicted == labels).mean()),
        balanced_accuracy=float(np.mean(recalls)),
        auc=float(roc_auc_score(labels, probs)),
    )


@dataclass(frozen=True)
class UnseenAttribute:
    """An attribute the check leaves out because the images do not show it (to the model, or at all)."""

    attribute: str
    reason: str  # said to the user, e.g. "not drawn on the demo" or "the model cannot see it (ROC AUC 0.77)"
    auc: float | None  # the model's out-of-fold ROC AUC, None where it was not fitted


@dataclass(frozen=True)
class LabelAudit:
    """What the label check found; the two tables are what the page shows and exports."""

    summary: pl.DataFrame  # one row per attribute checked
    suspects: pl.DataFrame  # one row per suspect label: confident learning's (likely) and other disagreements
    sources: tuple[str, ...]
    unseen: tuple[UnseenAttribute, ...] = ()  # attributes left out because the images do not show them


def audit_labels(
    table: pl.DataFrame,
    attributes: Sequence[str],
    features: LabelFeatures,
    seed: int = 0,
    progress: ProgressFn | None = None,
    unseen: dict[str, str] | None = None,
) -> LabelAudit:
    """Out-of-fold probabilities and cleanlab's suspects for every attribute with enough images of each value
    that the model can see (out-of-fold ROC AUC at least MIN_AUC); `unseen`: {attribute: why} known not to show
    in the images, left out unfitted."""
    unseen = dict(unseen or {})
    rows = np.flatnonzero(features.usable)
    Y_all = table.select(attributes).to_numpy().astype(np.int64) if attributes else np.zeros((len(table), 0))
    Y = Y_all[rows]
    counts = Y.sum(axis=0)
    enough = [a for a, k in zip(attributes, counts) if MIN_PER_CLASS <= k <= len(rows) - MIN_PER_CLASS]
    skipped = [a for a in attributes if a not in enough]
    audited = [a for a in enough if a not in unseen]
    left_out = [UnseenAttribute(a, unseen[a], None) for a in enough if a in unseen]
    index = [list(attributes).index(a) for a in audited]
    folds = group_folds(table["identity"].to_list(), seed=seed)[rows]
    X = features.X[rows]

    def fold_progress(fraction: float, message: str) -> None:
        if progress:
            progress(0.8 * fraction, message)

    probs = cleaned_probabilities(X, Y[:, index], folds, fold_progress) if audited else np.zeros((len(rows), 0))
    summary, suspects = [], []
    for j, attribute in enumerate(audited):
        if progress:
            progress(0.8 + 0.2 * j / len(audited), f"confident learning on {attribute}")
        found = attribute_issues(attribute, Y[:, index[j]], probs[:, j])
        if found.auc < MIN_AUC:
            left_out.append(UnseenAttribute(attribute, "the model cannot see it", found.auc))
            continue
        summary.append(
            {
                "attribute": attribute,
                "images": len(rows),
                "prevalence": float(Y[:, index[j]].mean()),
                "estimated_errors": found.estimated_errors,
                "error_rate": found.estimated_errors / len(rows),
                "suspects": len(found.suspects),
                "disagreements": int(((probs[:, j] >= 0.5) != (Y[:, index[j]] == 1)).sum()),
                "model_accuracy": found.accuracy,
                "model_balanced_accuracy": found.balanced_accuracy,
                "model_auc": found.auc,
            }
        )
        suspects.append(_suspect_frame(attribute, rows, Y[:, index[j]], probs[:, j], found.suspects))
    for attribute in skipped:
        log.info("label check skips %s: fewer than %d images of one of its values", attribute, MIN_PER_CLASS)
    frame = pl.concat(suspects) if suspects else _empty_suspects()
    frame = frame.with_columns(
        pl.Series("image_id", table["image_id"].gather(frame["row"]).to_list(), dtype=pl.Utf8),
        pl.Series("identity", table["identity"].gather(frame["row"]).to_list(), dtype=pl.Utf8),
    )
    summary_frame = pl.DataFrame(summary, schema=SUMMARY_SCHEMA) if summary else pl.DataFrame(schema=SUMMARY_SCHEMA)
    return LabelAudit(summary_frame, frame, features.sources, tuple(left_out))


def _suspect_frame(attribute: str, rows: np.ndarray, annotated: np.ndarray, p1: np.ndarray, likely: np.ndarray):
    """Confident learning's suspects (likely = True) and every other image the model disagrees with, likeliest first."""
    disagree = np.flatnonzero((p1 >= 0.5) != (annotated == 1))
    local = np.union1d(likely, disagree)
    p_annotated = np.where(annotated[local] == 1, p1[local], 1 - p1[local])
    order = np.lexsort((local, p_annotated))
    local, p_annotated = local[order], p_annotated[order]
    return pl.DataFrame(
        {
            "attribute": [attribute] * len(local),
            "rank": np.arange(1, len(local) + 1, dtype=np.int64),
            "row": rows[local].astype(np.int64),
            "annotated": annotated[local].astype(np.int8),
            "predicted": (p1[local] >= 0.5).astype(np.int8),
            "p_annotated": p_annotated,
            "confidence": np.maximum(p1[local], 1 - p1[local]),
            "likely": np.isin(local, likely),
        }
    )


SUMMARY_SCHEMA = {
    "attribute": pl.Utf8,
    "images": pl.Int64,
    "prevalence": pl.Float64,
    "estimated_errors": pl.Int64,
    "error_rate": pl.Float64,
    "suspects": pl.Int64,
    "disagreements": pl.Int64,
    "model_accuracy": pl.Float64,
    "model_balanced_accuracy": pl.Float64,
    "model_auc": pl.Float64,
}


def _empty_suspects() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "attribute": pl.Utf8,
            "rank": pl.Int64,
            "row": pl.Int64,
            "annotated": pl.Int8,
            "predicted": pl.Int8,
            "p_annotated": pl.Float64,
            "confidence": pl.Float64,
            "likely": pl.Boolean,
        }
    )
