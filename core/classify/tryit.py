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

log = logging.getLogger(__name__)

CHIP_SIZE = 150
# A dlib face box covers brows to chin; CelebA's aligned square is about 2.2x wider, centred a bit higher.
ALIGNED_CONTEXT = 2.2
ALIGNED_LIFT = 0.12


@dataclass
class DetectedFace:
    box: tuple[int, int, int, int]  # left, top, right, bottom in the photo's pixels
    descriptor: np.ndarray | None  # (128,) float32 dlib descriptor, None if it could not be computed


@dataclass
class FacePrediction:
    image: Image.Image  # what the model saw (for display)
    probabilities: dict[str, float]
    box: tuple[int, int, int, int] | None


@dataclass
class PhotoPrediction:
    faces: list[FacePrediction] = field(default_factory=list)
    note: str = ""


def detect_faces(img: Image.Image, descriptors: bool = True) -> list[DetectedFace]:
    """Faces in an RGB image, largest first, boxes in the image's pixels, with the same (mirror-averaged)
    descriptors as the dataset's embeddings: core.faces.pipeline's detector cascade, alignment and descriptor."""
    from core.faces import pipeline as faces
    from core.faces import search

    if descriptors:
        found = search.faces_in_image(img)
        boxes, vectors = found.boxes, list(found.vectors)
        scale = found.image.width / img.width
    else:
        arr, scale = faces.to_array(img)
        boxes = faces.detect_faces(arr)
        vectors = [None] * len(boxes)
    return [DetectedFace(tuple(round(v / scale) for v in box), vector) for box, vector in zip(boxes, vectors)]


def aligned_like_crop(img: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """A square around a face box framed like CelebA's aligned crops (hair and chin included)."""
    left, top, right, bottom = box
    side = max(right - left, bottom - top) * ALIGNED_CONTEXT
    cx, cy = (left + right) / 2, (top + bottom) / 2 - ALIGNED_LIFT * side
    return img.crop((round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2)))


def predict_photo(model: StoredModel, data: bytes, max_faces: int = 4) -> PhotoPrediction:
    """Faces found in the photo -> the model's attribute probabilities for each (ImageError if unreadable)."""
    img = open_rgb(data)
    try:
        faces = detect_faces(img, descriptors=model.features == "embeddings")[:max_faces]
    except (RuntimeError, ImportError, OSError) as exc:
        log.warning("face detection unavailable: %s", exc)
        faces, detector_note = [], f"Face detection is unavailable here ({exc})."
    else:
        detector_note = ""
    if model.features == "embeddings":
        if not faces:
            return PhotoPrediction(
                [], detector_note or "No face found. Try a well-lit, frontal photo where the face is large."
            )
        probs = model.predict(np.stack([f.descriptor for f in faces]))
        shown = [aligned_like_crop(img, f.box) for f in faces]
        return PhotoPrediction([_face(model, s, p, f.box) for s, p, f in zip(shown, probs, faces)], _count_note(faces))
    size = int(model.meta.get("image_size", 64))
    if not faces:
        crop = img
        arr = image_to_array(crop, size, aligned=True)
        note = (
            detector_note or "No face found by the detector"
        ) + ": the whole photo is used as if it were an aligned face crop."
        return PhotoPrediction([_face(model, Image.fromarray(arr), model.predict(arr[None])[0], None)], note)
    crops = [aligned_like_crop(img, f.box) for f in faces]
    arrays = np.stack([image_to_array(c, size, aligned=False) for c in crops])
    probs = model.predict(arrays)
    return PhotoPrediction(
        [_face(model, Image.fromarray(a), p, f.box) for a, p, f in zip(arrays, probs, faces)], _count_note(faces)
    )


def _face(model: StoredModel, shown: Image.Image, probs: np.ndarray, box) -> FacePrediction:
    return FacePrediction(shown, {a: float(p) for a, p in zip(model.attributes, probs)}, box)


def _count_note(faces: list[DetectedFace]) -> str:
    return f"{len(faces)} face{'s' if len(faces) != 1 else ''} found."
