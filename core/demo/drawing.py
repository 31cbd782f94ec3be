"""Draw a demo's faces into a folder in worker processes, resumably: each file is whole or absent.

Every face is written to a temporary name and renamed, so after a kill -9 a file named NNNNNN.jpg is a finished
face and a rerun draws only the missing ones. The specs come from an iterator in image order (they share one
random stream, so each must be made in turn, also for faces already drawn) and at most a few chunks per worker
wait in the queue: 202,599 specs held at once would take over a gigabyte.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from core.demo.draw import FaceSpec, draw_face
from core.processes import exit_with_parent, plain_main

log = logging.getLogger(__name__)

CHUNK = 40  # faces a worker draws per task
QUEUED_PER_WORKER = 4  # chunks waiting per worker: enough to keep it busy, few enough to hold in memory
IN_PROCESS_BELOW = 150  # fewer faces left than this are drawn without worker processes
JPEG_QUALITY = 90
IMAGE_NAME = re.compile(r"^(\d{6})\.jpg$")
PARTIAL = ".partial"  # suffix of a face being written

Chunk = list[tuple[int, FaceSpec]]


def image_name(index: int) -> str:
    """CelebA file name of the 0-based image index: 000001.jpg, ..."""
    return f"{index + 1:06d}.jpg"


def drawn_indices(folder: Path, total: int) -> set[int]:
    """0-based indices below total whose face is in folder; half-written leftovers are removed."""
    done: set[int] = set()
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return done
    for entry in entries:
        if entry.name.endswith(PARTIAL):
            os.unlink(entry.path)
        elif (match := IMAGE_NAME.match(entry.name)) and int(match.group(1)) <= total:
            done.add(int(match.group(1)) - 1)
    return done


def _save(folder: str, index: int, spec: FaceSpec) -> None:
    buffer = io.BytesIO()
    draw_face(spec).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    path = os.path.join(folder, image_name(index))
    with open(path + PARTIAL, "wb") as f:
        f.write(buffer.getvalue())
    os.replace(path + PARTIAL, path)


def _draw_chunk(job: tuple[str, Chunk]) -> int:
    """Worker: draw and save a chunk of (index, spec); returns how many were written."""
    folder, items = job
    for index, spec in items:
        _save(folder, index, spec)
    return len(items)


def _missing_chunks(specs: Iterable[FaceSpec], skip: set[int]) -> Iterator[Chunk]:
    chunk: Chunk = []
    for index, spec in enumerate(specs):
        if index in skip:
            continue
        chunk.append((index, spec))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def draw_missing(
    folder: Path,
    specs: Iterable[FaceSpec],
    total: int,
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Draw specs[i] to folder/image_name(i) for every i not drawn yet; returns how many faces are in folder.

    progress(done) is called in this process as faces are written (done counts those found at the start).
    """
    folder.mkdir(parents=True, exist_ok=True)
    skip = drawn_indices(folder, total)
    done = len(skip)
    chunks = ((str(folder), chunk) for chunk in _missing_chunks(specs, skip))
    if workers <= 1 or total - done < IN_PROCESS_BELOW:
        for n in map(_draw_chunk, chunks):
            done += n
            if progress:
                progress(done)
        return done
    # Workers die with this process (exit_with_parent), so a killed drawing leaves none behind.
    with plain_main():  # spawned workers must not run the caller's main script (a page under `streamlit run`)
        pool = multiprocessing.get_context("spawn").Pool(workers, exit_with_parent, (os.getpid(),))
    with pool:
        waiting = []
        for job in chunks:
            waiting.append(pool.apply_async(_draw_chunk, (job,)))
            while len(waiting) >= workers * QUEUED_PER_WORKER or (waiting and waiting[0].ready()):
                done += waiting.pop(0).get()
                if progress:
                    progress(done)
        for result in waiting:
            done += result.get()
            if progress:
                progress(done)
    return done
