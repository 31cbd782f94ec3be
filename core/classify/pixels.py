"""Face pixels for the CNN: square crops decoded once into a uint8 cache, and batch augmentation.

cache/pixels/<images key>/pixels_<size>.npy is an (N, size, size, 3) uint8 array aligned to the dataset
table (zeros where an image is missing or unreadable) and pixels_<size>_ok.npy the (N,) bool
mask of rows that decoded. The array is filled in a temp file and renamed, the mask is
written after it, so a reader seeing the mask always sees a complete array.

Too large to read into memory at CelebA's size (3.9 GB at 80 px) and never memory-mapped: a mapped file shrunk
behind a training job's back kills it with SIGBUS. PixelRows reads the rows a batch needs from an open file and
fails the job with a sentence when the file changed size.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from core import format as fmt
from core.data.artifacts import quarantine
from core.data.atomic import replaced_atomically, save_npy
from core.data.dataset import Dataset
from core.data.images import face_square, open_rgb
from core.data.pixel_rows import PixelRows
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
    """Where the decoded pixels live: keyed by the image files' content, so they outlive annotation edits."""
    folder = ds.cache_dir.parent / "pixels" / (ds.images_key or ds.key)
    return folder / f"pixels_{size}.npy", folder / f"pixels_{size}_ok.npy"


def load_pixel_cache(ds: Dataset, size: int) -> tuple[PixelRows, np.ndarray] | None:
    """(pixels (N, S, S, 3) uint8 read on demand, ok (N,) bool), or None when not built yet.

    Too large to checksum at every load (3.9 GB for CelebA at 80 px): a file of the wrong size or shape is
    set aside (with a notice) and rebuilt.
    """
    array_path, ok_path = pixel_cache_paths(ds, size)
    if not ok_path.is_file() or not array_path.is_file():
        return None
    what = f"{size}px pixel cache"
    try:
        pixels = PixelRows(array_path, what, ds.key)
        ok = np.load(ok_path, allow_pickle=False)
        if pixels.shape != (ds.n_images, size, size, 3) or ok.shape != (ds.n_images,):
            raise ValueError(f"shapes {pixels.shape} and {ok.shape} do not match {fmt.count(ds.n_images)} images")
    except (OSError, ValueError) as exc:
        for path in (array_path, ok_path):
            quarantine(path, what, str(exc), dataset=ds.key)
        return None
    return pixels, ok


def build_pixel_cache(
    ds: Dataset, size: int, progress: Callable[[int, int], None] | None = None
) -> tuple[PixelRows, np.ndarray]:
    """Decode every image once into the cache (or reuse it); returns (pixels, ok) like load_pixel_cache."""
    if size not in IMAGE_SIZES:
        raise ValueError(f"Image size {size} is not offered; choose one of {', '.join(map(str, IMAGE_SIZES))}.")
    cached = load_pixel_cache(ds, size)
    if cached is not None:
        return cached
    if not ds.has_images:
        raise ValueError(f"{ds.name} has no image files, so a model from pixels cannot be trained; use embeddings.")
    array_path, ok_path = pixel_cache_paths(ds, size)
    n = ds.n_images
    ok = np.zeros(n, dtype=bool)
    blank = bytes(size * size * 3)
    # Written in row order with plain writes (a map of it could SIGBUS too).
    with replaced_atomically(array_path) as tmp, open(tmp, "wb") as out:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False}
        np.lib.format.write_array_header_2_0(out, header | {"shape": (n, size, size, 3)})
        for i, image_id in enumerate(ds.table["image_id"].to_list()):
            row = blank
            path = ds.image_path(image_id)
            if path is not None:
                try:
                    row = image_to_array(open_rgb(path), size, ds.aligned or ds.is_demo).tobytes()
                    ok[i] = True
                except ImageError as exc:
                    log.warning("skipping %s: %s", image_id, exc)
            out.write(row)
            if progress and (i % 200 == 0 or i == n - 1):
                progress(i + 1, n)
    save_npy(ok_path, ok)
    return load_pixel_cache(ds, size)


LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 weights of R, G, B in a grey level


def augment_batch(
    x,
    generator=None,
    max_degrees: float = 10.0,
    max_shift: float = 0.06,
    zoom: float = 0.1,
    brightness: float = 0.2,
    saturation: float = 0.4,
):
    """Random horizontal flip, rotation, shift and zoom of a float batch (B, 3, S, S) in [-1, 1] via one affine warp,
    then a random brightness and saturation per image (no hue shift: hair and skin keep their colours' order).

    Brightness and saturation matter on small sets: the demo has four bald people to learn from, none pale; without
    them the CNN learns "a scalp of these skin tones" and misses a pale bald head (issue 28).
    """
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
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if not brightness and not saturation:
        return out
    rgb = (out + 1) / 2
    grey = (rgb * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    rgb = grey + uniform(1 - saturation, 1 + saturation).view(b, 1, 1, 1) * (rgb - grey)
    rgb = rgb * uniform(1 - brightness, 1 + brightness).view(b, 1, 1, 1)
    return rgb.clamp(0, 1) * 2 - 1
