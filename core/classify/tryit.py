"""Attribute probabilities for an uploaded photo or camera shot, from a stored model, and whether the photo is like
the faces the model learnt from.

Faces are found and described by core.faces.pipeline (through core.faces.search), exactly as the dataset's
embeddings were, so embedding models see the same kind of vectors they were trained on.

The domain check: a model trained on drawn faces has never seen a real one, and its probabilities for one are
guesses however sure they look. A face is familiar when its descriptor lies as close to the dataset's faces as the
dataset's own faces lie to their nearest face of another person (a new person of the same kind). The descriptor
is what every page compares faces with, and it separates kinds of faces clearly: on the 6,000-image demo a real
photo's nearest drawn face is far beyond where 99 % of drawn faces find a stranger (docs/bench/tryit.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from core.classify.pixels import image_to_array
from core.classify.store import StoredModel
from core.data.images import open_rgb
from core.faces.search import SAME_IMAGE_DISTANCE, faces_in_image

log = logging.getLogger(__name__)

# A dlib face box covers brows to chin; CelebA's aligned square is about 2.2x wider, centred a bit higher.
ALIGNED_CONTEXT = 2.2
ALIGNED_LIFT = 0.12
FAMILIAR_QUANTILE = 0.99  # a face farther from the dataset than this share of its own faces is unfamiliar
MAX_PROBES = 1_000  # dataset faces whose nearest stranger sets the usual distance (a seeded sample beyond that)
MAX_POOL = 20_000  # dataset faces a photo (and each probe) is compared with (a seeded sample beyond that)


@dataclass
class FacePrediction:
    image: Image.Image  # what the model saw (for display)
    probabilities: dict[str, float]
    box: tuple[int, int, int, int] | None
    descriptor: np.ndarray | None = None  # (128,) float32 face descriptor, None when no face was described


@dataclass(frozen=True)
class FaceDomain:
    """The faces a model learnt from, as descriptors: a sample of them, and how near a new face of that kind lies."""

    pool: np.ndarray  # (P, D) float64 descriptors of the dataset's faces (a seeded sample)
    usual: float  # FAMILIAR_QUANTILE of the probes' distances to their nearest pool face of another person
    median: float  # the median of those distances
    probes: int


@dataclass(frozen=True)
class Familiarity:
    """How far one face lies from the faces a model learnt from, against how far their own faces lie."""

    distance: float  # euclidean, to the nearest pool face
    usual: float  # FaceDomain.usual

    @property
    def familiar(self) -> bool:
        return self.distance <= self.usual


def face_domain(
    vectors: np.ndarray, has_face: np.ndarray, identity: np.ndarray | None, seed: int = 0
) -> FaceDomain | None:
    """The domain of (N, D) descriptors (rows with has_face): each probe's nearest pool face of another person
    (without identities: the nearest other face that is not the same image). None with fewer than 2 faces."""
    rows = np.flatnonzero(np.asarray(has_face, bool))
    if len(rows) < 2:
        return None
    rng = np.random.default_rng(seed)
    pool_rows = np.sort(rng.choice(rows, min(len(rows), MAX_POOL), replace=False))
    probe_at = np.sort(rng.choice(len(pool_rows), min(len(pool_rows), MAX_PROBES), replace=False))
    pool = np.asarray(vectors[pool_rows], np.float64)
    who = None
    if identity is not None:
        who = np.array(["" if v is None else str(v) for v in np.asarray(identity, dtype=object)[pool_rows]])
    nearest = np.full(len(probe_at), np.inf)
    for start in range(0, len(probe_at), 64):
        at = probe_at[start : start + 64]
        d = _distances(pool[at], pool)
        d[d < SAME_IMAGE_DISTANCE] = np.inf  # itself, and copies of the same image
        if who is not None:
            d[(who[at][:, None] == who[None, :]) & (who[at][:, None] != "")] = np.inf  # the same person
        nearest[start : start + len(at)] = d.min(axis=1)
    nearest = nearest[np.isfinite(nearest)]
    if not len(nearest):
        return None
    usual = float(np.quantile(nearest, FAMILIAR_QUANTILE))
    return FaceDomain(pool, usual, float(np.median(nearest)), len(nearest))


def familiarity(domain: FaceDomain, descriptor: np.ndarray) -> Familiarity:
    """How far a (D,) face descriptor lies from the domain's faces, beside the usual distance."""
    return Familiarity(float(_distances(np.asarray(descriptor, np.float64)[None], domain.pool).min()), domain.usual)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) float64 euclidean distances from squared norms (rounding far below any cut used here)."""
    sq = np.einsum("ij,ij->i", a, a)[:, None] + np.einsum("ij,ij->i", b, b)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(sq, 0.0))


@dataclass
class PhotoPrediction:
    faces: list[FacePrediction] = field(default_factory=list)
    note: str = ""


def aligned_like_crop(img: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """A square around a face box framed like CelebA's aligned crops (hair and chin included)."""
    left, top, right, bottom = box
    side = max(right - left, bottom - top) * ALIGNED_CONTEXT
    cx, cy = (left + right) / 2, (top + bottom) / 2 - ALIGNED_LIFT * side
    return img.crop((round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2)))


def predict_photo(model: StoredModel, data: bytes, max_faces: int = 4) -> PhotoPrediction:
    """Faces found in the photo -> the model's attribute probabilities for each (ImageError if unreadable)."""
    img = open_rgb(data)
    on_embeddings = model.features == "embeddings"
    try:
        found = faces_in_image(img)  # described for pixel models too: the domain check compares descriptors
        boxes, vectors = found.boxes_in_photo()[:max_faces], found.vectors[:max_faces]
    except (RuntimeError, ImportError, OSError) as exc:
        log.warning("face detection unavailable: %s", exc)
        boxes, vectors, detector_note = [], None, f"Face detection is unavailable here ({exc})."
    else:
        detector_note = ""
    if on_embeddings:
        if not boxes:
            return PhotoPrediction(
                [], detector_note or "No face found. Try a well-lit, frontal photo where the face is large."
            )
        probs = model.predict(vectors)
        shown = [aligned_like_crop(img, box) for box in boxes]
        faces = [_face(model, s, p, b, v) for s, p, b, v in zip(shown, probs, boxes, vectors)]
        return PhotoPrediction(faces, _count_note(boxes))
    size = model.meta.image_size
    if not boxes:
        crop = img
        arr = image_to_array(crop, size, aligned=True)
        note = (
            detector_note or "No face found by the detector"
        ) + ": the whole photo is used as if it were an aligned face crop."
        return PhotoPrediction([_face(model, Image.fromarray(arr), model.predict(arr[None])[0], None)], note)
    crops = [aligned_like_crop(img, box) for box in boxes]
    arrays = np.stack([image_to_array(c, size, aligned=False) for c in crops])
    probs = model.predict(arrays)
    described = list(vectors) if vectors is not None and len(vectors) == len(boxes) else [None] * len(boxes)
    return PhotoPrediction(
        [_face(model, Image.fromarray(a), p, b, v) for a, p, b, v in zip(arrays, probs, boxes, described)],
        _count_note(boxes),
    )


def _face(model: StoredModel, shown: Image.Image, probs: np.ndarray, box, descriptor=None) -> FacePrediction:
    return FacePrediction(shown, {a: float(p) for a, p in zip(model.attributes, probs)}, box, descriptor)


def _count_note(boxes: list) -> str:
    return f"{len(boxes)} face{'s' if len(boxes) != 1 else ''} found."
