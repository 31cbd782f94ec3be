"""Audit results on disk: cache/<dataset key>/quality/<kind>-<token>/, the token a hash of what they depend on.

Each folder holds parquet tables (and the scan's thumbnails.npy) and summary.json, written last with atomic
renames, so a reader that finds summary.json finds every table complete. A result whose inputs changed (new
embeddings, a rescanned folder, a new version of a check) has another token: it is simply not found and the page
offers to run the audit again; the older folders of that kind are removed when the new one is written.

A result that cannot be read (a truncated table, a damaged summary) is set aside as <folder>.damaged-<time>, so
the page says so and offers the audit again (`was_set_aside`) instead of failing on every visit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from core.data.atomic import save_npy, write_json, write_parquet

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
DAMAGED = ".damaged-"
# What reading a stored result can raise when one of its files is damaged or missing: polars on a truncated parquet,
# numpy (ValueError) on a truncated .npy, json (ValueError) on a cut summary, KeyError/TypeError on an odd one.
READ_ERRORS = (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError)


@dataclass(frozen=True)
class StoredResult:
    """One stored result: its summary and its tables (and arrays, for the scan)."""

    kind: str
    token: str
    summary: dict
    tables: dict[str, pl.DataFrame]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def quality_root(cache_dir: Path) -> Path:
    return cache_dir / "quality"


def result_token(kind: str, ds_key: str, depends: dict) -> str:
    """The stored name of a result from what it depends on (stable across processes)."""
    text = json.dumps({"kind": kind, "dataset": ds_key, **depends}, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def result_dir(cache_dir: Path, kind: str, token: str) -> Path:
    return quality_root(cache_dir) / f"{kind}-{token}"


def save_result(cache_dir: Path, result: StoredResult) -> Path:
    """Write tables, arrays, then the summary; remove older results of the same kind."""
    folder = result_dir(cache_dir, result.kind, result.token)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SUMMARY).unlink(missing_ok=True)
    for name, frame in result.tables.items():
        write_parquet(folder / f"{name}.parquet", frame)
    for name, array in result.arrays.items():
        save_npy(folder / f"{name}.npy", array)
    manifest = {"tables": sorted(result.tables), "arrays": sorted(result.arrays)}
    write_json(folder / SUMMARY, {"kind": result.kind, "token": result.token, **manifest, "summary": result.summary})
    for old in quality_root(cache_dir).glob(f"{result.kind}-*"):
        if old != folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return folder


def load_result(cache_dir: Path, kind: str, token: str, mmap: bool = True) -> StoredResult | None:
    """The stored result of `kind` with this token, or None when it was never computed for these inputs or could
    not be read (then it is set aside: see was_set_aside)."""
    folder = result_dir(cache_dir, kind, token)
    if not (folder / SUMMARY).is_file():
        return None
    try:
        meta = json.loads((folder / SUMMARY).read_text())
        tables = {name: pl.read_parquet(folder / f"{name}.parquet") for name in meta["tables"]}
        arrays = {
            name: np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
            for name in meta["arrays"]
        }
        return StoredResult(kind, token, meta["summary"], tables, arrays)
    except READ_ERRORS as exc:
        _set_aside(folder, exc)
        return None


def was_set_aside(cache_dir: Path, kind: str) -> bool:
    """Whether the last stored result of `kind` could not be read and was set aside (until a new one is saved)."""
    return any(p.is_dir() for p in quality_root(cache_dir).glob(f"{kind}-*{DAMAGED}*"))


def _set_aside(folder: Path, exc: Exception) -> None:
    """Move a result that cannot be read out of the way (kept for a look, never read again)."""
    log.warning("stored result %s cannot be read (%s); set aside", folder, exc)
    with contextlib.suppress(OSError):  # another session moved it first
        os.rename(folder, folder.with_name(f"{folder.name}{DAMAGED}{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"))
