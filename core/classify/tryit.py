"""Attribute probabilities for an uploaded photo or camera shot, from a stored model.

Faces are found and described by core.faces.pipeline (through core.faces.search), exactly as the dataset's
embeddings were, so embedding models see the same kind of vectors they were trained on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from core.classify.pixels import image_to_array
from core.classify.store import StoredModel
from core.data.images import open_rgb
from core.faces.search import faces_in_image

log = logging.getLogger(__name__)

# A dlib face box covers brows to chin; CelebA's aligned square is about 2.2x wider, centred a bit higher.
ALIGNED_CONTEXT = 2.2
ALIGNED_LIFT = 0.12


@dataclass
class FacePrediction:
    image: Image.Image  # what the model saw (for display)
    probabilities: dict[str, float]
    box: tuple[int, int, int, int] | None


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
        found = faces_in_image(img, describe=on_embeddings)
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
        return PhotoPrediction([_face(model, s, p, b) for s, p, b in zip(shown, probs, boxes)], _count_note(boxes))
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
    return PhotoPrediction(
        [_face(model, Image.fromarray(a), p, b) for a, p, b in zip(arrays, probs, boxes)], _count_note(boxes)
    )


def _face(model: StoredModel, shown: Image.Image, probs: np.ndarray, box) -> FacePrediction:
    return FacePrediction(shown, {a: float(p) for a, p in zip(model.attributes, probs)}, box)


def _count_note(boxes: list) -> str:
    return f"{len(boxes)} face{'s' if len(boxes) != 1 else ''} found."
