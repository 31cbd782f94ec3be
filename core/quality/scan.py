"""One pass over a dataset's image files: what every quality check needs to know about the pixels.

Each image is read once: a content hash of its bytes (exact duplicates), its size, brightness, contrast and
sharpness (unusable images) and a 24 x 30 RGB thumbnail (how the whole image looks: near duplicates, and pixel
features for the label check, since a face descriptor sees only the face, not the hat above it).
JPEGs are decoded at a reduced scale (PIL's draft mode), which is what makes the pass cheap; the measures are
taken at a fixed short side so that images of every size are comparable. Worker processes share the files.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass

import numpy as np
import polars as pl
from PIL import Image

from core.data.dataset import Dataset
from core.data.images import FORMATS, MAX_PIXELS, read_image_file
from core.processes import plain_main, worker_pool

log = logging.getLogger(__name__)

SCAN_VERSION = 3  # bump when a measure changes: stored scans of an older version are recomputed
THUMB_SIZE = (24, 30)  # (width, height) of the thumbnail kept (CelebA crops are 178 x 218; at 16 x 20 a 4 % crop
# could not be told from a different photo, see core.quality.duplicates)
MEASURE_SIDE = 88  # short side (pixels) at which brightness, contrast and sharpness are measured
CHUNK = 256  # images per worker task
IN_PROCESS_BELOW = 2_000  # smaller datasets are scanned without worker processes

ProgressFn = Callable[[int, int], None]

COLUMNS = {
    "readable": pl.Boolean,
    "width": pl.Int32,
    "height": pl.Int32,
    "file_bytes": pl.Int64,
    "content_hash": pl.Utf8,
    "brightness": pl.Float32,
    "contrast": pl.Float32,
    "sharpness": pl.Float32,
}


@dataclass(frozen=True)
class ImageScan:
    """Per-image measures aligned to the dataset table, and the thumbnails."""

    table: pl.DataFrame  # image_id + COLUMNS; unreadable rows hold nulls
    thumbs: np.ndarray  # (N, THUMB_SIZE[1], THUMB_SIZE[0], 3) uint8, zeros where unreadable

    @property
    def readable(self) -> np.ndarray:
        """(N,) bool: rows whose file could be decoded."""
        return self.table["readable"].to_numpy()


def sharpness(grey: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a (h, w) float image in [0, 1]: low means blurry."""
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    lap = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(lap.var())


def _at_short_side(img: Image.Image, side: int) -> Image.Image:
    scale = side / min(img.size)
    if scale >= 1:
        return img
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.BILINEAR)


def measure_bytes(data: bytes) -> tuple[dict, np.ndarray]:
    """The measures of one image file's bytes and its thumbnail; raises on a file PIL cannot decode."""
    img = Image.open(io.BytesIO(data), formats=FORMATS)
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ValueError(f"{width}x{height} pixels is above the decompression-bomb guard")
    # JPEG: decode straight to (at least) the measuring scale, several times faster than a full decode.
    img.draft("RGB", (MEASURE_SIDE * width // min(img.size), MEASURE_SIDE * height // min(img.size)))
    rgb = _at_short_side(img.convert("RGB"), MEASURE_SIDE)
    grey = rgb.convert("L")
    values = np.asarray(grey, np.float32) / 255.0
    thumb = np.asarray(rgb.resize(THUMB_SIZE, Image.Resampling.BILINEAR), np.uint8)
    record = {
        "readable": True,
        "width": width,
        "height": height,
        "file_bytes": len(data),
        "content_hash": hashlib.blake2b(data, digest_size=16).hexdigest(),
        "brightness": float(values.mean()),
        "contrast": float(values.std()),
        "sharpness": sharpness(values),
    }
    return record, thumb


def scan_paths(paths: list[str | None]) -> tuple[list[dict], np.ndarray]:
    """Worker entry: measures and thumbnails of a list of image paths (None or unreadable: readable False)."""
    records, thumbs = [], np.zeros((len(paths), THUMB_SIZE[1], THUMB_SIZE[0], 3), np.uint8)
    for i, path in enumerate(paths):
        record = {"readable": False}
        if path is not None:
            try:
                record, thumbs[i] = measure_bytes(read_image_file(path))
            except Exception as exc:  # any undecodable file is reported, never raised
                log.info("%s: %s", path, exc)
        records.append(record)
    return records, thumbs


def _paths(ds: Dataset) -> list[str | None]:
    out = []
    for image_id in ds.table["image_id"].to_list():
        path = ds.image_path(image_id)
        out.append(str(path) if path is not None else None)
    return out


def _chunks(paths: list, workers: int):
    """Yield (start, records, thumbs) per chunk as chunks finish (in-process for one worker or few images)."""
    spans = [(i, min(i + CHUNK, len(paths))) for i in range(0, len(paths), CHUNK)]
    if workers == 1 or len(paths) < IN_PROCESS_BELOW:
        for start, stop in spans:
            yield (start, *scan_paths(paths[start:stop]))
        return
    with worker_pool(workers) as pool:  # its workers exit with this process (a kill -9 leaves none behind)
        with plain_main():
            futures = {pool.submit(scan_paths, paths[a:b]): a for a, b in spans}
        try:
            for future in as_completed(futures):
                yield (futures[future], *future.result())
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def scan_images(ds: Dataset, workers: int | None = None, progress: ProgressFn | None = None) -> ImageScan:
    """Read every image of `ds` once (in worker processes) and return its measures and thumbnails."""
    paths = _paths(ds) if ds.has_images else [None] * ds.n_images
    n = len(paths)
    workers = max(1, workers or os.cpu_count() or 1)
    records: list[dict] = [{"readable": False}] * n
    thumbs = np.zeros((n, THUMB_SIZE[1], THUMB_SIZE[0], 3), np.uint8)
    done = 0
    if ds.has_images:
        for start, chunk_records, chunk_thumbs in _chunks(paths, workers):
            records[start : start + len(chunk_records)] = chunk_records
            thumbs[start : start + len(chunk_records)] = chunk_thumbs
            done += len(chunk_records)
            if progress:
                progress(done, n)
    frame = pl.DataFrame({name: [r.get(name) for r in records] for name in COLUMNS}, schema=COLUMNS).with_columns(
        pl.col("readable").fill_null(False)
    )
    return ImageScan(frame.insert_column(0, ds.table["image_id"]), thumbs)
