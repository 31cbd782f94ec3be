"""What a generator learnt from its data: what it copies, what it amplifies, how many people its faces are.

Front door: `audit_generator(ds, meta, samples)`. It draws `samples` faces from seeded noise (a conditional
generator is asked for attribute combinations drawn from the training faces' own labels) and, beside them, as many
real training faces cut to the generator's size, and measures both groups the same way:

- copying: each face's nearest training face (a real face's own photo left out) in the dataset's face
  embedding (dlib's descriptor, when the dataset has it) or else in pixels (16 px, the root mean square
  difference per colour value, 0-1), against the dataset's same-person distance: calibrated on its identities
  (core.faces.calibration), dlib's 0.6 for embeddings without identities, none for pixels without them;
- amplification: the prevalence of each attribute among the generated faces, scored by the stored classifier
  that scores that attribute best on its test split (at its own threshold), beside the prevalence of the label
  among the training faces; the real faces cut to the generator's size, scored by the same classifier, say how
  much of a difference is the classifier's rather than the generator's;
- diversity: the identities of the nearest training faces, and how many distinct ones the faces fall into.

Results: audit.json (GeneratorAudit) and audit.npz (the samples and every per-face figure) in the generator's
folder, keyed by a token of what they were computed from (epochs, features, classifiers), so a new classifier or
more epochs make them stale rather than wrong.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import numpy as np

from core.classify.models import TrainConfig
from core.classify.store import ClassifierMeta, caution, list_models, load_classifier
from core.data.artifacts import damaged, quarantine, records
from core.data.atomic import replaced_atomically, write_json
from core.data.dataset import Dataset
from core.data.embeddings import Embeddings, embeddings_version, list_embeddings, load_embeddings
from core.errors import ModelFileError
from core.faces.calibration import DLIB_THRESHOLD, calibrate
from core.generate import store
from core.generate.faces import descriptors_of, face_pixels, faces_at
from core.generate.sample import draw_conditions, generate, noise
from core.generate.store import GeneratorMeta
from core.jobs import ProgressReporter

AUDIT_SAMPLES = 1000
SAMPLE_SEED = 104_729  # the audit's noise: a fixed seed, not one a page shows
EMBEDDING_MODEL = "dlib"  # the one embedding FaceAtlas can compute for a generated face
PIXEL_SIDE = 16  # pixel features: faces at 16 px (768 numbers), enough to tell a copy, cheap at CelebA's size
PIXEL_SCALE = 1.0 / (255.0 * math.sqrt(PIXEL_SIDE * PIXEL_SIDE * 3))  # uint8 distances -> RMS per colour value
CANDIDATES = 8  # nearest candidates per face found in float32, re-measured in float64
# What the classifier offered for generated faces scores: the five, and rare ones a generator tends to lose.
SCORED_ATTRIBUTES = ("Male", "Smiling", "Eyeglasses", "Blond_Hair", "Wearing_Hat", "Bald", "Gray_Hair", "Young")


@dataclass(frozen=True)
class Copying:
    """How close generated faces come to training faces, beside real faces measured the same way."""

    space: str  # "embeddings" (dlib's descriptor) | "pixels" (16 px, RMS difference per colour value)
    threshold: float | None  # the same-person distance; None when the dataset cannot say where it ends
    source: str  # "calibrated" (on the dataset's identities) | "dlib" (dlib's 0.6 for real photos) | "none"
    auc: float | None  # how well the distance separates same from different people (calibrated only)
    generated: int
    generated_below: int  # generated faces closer to a training face than the threshold
    real: int
    real_below: int  # real faces closer than the threshold to another training face

    @property
    def share_below(self) -> float | None:
        return self.generated_below / self.generated if self.threshold is not None and self.generated else None

    @property
    def real_share_below(self) -> float | None:
        return self.real_below / self.real if self.threshold is not None and self.real else None


@dataclass(frozen=True)
class Prevalence:
    """One attribute among training faces (labels) and among generated faces (a classifier's verdict)."""

    attribute: str
    model_id: str  # the classifier that scored it
    balanced_accuracy: float  # that classifier's on its test split, for this attribute
    real: int  # training faces labelled yes
    real_n: int
    generated: int  # generated faces the classifier says yes to
    generated_n: int
    scored_real: int  # real faces cut to the generator's size the classifier says yes to
    scored_real_n: int
    asked: int | None = None  # conditional generators: generated faces asked to have it

    @property
    def real_share(self) -> float:
        return self.real / self.real_n if self.real_n else math.nan

    @property
    def generated_share(self) -> float:
        return self.generated / self.generated_n if self.generated_n else math.nan


@dataclass(frozen=True)
class Diversity:
    """Distinct identities the nearest training faces of generated and of real faces belong to."""

    generated: int | None  # None without identity labels
    real: int | None
    generated_n: int
    real_n: int


@dataclass(frozen=True)
class GeneratorAudit:
    """audit.json: what was measured on which generator, from what."""

    generator_id: str
    epochs: int
    token: str
    copying: Copying
    prevalence: tuple[Prevalence, ...]
    diversity: Diversity
    seconds: float
    created: str
    files: dict  # {"audit.npz": {"size", "blake2b"}}

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> GeneratorAudit:
        try:
            return cls(
                **{k: raw[k] for k in ("generator_id", "epochs", "token", "seconds", "created", "files")},
                copying=Copying(**raw["copying"]),
                prevalence=tuple(Prevalence(**p) for p in raw["prevalence"]),
                diversity=Diversity(**raw["diversity"]),
            )
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"audit.json is not a generator audit ({exc}); measure it again.") from None

    def prevalence_of(self, attribute: str) -> Prevalence | None:
        return next((p for p in self.prevalence if p.attribute == attribute), None)


def classifier_config(ds: Dataset) -> TrainConfig | None:
    """The classifier offered when none can score a generated face: a small CNN on 64 px faces (what the generator
    draws), augmented; None when the dataset has none of SCORED_ATTRIBUTES."""
    attributes = tuple(a for a in SCORED_ATTRIBUTES if a in ds.attributes)
    if not attributes:
        return None
    return TrainConfig(model="cnn", attributes=attributes, image_size=64, epochs=8, augment=True)


def feature_space(ds: Dataset) -> str:
    """'embeddings' when the dataset has dlib's descriptors (a generated face can get one too), else 'pixels'."""
    return "embeddings" if EMBEDDING_MODEL in list_embeddings(ds) else "pixels"


def scoring_models(ds: Dataset, space: str) -> dict[str, ClassifierMeta]:
    """Per attribute, the stored classifier with the best test balanced accuracy on it among those that can score
    a generated face (pixel models always; embedding models on dlib's descriptors in the embeddings space), leaving
    out attributes a model was trained or tested on too few images of."""
    best: dict[str, ClassifierMeta] = {}
    for meta in list_models(ds.key, ds.labels_key):  # newest first: a tie keeps the newest
        if meta.features == "embeddings" and not (space == "embeddings" and meta.embedding_model == EMBEDDING_MODEL):
            continue
        for attribute in meta.attributes:
            score = (meta.metrics.get(attribute) or {}).get("balanced_accuracy")
            if score is None or math.isnan(score) or caution(meta, attribute):
                continue
            held = best.get(attribute)
            if held is None or score > held.metrics[attribute]["balanced_accuracy"]:
                best[attribute] = meta
    return {a: best[a] for a in ds.attributes if a in best}


def audit_token(ds: Dataset, meta: GeneratorMeta) -> str:
    """What an audit of this generator depends on now: its epochs, the features, the classifiers that score it."""
    space = feature_space(ds)
    stamp = ""
    if space == "embeddings":
        stamp = embeddings_version(ds, EMBEDDING_MODEL)
    models = sorted({f"{m.model_id}@{m.created}" for m in scoring_models(ds, space).values()})
    return f"e{meta.epochs_done}|{space}:{stamp}|{','.join(models)}"


def load_audit(meta: GeneratorMeta) -> tuple[GeneratorAudit, dict[str, np.ndarray]] | None:
    """The stored audit and its arrays, or None when there is none (a damaged one is set aside)."""
    folder = store.generator_folder(meta.generator_id)
    path = folder / "audit.json"
    if not path.is_file():
        return None
    try:
        audit = GeneratorAudit.from_json(json.loads(path.read_text()))
        bad = damaged(folder, audit.files)
        if bad:
            raise ValueError(f"{', '.join(bad)} changed since it was written")
        with np.load(folder / "audit.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        for name in ("audit.json", "audit.npz"):
            quarantine(folder / name, f"audit of {meta.generator_id}", str(exc), dataset=meta.dataset_key)
        return None
    return audit, arrays


def audit_generator(
    ds: Dataset, meta: GeneratorMeta, samples: int = AUDIT_SAMPLES, reporter: ProgressReporter | None = None
) -> GeneratorAudit:
    """Measure copying, amplification and diversity (or return the stored audit when nothing it rests on changed)."""
    token = audit_token(ds, meta)
    stored = load_audit(meta)
    if stored is not None and stored[0].token == token and stored[0].copying.generated == samples:
        return stored[0]
    t0 = time.perf_counter()
    reporter = reporter or ProgressReporter(None)
    space = feature_space(ds)

    def say(message: str) -> None:
        reporter.update(reporter.total, message, force=True)

    say(f"drawing {samples:,} faces to measure")
    rows = store.load_rows(meta)
    pixels, _ = face_pixels(ds)
    size = meta.config.image_size
    columns = [ds.attributes.index(a) for a in meta.config.attributes]
    conditions = draw_conditions(ds.attribute_matrix(rows)[:, columns], samples, SAMPLE_SEED)
    generated = generate(store.load_generator(meta), noise(SAMPLE_SEED, samples, meta.config.latent_dim), conditions)
    real_index = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(rows), min(samples, len(rows)), replace=False))
    real_faces = faces_at(pixels[rows[real_index]], size)

    embeddings = load_embeddings(ds, EMBEDDING_MODEL) if space == "embeddings" else None
    if embeddings is not None:
        base_index = np.flatnonzero(np.asarray(embeddings.has_face, bool)[rows])
        base = np.asarray(embeddings.vectors[rows[base_index]], np.float32)
        scale = 1.0
        generated_features = descriptors_of(generated, lambda k, n: say(f"describing generated faces: {k:,} / {n:,}"))
        real_features = descriptors_of(real_faces, lambda k, n: say(f"describing real faces: {k:,} / {n:,}"))
    else:
        space = "pixels"
        base_index = np.arange(len(rows))
        # In chunks: CelebA's 64 px faces (2.5 GB) never sit in memory at once.
        base = np.concatenate(
            [pixel_features(faces_at(pixels[part], size)) for part in np.array_split(rows, 1 + len(rows) // 4096)]
        )
        scale = PIXEL_SCALE
        generated_features, real_features = pixel_features(generated), pixel_features(real_faces)
    say("finding each face's nearest training face")
    own = np.full(len(rows), -1, np.int64)
    own[base_index] = np.arange(len(base_index))
    nearest_g, distance_g = nearest(generated_features, base, scale)
    nearest_r, distance_r = nearest(real_features, base, scale, exclude=own[real_index])
    threshold, source, auc = same_person_distance(ds, rows, embeddings, base, base_index)
    identity = ds.table["identity"].to_numpy()
    say("scoring the attributes of generated and real faces")
    prevalence, probabilities, real_probabilities = _prevalence(
        ds, meta, rows, space, generated, real_faces, generated_features, real_features, conditions
    )
    dataset_rows_g = rows[base_index[nearest_g]]
    dataset_rows_r = rows[base_index[nearest_r]]
    audit = GeneratorAudit(
        generator_id=meta.generator_id,
        epochs=meta.epochs_done,
        token=token,
        copying=Copying(
            space=space,
            threshold=threshold,
            source=source,
            auc=auc,
            generated=len(generated),
            generated_below=int((distance_g < threshold).sum()) if threshold is not None else 0,
            real=len(real_index),
            real_below=int((distance_r < threshold).sum()) if threshold is not None else 0,
        ),
        prevalence=prevalence,
        diversity=Diversity(
            generated=distinct_identities(identity[dataset_rows_g]) if ds.has_identity else None,
            real=distinct_identities(identity[dataset_rows_r]) if ds.has_identity else None,
            generated_n=len(generated),
            real_n=len(real_index),
        ),
        seconds=round(time.perf_counter() - t0, 2),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        files={},
    )
    arrays = {
        "samples": generated,
        "conditions": conditions,
        "nearest": dataset_rows_g.astype(np.int64),
        "distance": distance_g,
        "real_rows": rows[real_index].astype(np.int64),
        "real_nearest": dataset_rows_r.astype(np.int64),
        "real_distance": distance_r,
        "probabilities": probabilities,
        "real_probabilities": real_probabilities,
    }
    return _save_audit(meta, audit, arrays)


def pixel_features(faces: np.ndarray) -> np.ndarray:
    """(n, 768) uint8: faces at 16 px, flattened (distances times PIXEL_SCALE are RMS differences in 0-1)."""
    return faces_at(faces, PIXEL_SIDE).reshape(len(faces), -1)


def nearest(
    queries: np.ndarray, base: np.ndarray, scale: float = 1.0, exclude: np.ndarray | None = None, block: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """(indices into base (q,) int64, euclidean distances (q,) float64 times scale) of each query's nearest row.

    Candidates come from float32 matrix products; the CANDIDATES nearest are re-measured in float64 from the
    stored values, so the result does not depend on the machine's BLAS. exclude (q,) names a base row a query
    may not match (its own photo; -1 for none).
    """
    base32 = np.asarray(base, np.float32)
    norms = np.einsum("ij,ij->i", base32, base32)
    k = min(CANDIDATES, len(base32))
    rows, dist = np.zeros(len(queries), np.int64), np.zeros(len(queries))
    for start in range(0, len(queries), block):
        q = np.asarray(queries[start : start + block])
        q32 = q.astype(np.float32)
        d2 = norms[None, :] - 2.0 * (q32 @ base32.T) + np.einsum("ij,ij->i", q32, q32)[:, None]
        if exclude is not None:
            mine = exclude[start : start + block]
            d2[np.flatnonzero(mine >= 0), mine[mine >= 0]] = np.inf
        candidates = np.sort(np.argpartition(d2, k - 1, axis=1)[:, :k], axis=1)
        exact = np.sqrt(((q.astype(np.float64)[:, None, :] - base[candidates].astype(np.float64)) ** 2).sum(-1))
        if exclude is not None:
            exact[candidates == exclude[start : start + block, None]] = np.inf
        best = np.argmin(exact, axis=1)  # ties: the lowest row (candidates are sorted)
        rows[start : start + len(q)] = candidates[np.arange(len(q)), best]
        dist[start : start + len(q)] = exact[np.arange(len(q)), best] * scale
    return rows, dist


def same_person_distance(
    ds: Dataset, rows: np.ndarray, embeddings: Embeddings | None, base: np.ndarray, base_index: np.ndarray
) -> tuple[float | None, str, float | None]:
    """(threshold, source, AUC) of 'same person' in the space the faces are compared in (see the module docstring)."""
    if ds.has_identity:
        identity = ds.table["identity"].to_numpy()
        if embeddings is not None:
            found = calibrate(embeddings.vectors, identity, embeddings.has_face)
        else:
            found = calibrate(np.asarray(base, np.float32) * np.float32(PIXEL_SCALE), identity[rows[base_index]])
        if found is not None:
            return found.threshold, "calibrated", found.auc
    if embeddings is not None:
        return DLIB_THRESHOLD, "dlib", None
    return None, "none", None


def distinct_identities(labels: np.ndarray) -> int:
    """How many different identities (missing ones left out) a list of labels holds."""
    return len({str(v) for v in labels if v is not None and str(v) != ""})


def resize_faces(faces: np.ndarray, size: int) -> np.ndarray:
    """(n, size, size, 3) uint8: faces resized (bilinear) to a classifier's input size."""
    from PIL import Image

    if faces.shape[1] == size:
        return faces
    out = np.empty((len(faces), size, size, 3), np.uint8)
    for i, face in enumerate(faces):
        out[i] = np.asarray(Image.fromarray(face).resize((size, size), Image.Resampling.BILINEAR))
    return out


def _prevalence(ds, meta, rows, space, generated, real_faces, generated_features, real_features, conditions):
    """(Prevalence per scored attribute, (n, P) and (m, P) float32 probabilities in that order)."""
    chosen = scoring_models(ds, space)
    labels = ds.attribute_matrix(rows)
    probabilities = np.zeros((len(generated), len(chosen)), np.float32)
    real_probabilities = np.zeros((len(real_faces), len(chosen)), np.float32)
    by_model: dict[str, list[str]] = {}
    for attribute, model in chosen.items():
        by_model.setdefault(model.model_id, []).append(attribute)
    order = list(chosen)
    for model_id, attributes in by_model.items():
        model = load_classifier(model_id)
        if model.features == "pixels":
            inputs = (resize_faces(generated, model.meta.image_size), resize_faces(real_faces, model.meta.image_size))
        else:
            inputs = (generated_features, real_features)
        scored = (model.predict(inputs[0]), model.predict(inputs[1]))
        for attribute in attributes:
            j, column = order.index(attribute), model.attributes.index(attribute)
            probabilities[:, j] = scored[0][:, column]
            real_probabilities[:, j] = scored[1][:, column]
    out = []
    for j, (attribute, model) in enumerate(chosen.items()):
        threshold = model.threshold(attribute)
        column = ds.attributes.index(attribute)
        asked = None
        if attribute in meta.config.attributes:
            asked = int(conditions[:, meta.config.attributes.index(attribute)].sum())
        out.append(
            Prevalence(
                attribute=attribute,
                model_id=model.model_id,
                balanced_accuracy=float(model.metrics[attribute]["balanced_accuracy"]),
                real=int(labels[:, column].sum()),
                real_n=len(rows),
                generated=int((probabilities[:, j] >= threshold).sum()),
                generated_n=len(generated),
                scored_real=int((real_probabilities[:, j] >= threshold).sum()),
                scored_real_n=len(real_faces),
                asked=asked,
            )
        )
    return tuple(out), probabilities, real_probabilities


def _save_audit(meta: GeneratorMeta, audit: GeneratorAudit, arrays: dict[str, np.ndarray]) -> GeneratorAudit:
    """audit.npz (atomically), then audit.json with its record: a reader never sees one without the other."""
    folder = store.generator_folder(meta.generator_id)
    with replaced_atomically(folder / "audit.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    audit = replace(audit, files=records(folder, ["audit.npz"]))
    write_json(folder / "audit.json", audit.to_json())
    return audit
