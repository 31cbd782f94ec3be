"""Attribute statistics for any subset: prevalence, co-occurrence, P(A|B), phi, lift, models.

Conventions: X is an (N, A) uint8 0/1 attribute matrix (rows = images, columns =
attributes in Dataset.attributes order). Every pairwise matrix M is indexed
M[a, b] with a the *outcome* attribute A and b the *conditioning* attribute B, so
conditional[a, b] = P(A=1 | B=1). Undefined values (empty subset, zero
denominators) are NaN, never a division error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from core import format as fmt
from core.data.split import Split, split_rows
from core.stats.intervals import FEW_IMAGES, MIN_MODEL_IMAGES, MIN_MODEL_POSITIVES, Z95, toward, wilson_interval

# Lazy imports: SciPy's submodules, scikit-learn are imported inside the functions that use them, so pages and
# commands that never call them do not pay their import time and memory on a shared server.

EXACT_F32_ROWS = 1 << 24  # float32 sums of 0/1 products are exact below 2**24
MEASURES = ("P(A|B)", "phi", "lift")
MODEL_TRAIN_CAP = 20_000  # rows sampled to train one attribute-from-attributes model
MODEL_SPLIT = (0.8, 0.0, 0.2)  # train, validation (none: nothing to tune), test


# ------------------------------------------------------------------ counts and ratios


def prevalence(X: np.ndarray) -> np.ndarray:
    """(A,) float64 share of rows with each attribute; NaN for an empty X."""
    if X.shape[0] == 0:
        return np.full(X.shape[1], np.nan)
    return X.sum(axis=0, dtype=np.int64) / X.shape[0]


def cooccurrence(X: np.ndarray) -> np.ndarray:
    """(A, A) int64 counts of rows having both attributes (X.T @ X), exact for any N.

    Each attribute column is packed into 64-bit words, then every pair is counted
    with AND + popcount: single-threaded, so it stays fast on a busy shared machine
    where a multi-threaded BLAS product stalls (see docs/bench/stats.md).
    """
    _n, n_attrs = X.shape
    packed = np.packbits(np.ascontiguousarray(X.T, dtype=np.uint8), axis=1)  # (A, ceil(N / 8)) bytes
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    words = packed.view(np.uint64)  # (A, ceil(N / 64))
    counts = np.empty((n_attrs, n_attrs), dtype=np.int64)
    for i in range(n_attrs):
        counts[i, i:] = np.bitwise_count(words[i] & words[i:]).sum(axis=1, dtype=np.int64)
        counts[i:, i] = counts[i, i:]
    return counts


def cooccurrence_blas(X: np.ndarray) -> np.ndarray:
    """(A, A) int64 X.T @ X through float32 BLAS in blocks of < 2**24 rows (exact); the alternative benchmarked."""
    counts = np.zeros((X.shape[1], X.shape[1]), dtype=np.int64)
    for start in range(0, X.shape[0], EXACT_F32_ROWS):
        block = X[start : start + EXACT_F32_ROWS].astype(np.float32)
        counts += np.rint(block.T @ block).astype(np.int64)
    return counts


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float64 with NaN where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


@dataclass(frozen=True)
class RelationStats:
    """Counts of one subset and every pairwise measure derived from them (all (A, A) float64)."""

    attributes: tuple[str, ...]
    n: int  # rows in the subset
    counts: np.ndarray  # (A,) int64 rows with each attribute
    both: np.ndarray  # (A, A) int64 rows with A and B

    @property
    def prevalence(self) -> np.ndarray:
        return _ratio(self.counts, np.full(len(self.counts), self.n))

    @property
    def conditional(self) -> np.ndarray:
        """P(A=1 | B=1) = n(A,B) / n(B)."""
        return _ratio(self.both, self.counts[None, :])

    @property
    def conditional_not(self) -> np.ndarray:
        """P(A=1 | B=0) = (n(A) - n(A,B)) / (n - n(B))."""
        return _ratio(self.counts[:, None] - self.both, self.n - self.counts[None, :])

    @property
    def lift(self) -> np.ndarray:
        """P(A,B) / (P(A) P(B)) = n n(A,B) / (n(A) n(B))."""
        return _ratio(self.n * self.both.astype(np.float64), np.outer(self.counts, self.counts).astype(np.float64))

    @property
    def phi(self) -> np.ndarray:
        """Phi (Pearson correlation of two 0/1 variables); NaN when either is constant."""
        n = float(self.n)
        c = self.counts.astype(np.float64)
        spread = c * (n - c)
        return _ratio(n * self.both - np.outer(c, c), np.sqrt(np.outer(spread, spread)))

    def measure(self, name: str) -> np.ndarray:
        """The (A, A) matrix of one measure by name (see MEASURES)."""
        if name == "P(A|B)":
            return self.conditional
        if name == "phi":
            return self.phi
        if name == "lift":
            return self.lift
        raise ValueError(f"Unknown measure {name!r}; choose one of {', '.join(MEASURES)}.")

    def interval(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) (A, A) 95 % intervals of one measure: Wilson for P(A|B) and lift, Fisher's z for phi."""
        if name == "phi":
            if self.n <= 3:
                nan = np.full(self.both.shape, np.nan)
                return nan, nan
            centre = np.arctanh(np.clip(self.phi, -0.999999, 0.999999))
            half = Z95 / np.sqrt(self.n - 3)
            return np.tanh(centre - half), np.tanh(centre + half)
        low, high = wilson_interval(self.both, np.broadcast_to(self.counts[None, :], self.both.shape))
        if name == "lift":
            p_a = self.prevalence[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                return low / p_a, high / p_a
        self.measure(name)  # unknown names raise
        return low, high

    def strength(self, name: str) -> np.ndarray:
        """(A, A) the measure moved to the end of its 95 % interval nearest 'no relation' (P(A), lift 1, phi 0).

        What the heatmaps colour by: a relation seen in a handful of images is shown as weak as the data allows.
        """
        value = self.measure(name)
        low, high = self.interval(name)
        neutral = {"P(A|B)": np.broadcast_to(self.prevalence[:, None], value.shape), "lift": 1.0, "phi": 0.0}[name]
        out = toward(value, low, high, neutral)
        return np.where(np.isnan(value), np.nan, out)

    def index(self, attribute: str) -> int:
        if attribute not in self.attributes:
            raise ValueError(f"Unknown attribute {attribute!r}.")
        return self.attributes.index(attribute)


def relation_stats(X: np.ndarray, attributes: tuple[str, ...]) -> RelationStats:
    """Counts of an (N, A) uint8 matrix from one matrix product; every measure derives from them."""
    if X.shape[1] != len(attributes):
        raise ValueError(f"Matrix has {X.shape[1]} columns but {len(attributes)} attribute names were given.")
    both = cooccurrence(X)
    return RelationStats(tuple(attributes), int(X.shape[0]), np.diag(both).copy(), both)


def pair_summary(stats: RelationStats, a: str, b: str) -> dict:
    """2x2 contingency counts of attributes a (A) and b (B) and the measures drawn from it."""
    i, j = stats.index(a), stats.index(b)
    n11 = int(stats.both[i, j])
    n_a, n_b = int(stats.counts[i]), int(stats.counts[j])
    n10, n01 = n_a - n11, n_b - n11
    n00 = stats.n - n11 - n10 - n01
    phi_den = np.sqrt(float(n_a) * (stats.n - n_a) * n_b * (stats.n - n_b))
    return {
        "A": a,
        "B": b,
        "n": stats.n,
        "n11": n11,
        "n10": n10,
        "n01": n01,
        "n00": n00,
        "P(A|B)": float(_ratio(n11, n_b)),
        "P(A|not B)": float(_ratio(n10, stats.n - n_b)),
        "P(B|A)": float(_ratio(n11, n_a)),
        "P(A)": float(_ratio(n_a, stats.n)),
        "P(B)": float(_ratio(n_b, stats.n)),
        "lift": float(_ratio(stats.n * n11, float(n_a) * n_b)),
        "phi": float(_ratio(float(stats.n) * n11 - float(n_a) * n_b, phi_den)),
    }


def pairs_table(stats: RelationStats) -> pd.DataFrame:
    """One row per ordered pair (A, B): counts, P(A|B), P(A|not B), lift, phi (for CSV export)."""
    a_names = np.repeat(np.array(stats.attributes), len(stats.attributes))
    b_names = np.tile(np.array(stats.attributes), len(stats.attributes))
    return pd.DataFrame(
        {
            "A": a_names,
            "B": b_names,
            "n_B": np.tile(stats.counts, len(stats.attributes)),
            "n_A_and_B": stats.both.ravel(),
            "P(A|B)": stats.conditional.ravel(),
            "P(A|not B)": stats.conditional_not.ravel(),
            "lift": stats.lift.ravel(),
            "phi": stats.phi.ravel(),
        }
    )


def heatmap_frame(stats: RelationStats, measure: str) -> pd.DataFrame:
    """Long form of one measure for the heatmap: A, B, value, strength, its interval, n_b (images with B), both.

    few is True where the condition B holds for fewer than FEW_IMAGES images (too few to read the cell).
    """
    k = len(stats.attributes)
    low, high = stats.interval(measure)
    frame = matrix_frame(stats.measure(measure), stats.attributes)
    n_b = np.tile(stats.counts, k)
    return frame.assign(
        strength=stats.strength(measure).ravel(),
        low=low.ravel(),
        high=high.ravel(),
        n_b=n_b,
        both=stats.both.ravel(),
        few=n_b < FEW_IMAGES,
    )


def matrix_frame(matrix: np.ndarray, attributes: tuple[str, ...], value: str = "value") -> pd.DataFrame:
    """Long form (A, B, value) of an (A, A) matrix, for heatmaps."""
    names = np.array(attributes)
    return pd.DataFrame({"A": np.repeat(names, len(names)), "B": np.tile(names, len(names)), value: matrix.ravel()})


def cluster_order(matrix: np.ndarray, attributes: tuple[str, ...]) -> list[str]:
    """Attributes ordered by average-linkage clustering of their rows and columns in `matrix`."""
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import pdist

    if len(attributes) < 3:
        return list(attributes)
    features = np.nan_to_num(np.hstack([matrix, matrix.T]), nan=0.0, posinf=0.0, neginf=0.0)
    distances = pdist(features, metric="euclidean")
    tree = linkage(distances, method="average")
    tree = optimal_leaf_ordering(tree, distances)
    return [attributes[k] for k in leaves_list(tree)]


# ------------------------------------------------------------------ dataset-level summaries


def prevalence_frame(
    X: np.ndarray, attributes: tuple[str, ...], groups: np.ndarray | None = None, group_name: str = "group"
) -> pd.DataFrame:
    """Long table (attribute, group, count, rows, share); groups is an optional (N,) label per row."""
    if groups is None:
        groups = np.full(X.shape[0], "all", dtype=object)
    frames = []
    for label in pd.unique(groups):
        if label is None or (isinstance(label, float) and np.isnan(label)):
            continue
        block = X[groups == label]
        frames.append(
            pd.DataFrame(
                {
                    "attribute": attributes,
                    group_name: str(label),
                    "count": block.sum(axis=0, dtype=np.int64),
                    "rows": block.shape[0],
                    "share": prevalence(block),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["attribute", group_name, "count", "rows", "share"])
    return pd.concat(frames, ignore_index=True)


def imbalance_counts(shares: np.ndarray, low: float = 0.10, high: float = 0.70) -> tuple[int, int]:
    """How many attributes are present in under `low` and over `high` of rows."""
    shares = np.asarray(shares, dtype=np.float64)
    return int(np.sum(shares < low)), int(np.sum(shares > high))


def images_per_identity(table: pl.DataFrame) -> pd.DataFrame:
    """(identity, images) for every labelled identity, most images first."""
    counts = table["identity"].drop_nulls().value_counts(sort=True, name="images")
    return counts.to_pandas()


def identity_profile(X: np.ndarray, attributes: tuple[str, ...]) -> pd.DataFrame:
    """Per attribute, the share of one person's images showing it and whether it varies across them."""
    shares = prevalence(X)
    kind = np.where(shares == 1, "always", np.where(shares == 0, "never", "varies"))
    if X.shape[0] == 0:
        kind = np.full(len(attributes), "unknown")
    return pd.DataFrame({"attribute": attributes, "share": shares, "kind": kind})


# ------------------------------------------------------------------ attribute-from-attributes models


def model_split(partition: np.ndarray, identity: np.ndarray, seed: int = 0) -> Split:
    """Train/test positions for the attribute models: the partition's, else a seeded 80/20 split by identity."""
    return split_rows(partition, identity, fractions=MODEL_SPLIT, seed=seed)


def _metrics(y_true: np.ndarray, y_pred: np.ndarray, majority: int) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    counts = {
        "tp": int(np.sum(y_true & y_pred)),
        "fp": int(np.sum(~y_true & y_pred)),
        "fn": int(np.sum(y_true & ~y_pred)),
        "tn": int(np.sum(~y_true & ~y_pred)),
        "majority_right": int(np.sum(y_true == bool(majority))),
        "majority": int(majority),
    }
    if len(y_true) == 0:
        nan = float("nan")
        return {
            "accuracy": nan,
            "precision": nan,
            "recall": nan,
            "f1": nan,
            "majority_accuracy": nan,
            "balanced_accuracy": nan,
            "counts": counts,
        }
    # Mean of the hit rates among images with and without the attribute (only the one defined when a class is absent).
    with_it, without = (counts["tp"], counts["tp"] + counts["fn"]), (counts["tn"], counts["tn"] + counts["fp"])
    hits = [k / n for k, n in (with_it, without) if n]
    return {
        "balanced_accuracy": float(np.mean(hits)),
        "counts": counts,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "majority_accuracy": float(np.mean(y_true == majority)),
    }


def predict_attribute(
    X: np.ndarray,
    attributes: tuple[str, ...],
    target: str,
    split: Split,
    train_cap: int = MODEL_TRAIN_CAP,
    seed: int = 0,
) -> dict:
    """Logistic regression of one attribute on all the others: test metrics, majority baseline, coefficients."""
    from sklearn.linear_model import LogisticRegression

    t = attributes.index(target)
    features = [a for a in attributes if a != target]
    cols = [k for k in range(len(attributes)) if k != t]
    train = split.train
    sampled = len(train) > train_cap
    if sampled:
        train = np.sort(np.random.default_rng(seed).choice(train, train_cap, replace=False))
    y_train, y_test = X[train, t], X[split.test, t]
    result = {
        "target": target,
        "train_rows": len(train),
        "test_rows": len(split.test),
        "train_positives": int(y_train.sum()),
        "test_positives": int(y_test.sum()),
        "sampled": sampled,
        "split": split.note,
        "note": "",
    }
    if len(train) == 0:
        result |= _metrics(y_test, y_test, 0) | {"coefficients": pd.DataFrame(columns=["attribute", "coefficient"])}
        result["note"] = "no training rows"
        return result
    majority = int(y_train.mean() >= 0.5)
    if y_train.min() == y_train.max():
        pred = np.full(len(split.test), majority, dtype=np.uint8)
        result |= _metrics(y_test, pred, majority)
        result["coefficients"] = pd.DataFrame({"attribute": features, "coefficient": 0.0})
        result["note"] = (
            f"{target} is {'always' if majority else 'never'} present in the training rows: no model to fit"
        )
        return result
    model = LogisticRegression(solver="liblinear", max_iter=200)  # single-threaded, fastest on 39 binary features
    model.fit(X[np.ix_(train, cols)].astype(np.float32), y_train)
    pred = model.predict(X[np.ix_(split.test, cols)].astype(np.float32)) if len(split.test) else np.zeros(0)
    result |= _metrics(y_test, pred, majority)
    coef = pd.DataFrame({"attribute": features, "coefficient": model.coef_[0]})
    result["coefficients"] = coef.reindex(coef["coefficient"].abs().sort_values(ascending=False).index).reset_index(
        drop=True
    )
    return result


def predict_all_attributes(
    X: np.ndarray, attributes: tuple[str, ...], split: Split, train_cap: int = MODEL_TRAIN_CAP, seed: int = 0
) -> pd.DataFrame:
    """One row per attribute: test metrics of predicting it from the others, its baseline and top predictors."""
    rows = []
    for target in attributes:
        r = predict_attribute(X, attributes, target, split, train_cap, seed)
        top = r["coefficients"].head(3)
        rows.append(
            {
                "attribute": target,
                "accuracy": r["accuracy"],
                "majority_accuracy": r["majority_accuracy"],
                "gain_over_majority": r["accuracy"] - r["majority_accuracy"],
                "precision": r["precision"],
                "recall": r["recall"],
                "f1": r["f1"],
                "top_predictors": ", ".join(
                    f"{a} ({fmt.signed(c)})" for a, c in zip(top["attribute"], top["coefficient"])
                ),
                "train_rows": r["train_rows"],
                "test_rows": r["test_rows"],
                "too_few": too_few(r),
            }
        )
    return pd.DataFrame(rows)


def too_few(result: dict) -> bool:
    """Whether a model's scores rest on too few images or positives to mean anything (core.stats.intervals)."""
    images = min(result["train_rows"], result["test_rows"])
    positives = min(result["train_positives"], result["test_positives"])
    negatives = min(result["train_rows"] - result["train_positives"], result["test_rows"] - result["test_positives"])
    return images < MIN_MODEL_IMAGES or min(positives, negatives) < MIN_MODEL_POSITIVES


def cell_examples(X: np.ndarray, i: int, j: int, per_cell: int = 4) -> dict[tuple[int, int], np.ndarray]:
    """First `per_cell` row positions of X in each 2x2 cell (A value, B value) of attributes i and j."""
    out = {}
    for va in (1, 0):
        for vb in (1, 0):
            out[(va, vb)] = np.flatnonzero((X[:, i] == va) & (X[:, j] == vb))[:per_cell]
    return out
