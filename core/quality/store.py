"""Audit results on disk: cache/quality/<images key>/<kind>-<token>/, the token a hash of what they depend on.

Filed by the image files' content (core.data.artifacts.results_dir), not in the ingest folder, so touching or
copying a dataset keeps them, as it keeps embeddings. Each folder holds parquet tables (and the scan's thumbnails.npy)
and summary.json, written last with atomic renames, so a reader that finds summary.json finds every table complete.
A result whose inputs changed (new embeddings, edited labels, a new version of a check) has another token: it is
simply not found and the page offers to run the audit again; the newest KEEP_PER_KIND results of a kind are kept
(copies of a dataset with other labels share the folder) and older ones removed. Read into memory, never mapped.

A result that cannot be read (a truncated table, a damaged summary) is set aside in place as
<folder>.damaged-<time>, so the page says so and offers the audit again (`was_set_aside`) instead of failing on every
visit; saving a new result of that kind removes it.
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

from core.data.artifacts import SET_ASIDE_MARK, results_dir
from core.data.atomic import save_npy, write_json, write_parquet
from core.data.dataset import Dataset

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
KEEP_PER_KIND = 3
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


def quality_dir(ds: Dataset) -> Path:
    """The folder of a dataset's audit results."""
    return results_dir(ds, "quality")


def result_token(kind: str, depends: dict) -> str:
    """The stored name of a result from what it depends on (stable across processes)."""
    text = json.dumps({"kind": kind, **depends}, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def result_dir(folder: Path, kind: str, token: str) -> Path:
    return folder / f"{kind}-{token}"


def save_result(folder: Path, result: StoredResult) -> Path:
    """Write tables, arrays, then the summary into `folder` (quality_dir); keep the newest KEEP_PER_KIND of the kind."""
    target = result_dir(folder, result.kind, result.token)
    target.mkdir(parents=True, exist_ok=True)
    (target / SUMMARY).unlink(missing_ok=True)
    for name, frame in result.tables.items():
        write_parquet(target / f"{name}.parquet", frame)
    for name, array in result.arrays.items():
        save_npy(target / f"{name}.npy", array)
    manifest = {"tables": sorted(result.tables), "arrays": sorted(result.arrays)}
    write_json(target / SUMMARY, {"kind": result.kind, "token": result.token, **manifest, "summary": result.summary})
    _remove_older(folder, result.kind)
    return target


def _remove_older(folder: Path, kind: str) -> None:
    def written(path: Path) -> float:
        try:
            return (path / SUMMARY).stat().st_mtime
        except OSError:
            return 0.0

    results = sorted((p for p in folder.glob(f"{kind}-*") if p.is_dir()), key=written, reverse=True)
    kept = [p for p in results if SET_ASIDE_MARK not in p.name][:KEEP_PER_KIND]
    for old in results:
        if old not in kept:  # older results and every set-aside one: a new result replaces them
            shutil.rmtree(old, ignore_errors=True)


def has_result(folder: Path, kind: str, token: str) -> bool:
    """Whether the result of `kind` with this token is stored (without reading it)."""
    return (result_dir(folder, kind, token) / SUMMARY).is_file()


def load_result(folder: Path, kind: str, token: str) -> StoredResult | None:
    """The stored result of `kind` with this token, read into memory, or None when it was never computed for these
    inputs."""
    target = result_dir(folder, kind, token)
    if not (target / SUMMARY).is_file():
        return None
    try:
        meta = json.loads((target / SUMMARY).read_text())
        tables = {name: pl.read_parquet(target / f"{name}.parquet", memory_map=False) for name in meta["tables"]}
        arrays = {name: np.load(target / f"{name}.npy", allow_pickle=False) for name in meta["arrays"]}
        return StoredResult(kind, token, meta["summary"], tables, arrays)
    except READ_ERRORS as exc:
        _set_aside(target, exc)
        return None


def was_set_aside(folder: Path, kind: str) -> bool:
    """Whether the last stored result of `kind` could not be read and was set aside (until a new one is saved)."""
    return any(p.is_dir() for p in folder.glob(f"{kind}-*{SET_ASIDE_MARK}*"))


def _set_aside(target: Path, exc: Exception) -> None:
    """Move a result that cannot be read out of the way (kept for a look, never read again)."""
    log.warning("stored result %s cannot be read (%s); set aside", target, exc)
    stamp = f"{SET_ASIDE_MARK}{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    with contextlib.suppress(OSError):  # another session moved it first
        os.rename(target, target.with_name(target.name + stamp))
