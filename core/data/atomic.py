"""Write files so that a reader never sees half of one: temp name in the same folder, then rename.

A full disk raises core.errors.DiskFullError (an OSError that pages show as a sentence); the temp file goes."""

from __future__ import annotations

import json
import os
import tempfile
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


def write_bytes(path: Path, data: bytes) -> None:
    tmp = _temp_beside(path)
    try:
        with said_when_disk_full(SAVING, tmp.parent):
            tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj) -> None:
    write_bytes(path, json.dumps(obj, indent=2, default=str).encode())


def save_npy(path: Path, array: np.ndarray) -> None:
    tmp = _temp_beside(path)
    try:
        with said_when_disk_full(SAVING, tmp.parent), open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(path: Path, frame) -> None:
    """frame: a polars DataFrame."""
    tmp = _temp_beside(path)
    try:
        with said_when_disk_full(SAVING, tmp.parent):
            frame.write_parquet(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
