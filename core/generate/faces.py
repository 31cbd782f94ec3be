"""The faces a generator learns from: 64 px squares of aligned faces, decoded once, and their smaller sizes.

Aligned datasets (CelebA's img_align, the demo) reuse the classifiers' 64 px pixel cache (core.classify.pixels):
the face square of each crop. A folder of photos has its faces anywhere, so each photo's largest face is found,
aligned as CelebA aligned its crops (dlib's 5 landmarks, core.faces.pipeline.align_like_celeba) and cut the
same way; photos where no face is found are left out. Smaller sizes are block means of the 64 px faces, rounded
to whole pixel values, so every size is cut from the same faces.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.classify.pixels import build_pixel_cache, image_to_array
from core.data.artifacts import quarantine
from core.data.atomic import replaced_atomically, save_npy
from core.data.dataset import Dataset
from core.data.images import ALIGNED_SQUARE, open_rgb
from core.data.pixel_rows import PixelRows
from core.errors import DatasetError, ImageError
from core.faces.pipeline import ALIGNED_SIZE

log = logging.getLogger(__name__)

FACE_SIZE = 64  # every generator size is cut from these
NO_IMAGES = (
    "{name} has no image files, so there is nothing to generate from: a generator learns from the faces' pixels. "
    "Pick a dataset with images (the demo, or a folder of photos)."
)


def needs_alignment(ds: Dataset) -> bool:
    """Photos whose faces must be found and aligned first (not CelebA-style aligned crops)."""
    return not (ds.aligned or ds.is_demo)


def face_pixels(ds: Dataset, progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(pixels (N, 64, 64, 3) uint8 aligned to the table, ok (N,) bool: rows with a usable face), built once."""
    if not ds.has_images:
        raise DatasetError(NO_IMAGES.format(name=ds.name))
    if not needs_alignment(ds):
        return build_pixel_cache(ds, FACE_SIZE, progress)
    return _aligned_photo_faces(ds, progress)


def faces_at(pixels: np.ndarray, size: int) -> np.ndarray:
    """(n, size, size, 3) uint8: block means of (n, S, S, 3) uint8 faces (S a multiple of size), rounded (in float64)."""
    pixels = np.asarray(pixels)
    n, side = pixels.shape[0], pixels.shape[1]
    if side == size:
        return pixels.astype(np.uint8, copy=False)
    f = side // size
    if f * size != side:
        raise ValueError(f"{side} px faces cannot be cut to {size} px (not a whole fraction).")
    blocks = pixels.reshape(n, size, f, size, f, 3).astype(np.float64).mean(axis=(2, 4))
    return np.rint(blocks).astype(np.uint8)


def training_rows(ok: np.ndarray, max_images: int, seed: int) -> np.ndarray:
    """(n,) int64 ascending rows a generator trains on: every usable face, or a seeded sample of max_images."""
    rows = np.flatnonzero(ok)
    if max_images and len(rows) > max_images:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_images, replace=False))
    return rows.astype(np.int64)


def aligned_faces_paths(ds: Dataset) -> tuple[Path, Path]:
    """Where a photo dataset's aligned faces live: keyed by the image files, beside the classifiers' pixel caches."""
    folder = ds.cache_dir.parent / "pixels" / (ds.images_key or ds.key)
    return folder / f"faces_{FACE_SIZE}.npy", folder / f"faces_{FACE_SIZE}_ok.npy"


def _load_aligned(ds: Dataset) -> tuple[PixelRows, np.ndarray] | None:
    array_path, ok_path = aligned_faces_paths(ds)
    if not ok_path.is_file() or not array_path.is_file():
        return None
    try:
        pixels = PixelRows(
            array_path, "aligned faces of the generator", ds.key, "Train the generator again to rebuild them."
        )
        ok = np.load(ok_path, allow_pickle=False)
        if pixels.shape != (ds.n_images, FACE_SIZE, FACE_SIZE, 3) or ok.shape != (ds.n_images,):
            raise ValueError(f"shapes {pixels.shape} and {ok.shape} do not match {ds.n_images:,} images")
    except (OSError, ValueError) as exc:
        for path in (array_path, ok_path):
            quarantine(path, "aligned faces of the generator", str(exc), dataset=ds.key)
        return None
    return pixels, ok


def aligned_face(path: Path) -> np.ndarray | None:
    """(64, 64, 3) uint8 of a photo's largest face, aligned like CelebA's crops; None when no face is found."""
    from core.faces import pipeline as faces

    img = open_rgb(path)
    arr, scale = faces.to_array(img)
    # HOG only: the CNN rescue costs seconds a photo, and a generator loses little by missing a few faces.
    boxes = faces.detect_faces(arr, faces.FaceConfig(rescue="none"))
    if not boxes:
        return None
    eyes = faces.eye_centres5(faces.shape_points(faces.landmarks(arr, boxes[0]))) / scale
    return image_to_array(faces.align_like_celeba(img, eyes), FACE_SIZE, aligned=True)


def _aligned_photo_faces(ds: Dataset, progress) -> tuple[np.ndarray, np.ndarray]:
    cached = _load_aligned(ds)
    if cached is not None:
        return cached
    array_path, ok_path = aligned_faces_paths(ds)
    n = ds.n_images
    ok = np.zeros(n, dtype=bool)
    with replaced_atomically(array_path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, FACE_SIZE, FACE_SIZE, 3))
        for i, image_id in enumerate(ds.table["image_id"].to_list()):
            path = ds.image_path(image_id)
            if path is not None and path.is_file():
                try:
                    face = aligned_face(path)
                except ImageError as exc:
                    log.warning("skipping %s: %s", image_id, exc)
                    face = None
                if face is not None:
                    out[i], ok[i] = face, True
            if progress and (i % 20 == 0 or i == n - 1):
                progress(i + 1, n)
        out.flush()
        del out
    save_npy(ok_path, ok)
    return _load_aligned(ds)


def as_aligned_crop(face: np.ndarray) -> np.ndarray:
    """(218, 178, 3) uint8: a face square put back where it was cut from a CelebA-style aligned crop (enlarged to
    the square's 178 px; the bands above and below repeat its edge rows), so the dataset's own face pipeline
    reads it as it read the training photos."""
    from PIL import Image

    left, top, right, bottom = ALIGNED_SQUARE
    square = Image.fromarray(np.asarray(face, np.uint8)).resize((right - left, bottom - top), Image.Resampling.BILINEAR)
    pad = ((top, ALIGNED_SIZE[1] - bottom), (0, 0), (0, 0))
    return np.pad(np.asarray(square), pad, mode="edge")


def descriptors_of(
    faces: np.ndarray, progress: Callable[[int, int], None] | None = None, chunk: int = 50
) -> np.ndarray:
    """(n, 128) float32 face descriptors of (n, S, S, 3) uint8 face squares, computed as the dataset's embeddings
    were (the aligned fast path: HOG on the crop, its fixed face box where HOG finds nothing; mirror-averaged)."""
    from core.faces import pipeline

    out = np.zeros((len(faces), pipeline.DESCRIPTOR_DIM), np.float32)
    for start in range(0, len(faces), chunk):
        part = faces[start : start + chunk]
        results = [pipeline.process_array(as_aligned_crop(face), aligned=True) for face in part]
        out[start : start + len(part)] = pipeline.describe_results(results).vectors
        if progress:
            progress(start + len(part), len(faces))
    return out
