"""The sprite atlas: every image of a dataset as a small face thumbnail, decoded once, for the map of faces.

cache/sprites/<images key>/<size>/faces.npy is an (N, size, size, 3) uint8 array aligned to the table rows (grey
where an image is missing or unreadable), ok.npy the (N,) bool mask of rows that decoded, meta.json (written last)
what was built and how long it took. Keyed by the image files (names and sizes) like the embeddings, so annotation
edits keep it. Raw pixels rather than compressed files: the map's tiles gather any faces by row in microseconds
(202,599 faces at 32 px are 622 MB, a sixth of the classifiers' 80 px pixel cache).

Built by a background job (core/cluster/sprite_job.py) into the PARTIAL files, then renamed into place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core import format as fmt
from core.data.artifacts import quarantine
from core.data.dataset import Dataset
from core.data.images import SOURCE_SIZE, face_square, open_rgb
from core.data.pixel_rows import PixelRows

SPRITE_SIZES = (32, 64)  # pixels per face; the map draws 32
MISSING_GREY = 205  # a face that could not be read: a plain grey square
PARTIAL = ("faces.partial.npy", "ok.partial.npy", "done.partial.npy")  # a build in progress: pixels, read, chunks


@dataclass(frozen=True)
class SpriteAtlas:
    """Every image of a dataset as a size x size face: faces[i] is table row i."""

    faces: PixelRows  # (N, size, size, 3) uint8, read on demand
    ok: np.ndarray  # (N,) bool: the image was read
    size: int


def atlas_folder(ds: Dataset, size: int) -> Path:
    """Where the atlas of `size` px lives: keyed by the image files, beside the ingest folders."""
    return ds.cache_dir.parent / "sprites" / (ds.images_key or ds.key) / str(size)


def check_size(size: int) -> None:
    if size not in SPRITE_SIZES:
        raise ValueError(f"Sprite size {size} is not offered; choose one of {', '.join(map(str, SPRITE_SIZES))}.")


def load_atlas(ds: Dataset, size: int) -> SpriteAtlas | None:
    """The finished atlas (rows read on demand, never memory-mapped: a truncated file must not kill the server), or None when not built. A file of the wrong shape is set aside (with a
    notice) and reads as absent, so it is built again; too large to checksum at every load, like the pixel cache."""
    folder = atlas_folder(ds, size)
    if not (folder / "meta.json").is_file():
        return None
    try:
        faces = PixelRows(
            folder / "faces.npy", f"{size}px face thumbnails", ds.key, "Open the map again to rebuild them."
        )
        ok = np.load(folder / "ok.npy", allow_pickle=False)
        if faces.shape != (ds.n_images, size, size, 3) or ok.shape != (ds.n_images,) or faces.dtype != np.uint8:
            raise ValueError(f"shapes {faces.shape} and {ok.shape} do not match {fmt.count(ds.n_images)} images")
    except (OSError, ValueError) as exc:
        quarantine(folder, f"{size}px face thumbnails", str(exc), dataset=ds.key)
        return None
    return SpriteAtlas(faces, ok, size)


def atlas_version(ds: Dataset, size: int) -> str:
    """Changes whenever the atlas is written again ("" when absent): keys what is cached from it."""
    try:
        return str((atlas_folder(ds, size) / "meta.json").stat().st_mtime_ns)
    except OSError:
        return ""


def face_sprite(path: Path, size: int, aligned: bool) -> np.ndarray:
    """(size, size, 3) uint8: the image's face square (core.data.images.face_square) shrunk to size px; a JPEG is
    decoded at the smallest scale that still covers it (2-3x faster). Raises ImageError when unreadable."""
    img = open_rgb(path, min_side=size)
    square = face_square(img, aligned, img.info.get(SOURCE_SIZE))
    return np.asarray(square.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0), dtype=np.uint8)


def atlas_meta(ds: Dataset, size: int) -> dict:
    """What meta.json says about a finished atlas (rows, read, seconds, created), or {}."""
    try:
        return json.loads((atlas_folder(ds, size) / "meta.json").read_text())
    except (OSError, ValueError):
        return {}
