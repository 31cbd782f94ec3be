"""Attribute probabilities for an uploaded photo or camera shot, from a stored model.

`detect_faces` is the single face-detection adapter of this module (dlib directly, with the
model files shipped in the `face_recognition_models` package); when core.faces lands it can
be pointed there without touching anything else, as long as it returns DetectedFace items.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from core.images import open_rgb
from core.model_store import StoredModel
from core.pixels import image_to_array

log = logging.getLogger(__name__)

DETECT_MAX_SIDE = 1000  # photos are scaled down to this for the HOG detector (boxes scaled back)
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


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The face_recognition_models package is not installed, so faces cannot be detected.")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@functools.lru_cache(maxsize=1)
def _dlib_models():
    import dlib

    models = _models_dir()
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat")),
        dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat")),
    )


def detect_faces(img: Image.Image, descriptors: bool = True) -> list[DetectedFace]:
    """Faces in an RGB image, largest first: dlib HOG boxes, 5-point alignment, 150-px chip, 128-d descriptor.

    The adapter to replace with core.faces (same return type) once that module exists.
    """
    import dlib

    detector, predictor, encoder = _dlib_models()
    scale = min(1.0, DETECT_MAX_SIDE / max(img.size))
    small = img if scale == 1.0 else img.resize((round(img.width * scale), round(img.height * scale)))
    arr = np.asarray(small, dtype=np.uint8)
    faces = []
    for rect in sorted(detector(arr, 1), key=lambda r: -r.area()):
        descriptor = None
        if descriptors:
            shape = predictor(arr, rect)
            chip = dlib.get_face_chip(arr, shape, size=CHIP_SIZE)
            descriptor = np.asarray(encoder.compute_face_descriptor(chip), dtype=np.float32)
        box = tuple(int(round(v / scale)) for v in (rect.left(), rect.top(), rect.right(), rect.bottom()))
        faces.append(DetectedFace(box, descriptor))
    return faces


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
            return PhotoPrediction([], detector_note or "No face found. Try a well-lit, frontal photo where the face is large.")
        probs = model.predict(np.stack([f.descriptor for f in faces]))
        shown = [aligned_like_crop(img, f.box) for f in faces]
        return PhotoPrediction([_face(model, s, p, f.box) for s, p, f in zip(shown, probs, faces)], _count_note(faces))
    size = int(model.meta.get("image_size", 64))
    if not faces:
        crop = img
        arr = image_to_array(crop, size, aligned=True)
        note = (detector_note or "No face found by the detector") + ": the whole photo is used as if it were an aligned face crop."
        return PhotoPrediction([_face(model, Image.fromarray(arr), model.predict(arr[None])[0], None)], note)
    crops = [aligned_like_crop(img, f.box) for f in faces]
    arrays = np.stack([image_to_array(c, size, aligned=False) for c in crops])
    probs = model.predict(arrays)
    return PhotoPrediction([_face(model, Image.fromarray(a), p, f.box) for a, p, f in zip(arrays, probs, faces)], _count_note(faces))


def _face(model: StoredModel, shown: Image.Image, probs: np.ndarray, box) -> FacePrediction:
    return FacePrediction(shown, {a: float(p) for a, p in zip(model.attributes, probs)}, box)


def _count_note(faces: list[DetectedFace]) -> str:
    return f"{len(faces)} face{'s' if len(faces) != 1 else ''} found."
