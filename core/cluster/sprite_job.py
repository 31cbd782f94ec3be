"""Building a dataset's sprite atlas (core/data/sprites.py): every image decoded once into a small face, by worker
processes (one per core), in chunks that survive a stop: `python -m core sprites DATASET` runs it as a job."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.data.atomic import save_npy, write_json
from core.data.dataset import Dataset
from core.data.paths import safe_join
from core.data.sprites import MISSING_GREY, PARTIAL, SpriteAtlas, atlas_folder, check_size, face_sprite, load_atlas
from core.errors import ImageError
from core.processes import exit_with_parent, plain_main

log = logging.getLogger(__name__)

CHUNK = 2048  # images per unit of work (and of resuming)
IN_PROCESS_BELOW = 4 * CHUNK  # fewer images left than this are decoded here: starting workers costs more than it saves


def _chunk(job: tuple[str, int, str, list[str], int, bool]) -> list[int]:
    """In a worker: decode one chunk's images into the partial atlas; returns the offsets (in the chunk) read."""
    partial, start, image_dir, image_ids, size, aligned = job
    faces = np.load(partial, mmap_mode="r+", allow_pickle=False)
    read = []
    for k, image_id in enumerate(image_ids):
        path = safe_join(Path(image_dir), image_id)  # here, in parallel: resolving 202,599 paths takes seconds
        if path is None:
            continue
        try:
            faces[start + k] = face_sprite(path, size, aligned)
            read.append(k)
        except ImageError as exc:
            log.warning("no thumbnail for %s: %s", image_id, exc)
    faces.flush()
    return read


def build_atlas(
    ds: Dataset, size: int = 32, workers: int | None = None, progress: Callable[[int, int], None] | None = None
) -> SpriteAtlas:
    """Decode every image once into the atlas (or return the finished one); resumes a stopped build.

    workers: processes (default every core); progress(done, total) is called after each chunk.
    """
    check_size(size)
    finished = load_atlas(ds, size)
    if finished is not None:
        return finished
    if not ds.has_images:
        raise ValueError(f"{ds.name} has no image files, so its map cannot show faces.")
    folder = atlas_folder(ds, size)
    folder.mkdir(parents=True, exist_ok=True)
    n, started = ds.n_images, time.time()
    partial, ok_path, done_path = (folder / name for name in PARTIAL)
    chunks = -(-n // CHUNK)
    ok, done = _resume(partial, ok_path, done_path, n, chunks, size)
    ids = ds.table["image_id"].to_list()
    todo = [c for c in range(chunks) if not done[c]]
    aligned = ds.aligned or ds.is_demo
    jobs = ((str(partial), c * CHUNK, str(ds.image_dir), ids[c * CHUNK : (c + 1) * CHUNK], size, aligned) for c in todo)

    def finished_chunk(job_start: int, read: list[int]) -> None:
        ok[job_start + np.asarray(read, np.int64)] = True
        done[job_start // CHUNK] = True
        save_npy(ok_path, ok)  # the pixels were flushed by the worker before it returned
        save_npy(done_path, done)
        if progress:
            progress(min(n, int(done.sum()) * CHUNK), n)

    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1 or (n - int(done.sum()) * CHUNK) < IN_PROCESS_BELOW:
        for job in jobs:
            finished_chunk(job[1], _chunk(job))
    else:
        # Workers die with this process (exit_with_parent), so a killed build leaves none behind.
        with plain_main():
            pool = multiprocessing.get_context("spawn").Pool(workers, exit_with_parent, (os.getpid(),))
        with pool:
            for job, read in zip(todo, pool.imap(_chunk, jobs)):
                finished_chunk(job * CHUNK, read)
    os.replace(partial, folder / "faces.npy")
    save_npy(folder / "ok.npy", ok)
    write_json(
        folder / "meta.json",
        {
            "rows": n,
            "size": size,
            "read": int(ok.sum()),
            "seconds": round(time.time() - started, 1),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    for path in (ok_path, done_path):
        path.unlink(missing_ok=True)
    atlas = load_atlas(ds, size)
    if atlas is None:
        raise ValueError("the face thumbnails could not be read back after they were written")
    return atlas


def _resume(
    partial: Path, ok_path: Path, done_path: Path, n: int, chunks: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(ok, done) of a partial build to continue, or of a new one (its array created, grey)."""
    try:
        faces = np.load(partial, mmap_mode="r", allow_pickle=False)
        ok, done = np.load(ok_path, allow_pickle=False), np.load(done_path, allow_pickle=False)
        if faces.shape == (n, size, size, 3) and ok.shape == (n,) and done.shape == (chunks,):
            return ok.copy(), done.copy()
    except (OSError, ValueError):
        pass
    faces = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
    faces[:] = MISSING_GREY
    faces.flush()
    del faces
    ok, done = np.zeros(n, bool), np.zeros(chunks, bool)
    save_npy(ok_path, ok)
    save_npy(done_path, done)
    return ok, done


SECONDS_PER_IMAGE = 0.0015  # one core, decoding a CelebA-size JPEG at reduced scale (docs/bench/map.md)
START_SECONDS = 3.0


def atlas_seconds(n_images: int, cores: int | None = None) -> float:
    """Expected wall time of building an atlas of n_images on this machine's cores."""
    return START_SECONDS + n_images * SECONDS_PER_IMAGE / max(1, cores or os.cpu_count() or 1)
