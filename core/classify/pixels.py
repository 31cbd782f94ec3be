"""Face pixels for the CNN: square crops decoded once into a uint8 cache, and batch augmentation.

cache/<key>/pixels_<size>.npy is an (N, size, size, 3) uint8 array aligned to the dataset
table (zeros where an image is missing or unreadable) and pixels_<size>_ok.npy the (N,) bool
mask of rows that decoded. The array is filled in a temp file and renamed, the mask is
written after it, so a reader seeing the mask always sees a complete array.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from core import format as fmt
from core.data.artifacts import quarantine
from core.data.atomic import save_npy
from core.data.dataset import Dataset
from core.data.images import face_square, open_rgb
from core.errors import ImageError

# Lazy imports: torch are imported inside the functions that use them, so pages and commands that never call them do
# not pay their import time and memory on a shared server.

log = logging.getLogger(__name__)

IMAGE_SIZES = (64, 80, 96, 112, 128)


def image_to_array(img: Image.Image, size: int, aligned: bool = True) -> np.ndarray:
    """(size, size, 3) uint8 pixels of a PIL image's face square."""
    square = face_square(img, aligned)
    return np.asarray(square.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0), dtype=np.uint8)


def pixel_cache_paths(ds: Dataset, size: int) -> tuple[Path, Path]:
    """Where the decoded pixels live: keyed by the image files (names and sizes), so they outlive annotation edits."""
    folder = ds.cache_dir.parent / "pixels" / (ds.images_key or ds.key)
    return folder / f"pixels_{size}.npy", folder / f"pixels_{size}_ok.npy"


def load_pixel_cache(ds: Dataset, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(pixels memmap (N, S, S, 3) uint8, ok (N,) bool), or None when not built yet.

    Too large to checksum at every load (3.9 GB for CelebA at 80 px): a file of the wrong size or shape is
    set aside (with a notice) and rebuilt.
    """
    array_path, ok_path = pixel_cache_paths(ds, size)
    if not ok_path.is_file() or not array_path.is_file():
        return None
    try:
        pixels = np.load(array_path, mmap_mode="r", allow_pickle=False)  # checks the file holds the whole array
        ok = np.load(ok_path, allow_pickle=False)
        if pixels.shape != (ds.n_images, size, size, 3) or ok.shape != (ds.n_images,):
            raise ValueError(f"shapes {pixels.shape} and {ok.shape} do not match {fmt.count(ds.n_images)} images")
    except (OSError, ValueError) as exc:
        for path in (array_path, ok_path):
            quarantine(path, f"{size}px pixel cache", str(exc), dataset=ds.key)
        return None
    return pixels, ok


def build_pixel_cache(
    ds: Dataset, size: int, progress: Callable[[int, int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Decode every image once into the cache (or reuse it); returns (pixels, ok) like load_pixel_cache."""
    if size not in IMAGE_SIZES:
        raise ValueError(f"Image size {size} is not offered; choose one of {', '.join(map(str, IMAGE_SIZES))}.")
    cached = load_pixel_cache(ds, size)
    if cached is not None:
        return cached
    if not ds.has_images:
        raise ValueError(f"{ds.name} has no image files, so a model from pixels cannot be trained; use embeddings.")
    array_path, ok_path = pixel_cache_paths(ds, size)
    array_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = array_path.with_name(f".{array_path.name}.{os.getpid()}.tmp")
    n = ds.n_images
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
    ok = np.zeros(n, dtype=bool)
    try:
        for i, image_id in enumerate(ds.table["image_id"].to_list()):
            path = ds.image_path(image_id)
            if path is not None and path.is_file():
                try:
                    out[i] = image_to_array(open_rgb(path), size, ds.aligned or ds.is_demo)
                    ok[i] = True
                except ImageError as exc:
                    log.warning("skipping %s: %s", image_id, exc)
            if progress and (i % 200 == 0 or i == n - 1):
                progress(i + 1, n)
        out.flush()
        del out
        os.replace(tmp, array_path)
    finally:
        tmp.unlink(missing_ok=True)
    save_npy(ok_path, ok)
    return load_pixel_cache(ds, size)


def augment_batch(x, generator=None, max_degrees: float = 10.0, max_shift: float = 0.06, zoom: float = 0.1):
    """Random horizontal flip, rotation, shift and zoom of a float batch (B, 3, S, S) via one affine warp."""
    import torch
    import torch.nn.functional as F

    b = x.shape[0]

    def uniform(lo: float, hi: float):
        return torch.rand(b, generator=generator) * (hi - lo) + lo

    angle = uniform(-max_degrees, max_degrees) * math.pi / 180
    scale = 1.0 / uniform(1 - zoom, 1 + zoom)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip, cos
    theta[:, 0, 2] = uniform(-max_shift, max_shift) * 2
    theta[:, 1, 2] = uniform(-max_shift, max_shift) * 2
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
