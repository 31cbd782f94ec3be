"""Feature matrices for clustering: face embeddings, annotated attributes, or predicted attributes.

Every matrix comes with the dataset rows it describes (`rows`, indices into
Dataset.table), so labels, identities and images can be looked up afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.classify.store import Predictions
from core.data.dataset import Dataset
from core.data.embeddings import Embeddings
from core.data.subset import Subset, subset_rows
from core.errors import DatasetError

FEATURE_SPACES = ("embeddings", "attributes", "predicted")
WEIGHTINGS = ("none", "inverse_prevalence", "rarity_sqrt")


@dataclass(frozen=True)
class FeatureSpec:
    """What to cluster on (hashable: a cache key). attributes=() means all of them."""

    space: str = "embeddings"
    attributes: tuple[str, ...] = ()
    weighting: str = "none"
    standardise: bool = False
    model: str | None = None  # embeddings: the embedding model; predicted: the classifier's id; None = default/newest


@dataclass(frozen=True)
class FeatureKey:
    """Names one feature matrix (a cache key, and the name of its stored maps): what it is built from and on which rows.

    source_version changes when the embeddings are recomputed or another model predicts the attributes, so
    nothing built on old vectors is reused. content_key is what the matrix's values are read from (the image files'
    content for embeddings and predictions, the labels for attributes): stored maps are named by it, not by the
    dataset's key, so a touched folder or a copy keeps them (the rows they hold are checked when loaded).
    """

    dataset_key: str
    spec: FeatureSpec
    subset: Subset = Subset()
    max_points: int = 0
    seed: int = 0
    source_version: str = ""  # the embeddings' creation time, or the predicting model's id
    content_key: str = ""


def feature_key(
    ds: Dataset,
    spec: FeatureSpec,
    subset: Subset,
    max_points: int,
    seed: int,
    embeddings: Embeddings | None = None,
    predictions: Predictions | None = None,
) -> FeatureKey:
    """The FeatureKey of these choices, versioned by the embeddings or predictions the matrix is built from."""
    version = ""
    if spec.space == "embeddings" and embeddings is not None:
        version = str(embeddings.meta.get("created", ""))
    elif spec.space == "predicted" and predictions is not None:
        version = predictions.model_id
    content = ds.labels_key if spec.space == "attributes" else ds.images_key
    return FeatureKey(ds.key, spec, subset, int(max_points), int(seed), version, content or ds.key)


@dataclass(frozen=True)
class FeatureMatrix:
    X: np.ndarray  # (n, d) float32
    rows: np.ndarray  # (n,) int64 indices into Dataset.table
    columns: tuple[str, ...]  # feature names (attributes) or "e0".."eD"
    notes: tuple[str, ...] = field(default_factory=tuple)  # sampling / dropped-row notes for the user

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


def attribute_weights(matrix: np.ndarray, weighting: str) -> np.ndarray:
    """(A,) float32 per-attribute weights from a (N, A) 0/1 or probability matrix.

    inverse_prevalence: 1 / max(p, 1 - p) normalised to mean 1, so rare attributes
    count as much as common ones; rarity_sqrt: its square root (a milder version).
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"Unknown weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}.")
    a = matrix.shape[1]
    if weighting == "none" or len(matrix) == 0:
        return np.ones(a, np.float32)
    p = np.asarray(matrix, np.float64).mean(axis=0)
    minority = np.clip(np.minimum(p, 1 - p), 1e-3, 0.5)
    w = 0.5 / minority
    if weighting == "rarity_sqrt":
        w = np.sqrt(w)
    return (w / w.mean()).astype(np.float32)


def sample_rows(rows: np.ndarray, max_points: int, seed: int = 0) -> tuple[np.ndarray, str | None]:
    """At most max_points of rows (seeded, kept in ascending order) and a note when sampling happened."""
    if max_points <= 0 or len(rows) <= max_points:
        return rows, None
    rng = np.random.default_rng(seed)
    kept = np.sort(rng.choice(rows, size=max_points, replace=False))
    return kept, f"Sampled {max_points:,} of {len(rows):,} points at random (seed {seed}) to keep this fast."


def standardise(X: np.ndarray) -> np.ndarray:
    """Each column to zero mean and unit variance (constant columns stay 0)."""
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    return ((X - mu) / sd).astype(np.float32)


def weighted_attributes(matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N, A) float32 = 0/1 matrix (or probabilities) times per-attribute weights."""
    return (np.asarray(matrix, np.float32) * weights[None, :]).astype(np.float32)


def probability_features(
    probabilities: np.ndarray, rows: np.ndarray, names: tuple[str, ...], spec: FeatureSpec
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Predicted attributes: (N_all, A) probabilities from a classifier -> (n, a) weighted features.

    probabilities is aligned to Dataset.table rows and to `names`; the spec's
    attribute subset and weighting apply as for annotated attributes.
    """
    if probabilities.ndim != 2 or probabilities.shape[1] != len(names):
        raise ValueError(f"probabilities {probabilities.shape} do not match {len(names)} attribute names")
    chosen = spec.attributes or names
    missing = [a for a in chosen if a not in names]
    if missing:
        raise ValueError(f"No predictions for {', '.join(missing)}.")
    cols = [names.index(a) for a in chosen]
    P = np.asarray(probabilities[rows][:, cols], np.float32)
    return weighted_attributes(P, attribute_weights(P, spec.weighting)), tuple(chosen)


def build_features(
    ds: Dataset,
    spec: FeatureSpec,
    subset: Subset = Subset(),
    max_points: int = 0,
    seed: int = 0,
    embeddings: Embeddings | None = None,
    predictions: Predictions | None = None,
) -> FeatureMatrix:
    """The feature matrix of the subset (sampled to max_points), per spec; raises DatasetError when impossible."""
    if spec.space not in FEATURE_SPACES:
        raise ValueError(f"Unknown feature space {spec.space!r}; choose one of {', '.join(FEATURE_SPACES)}.")
    rows = subset_rows(ds, subset)
    if not len(rows):
        raise DatasetError(f"No images match the filter ({subset.describe()}); loosen it.")
    notes: list[str] = []
    if spec.space == "embeddings":
        if embeddings is None:
            raise DatasetError(
                "This dataset has no face embeddings yet: compute them on the Face search page or with `python -m core embed`."
            )
        rows = rows[embeddings.has_face[rows]] if len(rows) else rows
        dropped = len(subset_rows(ds, subset)) - len(rows)
        if dropped:
            notes.append(f"{dropped:,} images without a detected face were left out.")
        rows, note = sample_rows(rows, max_points, seed)
        X = np.asarray(embeddings.vectors[rows], dtype=np.float32)
        columns = tuple(f"e{i}" for i in range(X.shape[1]))
    elif spec.space == "attributes":
        rows, note = sample_rows(rows, max_points, seed)
        chosen = spec.attributes or ds.attributes
        unknown = [a for a in chosen if a not in ds.attributes]
        if unknown:
            raise DatasetError(f"Unknown attributes: {', '.join(unknown)}.")
        M = ds.table[rows].select(list(chosen)).to_numpy()
        X = weighted_attributes(M, attribute_weights(M, spec.weighting))
        columns = tuple(chosen)
    else:
        if predictions is None:
            raise DatasetError(
                "No attribute classifier has been trained for this dataset yet: train one on the Attribute classifiers page."
            )
        predicted = ~np.isnan(np.asarray(predictions.probabilities[rows, 0]))
        if not predicted.all():
            notes.append(f"{int((~predicted).sum()):,} images the model could not read were left out.")
        rows, note = sample_rows(rows[predicted], max_points, seed)
        X, columns = probability_features(predictions.probabilities, rows, predictions.attributes, spec)
    if note:
        notes.append(note)
    if len(rows) < 3:
        raise DatasetError(f"Only {len(rows)} points to cluster; choose a larger subset.")
    if spec.standardise:
        X = standardise(X)
    return FeatureMatrix(np.ascontiguousarray(X, np.float32), rows.astype(np.int64), columns, tuple(notes))
