"""Face pipeline on dlib: detect -> 5-point landmarks -> aligned 150 px chip -> 128-d descriptor.

Boxes are (left, top, right, bottom) in pixels of the image as given (after EXIF
rotation). Models come from the `face_recognition_models` package, located with
importlib (its own __init__ needs pkg_resources, so it is never imported) and
loaded lazily once per process.

Detection cascade for photos: HOG at upsample 0, then HOG at upsample 1, then
(only where both found nothing) HOG at upsample 2 on small images or the CNN
(mmod) detector. Aligned crops (CelebA img_align, the demo) take a fast path:
HOG only on the small crop, and where it finds nothing the crop's fixed face box,
flagged. (Skipping detection altogether and always using the fixed box was
measured and rejected: its descriptors differ where HOG's box does, and
verification drops; see docs/bench/faces.md.)
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from core.data.images import MAX_UPLOAD_BYTES, open_rgb
from core.errors import ImageError, ModelMissingError

# Lazy imports: dlib are imported inside the functions that use them, so pages and commands that never call them do
# not pay their import time and memory on a shared server.

PIPELINE_VERSION = 3  # 3: the CNN rescue is bounded to CNN_MAX_PIXELS
CHIP_SIZE = 150
CHIP_PADDING = 0.25
DESCRIPTOR_DIM = 128
# Detection runs on a copy whose longer side is at most this (CelebA photos are ~400x500).
MAX_DETECT_SIDE = 1024
# Upsample 2 quadruples the pixels; only for images small enough for that to stay cheap.
UPSAMPLE2_MAX_PIXELS = 700 * 700
# The CNN rescue runs on at most this many pixels (after its own upsampling): bounded time and memory.
CNN_MAX_PIXELS = 700 * 700

# CelebA's aligned crops (178x218): the mean eye centres of list_landmarks_align_celeba,
# and the face box dlib's HOG detector returns on such crops (median over 485 crops cut
# from the real wild sample, see docs/bench/faces.md): the fallback box of an aligned crop.
ALIGNED_SIZE = (178, 218)
ALIGNED_EYES = ((69.0, 111.0), (107.0, 111.0))  # (x, y) of the left-in-image and right-in-image eye
ALIGNED_BOX = (45, 83, 131, 170)

# Per-image outcome codes stored beside the embedding matrix.
STATUS_FACE = 0  # face found by detection
STATUS_ALIGNED = 1  # aligned crop, face found by the fast path (HOG only, no rescue)
STATUS_FALLBACK = 2  # aligned dataset, nothing detected: fixed box used anyway (flagged)
STATUS_NO_FACE = 3  # no face: row masked
STATUS_FAILED = 4  # unreadable / corrupt image: row masked
STATUS_NAMES = {0: "detected", 1: "aligned fast path", 2: "fixed-box fallback", 3: "no face", 4: "unreadable"}

MODEL_FILES = {
    "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
    "landmarks5": "shape_predictor_5_face_landmarks.dat",
    "landmarks68": "shape_predictor_68_face_landmarks.dat",
    "cnn": "mmod_human_face_detector.dat",
}


@dataclass(frozen=True)
class FaceConfig:
    """How faces are found and described; part of the embedding cache key."""

    upsample: tuple[int, ...] = (0, 1)  # HOG upsample levels tried in order until a face is found
    rescue: str = "auto"  # where HOG found nothing: "auto" (upsample 2 when small, else CNN), "cnn", "none"
    mirror: bool = True  # average the descriptors of the chip and its horizontal flip
    fast_aligned: bool = True  # aligned crops: HOG only, fixed box (flagged) where it finds nothing

    def cache_token(self) -> str:
        up = "".join(map(str, self.upsample))
        return f"v{PIPELINE_VERSION}-up{up}-{self.rescue}-m{int(self.mirror)}-f{int(self.fast_aligned)}"


@dataclass
class FaceResult:
    """One image through the pipeline: the chosen face (largest) and every box found."""

    status: int
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # all faces, largest first
    chip: np.ndarray | None = None  # (150, 150, 3) uint8 of the chosen face
    landmarks: np.ndarray | None = None  # (5, 2) float32 of the chosen face
    error: str = ""
    scale: float = 1.0  # detection image / original image

    @property
    def has_face(self) -> bool:
        return self.status in (STATUS_FACE, STATUS_ALIGNED, STATUS_FALLBACK)

    @property
    def n_faces(self) -> int:
        return len(self.boxes)


# ---------------------------------------------------------------- models


def models_dir() -> Path:
    """Folder holding the dlib model files of the face_recognition_models package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise ModelMissingError(
            "The face models are not installed: pip install face_recognition_models (see requirements.txt)."
        )
    return Path(spec.origin).parent / "models"


def model_path(name: str) -> Path:
    """Path of one model file ('descriptor', 'landmarks5', 'landmarks68', 'cnn')."""
    path = models_dir() / MODEL_FILES[name]
    if not path.is_file():
        raise ModelMissingError(f"Model file {path.name} is missing from face_recognition_models.")
    return path


def _dlib():
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - environment problem
        raise ModelMissingError("dlib is not installed: pip install dlib-bin (see requirements.txt).") from exc
    return dlib


# dlib's detectors, shape predictors and networks are not safe to call from two threads at once (Streamlit runs
# each session in its own thread; concurrent detections crashed the server with SIGSEGV). Each model gets a
# lock held for every call: a model is used by one thread at a time. One instance per thread was the
# alternative; dlib-bin does not release the GIL, so it would only have multiplied memory (the
# measurement is in docs/bench/load.md).
_MODEL_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def model_lock(name: str) -> threading.Lock:
    """The lock every use of the named model (dlib's or the descriptor backend's) holds."""
    with _LOCKS_LOCK:
        return _MODEL_LOCKS.setdefault(name, threading.Lock())


def load_dlib_model(name: str):
    """A dlib model loaded once per process: 'hog', 'cnn', 'landmarks5', 'landmarks68', 'descriptor'.

    Call it only while holding model_lock(name).
    """
    with model_lock(f"load-{name}"):
        return _load_dlib_model(name)


@cache
def _load_dlib_model(name: str):
    dlib = _dlib()
    if name == "hog":
        return dlib.get_frontal_face_detector()
    if name == "cnn":
        return dlib.cnn_face_detection_model_v1(str(model_path("cnn")))
    if name in ("landmarks5", "landmarks68"):
        return dlib.shape_predictor(str(model_path(name)))
    if name == "descriptor":
        return dlib.face_recognition_model_v1(str(model_path("descriptor")))
    raise ValueError(f"Unknown face model {name!r}; choose hog, cnn, landmarks5, landmarks68 or descriptor.")


# ---------------------------------------------------------------- descriptor backends


class DescriptorBackend(Protocol):
    def compute(self, chips: np.ndarray) -> np.ndarray:
        """(n, 150, 150, 3) uint8 RGB aligned chips -> (n, 128) float32 descriptors."""
        ...


class DlibDescriptor:
    """dlib's own ResNet descriptor (CPU, no BLAS in dlib-bin: ~120 ms per chip)."""

    def compute(self, chips: np.ndarray) -> np.ndarray:
        if len(chips) == 0:
            return np.zeros((0, DESCRIPTOR_DIM), np.float32)
        with model_lock("descriptor"):
            net = load_dlib_model("descriptor")
            out = net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
        return np.asarray([np.asarray(v) for v in out], dtype=np.float32)


def _torch_backend() -> DescriptorBackend:
    try:
        from core.faces.dlib_torch import TorchFaceDescriptor  # the dlib -> torch port of the same network
    except ImportError as exc:
        raise ModelMissingError(f"The torch descriptor backend is not available ({exc}); use --backend dlib.") from exc
    # One thread: job workers are one process per core, and server sessions share the cores.
    return TorchFaceDescriptor(num_threads=1)


# torch runs dlib's own network with dlib's weights: same descriptors (max abs diff 5e-7), 6-16x faster
# than dlib-bin's BLAS-less build (docs/bench/descriptor.md).
DEFAULT_BACKEND = "torch"
DESCRIPTOR_BACKENDS: dict[str, Callable[[], DescriptorBackend]] = {"dlib": DlibDescriptor, "torch": _torch_backend}


@cache
def descriptor_backend(name: str = DEFAULT_BACKEND) -> DescriptorBackend:
    """The descriptor backend by name (loaded once per process); unknown names raise ValueError."""
    if name not in DESCRIPTOR_BACKENDS:
        raise ValueError(f"Unknown descriptor backend {name!r}; choose one of {sorted(DESCRIPTOR_BACKENDS)}.")
    return DESCRIPTOR_BACKENDS[name]()


def describe_chips(chips: np.ndarray, mirror: bool = True, backend: str = DEFAULT_BACKEND) -> np.ndarray:
    """(n,150,150,3) uint8 chips -> (n,128) float32; mirror=True averages with the flipped chips."""
    chips = np.asarray(chips, dtype=np.uint8)
    impl = descriptor_backend(backend)
    if not mirror or len(chips) == 0:
        with model_lock(f"backend-{backend}"):
            return impl.compute(chips)
    with model_lock(f"backend-{backend}"):
        both = impl.compute(np.concatenate([chips, chips[:, :, ::-1]]))
    n = len(chips)
    return ((both[:n] + both[n:]) / 2).astype(np.float32)


SEARCH_MODELS = ("hog", "landmarks5", "descriptor")  # the dlib models a photo's search loads


def warm_up(backend: str = DEFAULT_BACKEND) -> None:
    """Load what finding and describing a photo's faces needs, and run the descriptor once, in this process.

    The first photo otherwise waits for all of it (the torch import, the weights, a first pass: 2.6 s of CPU,
    15 s on a busy 2-core machine); everything stays loaded for the process (raises ModelMissingError).
    """
    for name in SEARCH_MODELS:
        load_dlib_model(name)
    describe_chips(np.zeros((1, CHIP_SIZE, CHIP_SIZE, 3), np.uint8), mirror=False, backend=backend)


# ---------------------------------------------------------------- detection and alignment


def to_array(img: Image.Image, max_side: int = MAX_DETECT_SIDE) -> tuple[np.ndarray, float]:
    """RGB PIL image -> (H, W, 3) uint8 array downscaled so the longer side <= max_side, and the scale."""
    scale = min(1.0, max_side / max(img.size))
    if scale < 1.0:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
    return np.asarray(img.convert("RGB"), dtype=np.uint8), scale


def _rect_tuple(r) -> tuple[int, int, int, int]:
    return (int(r.left()), int(r.top()), int(r.right()), int(r.bottom()))


def _area(box: tuple[int, int, int, int]) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def detect_faces(arr: np.ndarray, config: FaceConfig = FaceConfig()) -> list[tuple[int, int, int, int]]:
    """Face boxes (left, top, right, bottom) in `arr`, largest first, by the configured cascade."""
    for level in config.upsample:
        boxes = _hog(arr, level)
        if boxes:
            return sorted(boxes, key=_area, reverse=True)
    rescue = config.rescue
    if rescue == "none":
        return []
    if rescue == "auto" and arr.shape[0] * arr.shape[1] <= UPSAMPLE2_MAX_PIXELS and 2 not in config.upsample:
        boxes = _hog(arr, 2)
        if boxes:
            return sorted(boxes, key=_area, reverse=True)
    return sorted(_cnn(arr), key=_area, reverse=True)


def _hog(arr: np.ndarray, upsample: int) -> list[tuple[int, int, int, int]]:
    with model_lock("hog"):
        return [_rect_tuple(r) for r in load_dlib_model("hog")(arr, upsample)]


def _cnn(arr: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The CNN (mmod) detector's boxes, run on at most CNN_MAX_PIXELS (after its upsampling), scaled back to `arr`.

    Its cost grows with the pixels: a 1024x1024 photo took ~10 s and ~1 GB at full size; bounded, a query
    costs a few seconds whatever its size (docs/BENCHMARKS.md).
    """
    upsample = 0 if max(arr.shape[:2]) > 400 else 1
    effective = arr.shape[0] * arr.shape[1] * (4 if upsample else 1)
    scale = min(1.0, (CNN_MAX_PIXELS / effective) ** 0.5)
    small = arr
    if scale < 1.0:
        size = (max(1, round(arr.shape[1] * scale)), max(1, round(arr.shape[0] * scale)))
        small = np.asarray(Image.fromarray(arr).resize(size, Image.BILINEAR))
    with model_lock("cnn"):
        found = load_dlib_model("cnn")(small, upsample)
    return [tuple(round(v / scale) for v in _rect_tuple(d.rect)) for d in found]


def landmarks(arr: np.ndarray, box: tuple[int, int, int, int], model: str = "landmarks5"):
    """dlib full_object_detection for `box` in `arr` (5-point by default)."""
    dlib = _dlib()
    with model_lock(model):
        return load_dlib_model(model)(arr, dlib.rectangle(*box))


def shape_points(shape) -> np.ndarray:
    """(P, 2) float32 points of a dlib full_object_detection."""
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def eye_centres5(points: np.ndarray) -> np.ndarray:
    """(2, 2) eye centres (left-in-image first) from the 5-point model's points."""
    a, b = points[0:2].mean(0), points[2:4].mean(0)
    return np.stack(sorted([a, b], key=lambda p: p[0]))


def face_chip(arr: np.ndarray, shape) -> np.ndarray:
    """(150, 150, 3) uint8 aligned chip of one face (dlib.get_face_chip, padding 0.25)."""
    return np.asarray(_dlib().get_face_chip(arr, shape, size=CHIP_SIZE, padding=CHIP_PADDING), dtype=np.uint8)


def aligned_box(arr: np.ndarray) -> tuple[int, int, int, int]:
    """The fixed face box of an aligned crop, scaled to the array's size."""
    sx, sy = arr.shape[1] / ALIGNED_SIZE[0], arr.shape[0] / ALIGNED_SIZE[1]
    left, top, right, bottom = ALIGNED_BOX
    return (round(left * sx), round(top * sy), round(right * sx), round(bottom * sy))


def process_array(arr: np.ndarray, aligned: bool = False, config: FaceConfig = FaceConfig()) -> FaceResult:
    """Find the largest face in an (H,W,3) uint8 array and cut its chip (no descriptor yet).

    Aligned crops (fast path): HOG only (upsample 0, then 1; cheap on a 178x218 crop) and
    the detected box, so descriptors equal full detection's; where HOG finds nothing the
    crop's fixed box is used and flagged (STATUS_FALLBACK) instead of the slow rescue.
    """
    fast = aligned and config.fast_aligned
    boxes = detect_faces(arr, replace(config, rescue="none") if fast else config)
    if boxes:
        shape = landmarks(arr, boxes[0])
        status = STATUS_ALIGNED if fast else STATUS_FACE
        return FaceResult(status, boxes, face_chip(arr, shape), shape_points(shape))
    if aligned:
        box = aligned_box(arr)
        shape = landmarks(arr, box)
        return FaceResult(STATUS_FALLBACK, [box], face_chip(arr, shape), shape_points(shape))
    return FaceResult(STATUS_NO_FACE)


def process_image(
    source, aligned: bool = False, config: FaceConfig = FaceConfig(), max_bytes: int = MAX_UPLOAD_BYTES
) -> FaceResult:
    """Open an image safely (path or bytes, bytes up to max_bytes) and run process_array; unreadable -> STATUS_FAILED."""
    try:
        img = open_rgb(source, max_bytes=max_bytes)
    except ImageError as exc:
        return FaceResult(STATUS_FAILED, error=str(exc))
    arr, scale = to_array(img)
    result = process_array(arr, aligned, config)
    result.scale = scale
    return result


def align_like_celeba(img: Image.Image, eyes: np.ndarray) -> Image.Image:
    """A 178x218 crop of `img` placing its (2, 2) eye centres (left-in-image first) at ALIGNED_EYES.

    The similarity transform (rotation, scale, shift) CelebA used for img_align_celeba.
    """
    e1, e2 = (complex(*map(float, p)) for p in eyes)
    d1, d2 = (complex(*p) for p in ALIGNED_EYES)
    s = (e2 - e1) / (d2 - d1)
    c = e1 - s * d1
    coeffs = (s.real, -s.imag, c.real, s.imag, s.real, c.imag)
    return img.transform(ALIGNED_SIZE, Image.AFFINE, coeffs, resample=Image.BILINEAR)


def eye_centres68(points: np.ndarray) -> np.ndarray:
    """(2, 2) eye centres (left-in-image first) from the 68-point model's points."""
    return np.stack(sorted([points[36:42].mean(0), points[42:48].mean(0)], key=lambda p: p[0]))


@dataclass
class DescribedBatch:
    """Descriptors for a list of images, in input order."""

    vectors: np.ndarray  # (n, 128) float32, zeros where there is no face
    status: np.ndarray  # (n,) int8 STATUS_*
    n_faces: np.ndarray  # (n,) int16 faces detected
    errors: list[str]
    digests: np.ndarray | None = None  # (n, 16) uint8 content digest of the bytes described (embedding jobs)


def describe_images(
    sources: Sequence, aligned: bool = False, config: FaceConfig = FaceConfig(), backend: str = DEFAULT_BACKEND
) -> DescribedBatch:
    """Paths/bytes -> descriptors of each image's largest face, chips described in one batch."""
    results = [process_image(s, aligned, config) for s in sources]
    return describe_results(results, config, backend)


def describe_results(
    results: Sequence[FaceResult], config: FaceConfig = FaceConfig(), backend: str = DEFAULT_BACKEND
) -> DescribedBatch:
    """Batch the chips of pipeline results through the descriptor backend."""
    n = len(results)
    vectors = np.zeros((n, DESCRIPTOR_DIM), np.float32)
    with_chip = [i for i, r in enumerate(results) if r.chip is not None]
    if with_chip:
        chips = np.stack([results[i].chip for i in with_chip])
        vectors[with_chip] = describe_chips(chips, mirror=config.mirror, backend=backend)
    return DescribedBatch(
        vectors=vectors,
        status=np.array([r.status for r in results], np.int8),
        n_faces=np.array([r.n_faces for r in results], np.int16),
        errors=[r.error for r in results],
    )
