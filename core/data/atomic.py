"""Write files so that a reader never sees half of one: temp name in the same folder, then rename."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def write_bytes(path: Path, data: bytes) -> None:
    tmp = _temp_beside(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj) -> None:
    write_bytes(path, json.dumps(obj, indent=2, default=str).encode())


def save_npy(path: Path, array: np.ndarray) -> None:
    tmp = _temp_beside(path)
    try:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(path: Path, frame) -> None:
    """frame: a polars DataFrame."""
    tmp = _temp_beside(path)
    try:
        frame.write_parquet(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
