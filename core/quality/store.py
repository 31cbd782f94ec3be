"""Audit results on disk: cache/quality/<images key>/<kind>-<token>/, the token a hash of what they depend on.

Filed by the image files' content (core.data.artifacts.results_dir), not in the ingest folder, so touching or
copying a dataset keeps them, as it keeps embeddings. Each folder holds parquet tables (and the scan's thumbnails.npy)
and summary.json, written last with atomic renames, so a reader that finds summary.json finds every table complete.
A result whose inputs changed (new embeddings, edited labels, a new version of a check) has another token: it is
simply not found and the page offers to run the audit again; the newest KEEP_PER_KIND results of a kind are kept
(copies of a dataset with other labels share the folder) and older ones removed. Read into memory, never mapped.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from core.data.artifacts import results_dir
from core.data.atomic import save_npy, write_json, write_parquet
from core.data.dataset import Dataset

SUMMARY = "summary.json"
KEEP_PER_KIND = 3


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
    for old in results[KEEP_PER_KIND:]:
        shutil.rmtree(old, ignore_errors=True)


def has_result(folder: Path, kind: str, token: str) -> bool:
    """Whether the result of `kind` with this token is stored (without reading it)."""
    return (result_dir(folder, kind, token) / SUMMARY).is_file()


def load_result(folder: Path, kind: str, token: str) -> StoredResult | None:
    """The stored result of `kind` with this token, read into memory, or None when it was never computed for these
    inputs."""
    target = result_dir(folder, kind, token)
    try:
        meta = json.loads((target / SUMMARY).read_text())
        tables = {name: pl.read_parquet(target / f"{name}.parquet", memory_map=False) for name in meta["tables"]}
        arrays = {name: np.load(target / f"{name}.npy", allow_pickle=False) for name in meta["arrays"]}
    except (OSError, ValueError, KeyError):
        return None
    return StoredResult(kind, token, meta["summary"], tables, arrays)
