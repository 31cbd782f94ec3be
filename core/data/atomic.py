"""Write files so that a reader never sees half of one: temp name in the same folder, then rename.

A full disk raises core.errors.DiskFullError (an OSError that pages show as a sentence); the temp file goes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from core.errors import said_when_disk_full

SAVING = "FaceAtlas could not save what it computed"


def _temp_beside(path: Path) -> Path:
    with said_when_disk_full(SAVING):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """A temp file beside `path` for the block to write, renamed onto `path` when the block ends; removed when the
    block fails (a full disk: DiskFullError)."""
    tmp = _temp_beside(path)
    try:
        with said_when_disk_full(SAVING, tmp.parent):
            yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    with replaced_atomically(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: Path, obj) -> None:
    write_bytes(path, json.dumps(obj, indent=2, default=str).encode())


def save_npy(path: Path, array: np.ndarray) -> None:
    with replaced_atomically(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)


def write_parquet(path: Path, frame) -> None:
    """frame: a polars DataFrame."""
    with replaced_atomically(path) as tmp:
        frame.write_parquet(tmp)
