"""Rows of a stored (N, S, S, 3) uint8 array read from an open file, never memory-mapped (issue 27: SIGBUS)."""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np

from core import format as fmt
from core.data.artifacts import quarantine
from core.errors import CacheError

HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class PixelRows:
    """An (N, S, S, 3) uint8 .npy of faces (the CNN's pixel cache, the map's sprite atlas, the generator's aligned
    faces), read row by row from one open descriptor: never memory-mapped, so a file truncated under a reader fails
    with a sentence instead of killing the process with SIGBUS.

    Indexed like the array it stands for (`rows[[3, 9, 10]]`, `rows[a:b]`, `len(rows)`, `.shape`); every read
    checks that the file still has the size it had when opened, and a file shrunk or grown meanwhile raises
    CacheError (after setting the file aside), rebuild says how.
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(
        self, path: Path, what: str, dataset: str = "", rebuild: str = "Run the training again to rebuild it."
    ):
        self.path, self.what, self.dataset, self.rebuild = path, what, dataset, rebuild
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        weakref.finalize(self, os.close, self._fd)
        with os.fdopen(os.dup(self._fd), "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in HEADER_READERS:
                raise ValueError(f"{path.name} is an .npy file of version {version}, which FaceAtlas does not write")
            shape, fortran, dtype = HEADER_READERS[version](f)
            self._offset = f.tell()
        if fortran or dtype != self.dtype or len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2]:
            raise ValueError(f"{path.name} holds {dtype} {shape}, not (N, S, S, 3) uint8 pixels")
        self.shape = tuple(int(d) for d in shape)
        self._row_bytes = int(np.prod(self.shape[1:]))
        self._size = self._offset + self.shape[0] * self._row_bytes
        now = os.fstat(self._fd).st_size
        if now != self._size:
            raise ValueError(f"{path.name} is {fmt.count(now)} bytes, not the {fmt.count(self._size)} its header says")

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self[np.array([key])][0]
        rows = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = np.where(rows < 0, rows + len(self), rows).astype(np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"row out of range for {len(self)} images")
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        out = np.empty((len(rows), *self.shape[1:]), np.uint8)
        flat = out.reshape(len(rows), -1)
        breaks = np.flatnonzero(np.diff(ordered) != 1) + 1  # runs of consecutive rows: one read each
        for run in np.split(np.arange(len(ordered)), breaks):
            if not len(run):
                continue
            first, count = int(ordered[run[0]]), len(run)
            data = self._read(self._offset + first * self._row_bytes, count * self._row_bytes)
            flat[order[run]] = np.frombuffer(data, np.uint8).reshape(count, -1)
        return out

    def _read(self, offset: int, n_bytes: int) -> bytes:
        now = os.fstat(self._fd).st_size
        data = os.pread(self._fd, n_bytes, offset) if now == self._size else b""
        if now != self._size or len(data) != n_bytes:
            why = f"changed size while it was read ({fmt.count(self._size)} bytes, then {fmt.count(now)})"
            quarantine(self.path, self.what, why, dataset=self.dataset)
            raise CacheError(f"The stored {self.what} {why}; it was set aside. {self.rebuild}")
        return data
