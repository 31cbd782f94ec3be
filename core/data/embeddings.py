"""Embedding matrices of a dataset: cache/embeddings/<images key>/<model>/.

Data, not face logic: the data layer stores them so that it never imports core.faces (which computes them).
They are keyed by the content of the dataset's image files (`Dataset.images_key`, core.data.fingerprints), not by
its annotations or folder dates, so touching, copying or relabelling a dataset keeps hours of embedding, while a
replaced photo or another dataset's files of the same names and sizes never get these vectors; a dataset without
images (an embedding CSV) keeps them in its ingest folder. vectors.npy (N, D) float32 aligned to the
dataset table rows, has_face.npy (N,) bool (False where no face was found or the row is invalid), meta.json
(model, dim, created, counts, and each file's size and checksum, checked before use). Loads read the arrays
into memory, so a file damaged behind the server's back can never crash it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.data.artifacts import complete_folders, damaged, quarantine, records
from core.data.atomic import save_npy, write_json
from core.data.dataset import Dataset

DLIB_MODEL = "dlib"  # the descriptor FaceAtlas computes itself (core.faces.embed_job): photos can be compared with it


@dataclass(frozen=True)
class Embeddings:
    vectors: np.ndarray  # (N, D) float32, rows aligned to Dataset.table
    has_face: np.ndarray  # (N,) bool
    model: str
    meta: dict

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def n_valid(self) -> int:
        return int(self.has_face.sum())


def embeddings_root(ds: Dataset) -> Path:
    """Where the dataset's embeddings live (see the module docstring)."""
    local = ds.cache_dir / "embeddings"
    if not ds.images_key:
        return local
    shared = ds.cache_dir.parent / "embeddings" / ds.images_key  # beside the ingest folder, in the same cache root
    if local.is_dir() and not shared.exists():  # embeddings made before they were keyed by the images
        shared.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(local, shared)
        except OSError:
            return local
    return shared


def list_embeddings(ds: Dataset) -> list[str]:
    """Model names with a complete embedding matrix for this dataset (meta.json is written last)."""
    return sorted(p.name for p in complete_folders(embeddings_root(ds)))


def save_embeddings(ds: Dataset, model: str, vectors: np.ndarray, has_face: np.ndarray, **meta) -> Path:
    """Write a complete matrix of the dataset atomically; meta.json last so readers never see a partial set."""
    return write_embeddings(embeddings_root(ds) / model, model, vectors, has_face, **meta)


def write_embeddings(folder: Path, model: str, vectors: np.ndarray, has_face: np.ndarray, **meta) -> Path:
    """save_embeddings into a given folder (ingest's, before its Dataset exists): (N, D) vectors, (N,) has_face."""
    if vectors.ndim != 2 or len(vectors) != len(has_face):
        raise ValueError(f"vectors {vectors.shape} and has_face {has_face.shape} do not align")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").unlink(missing_ok=True)
    save_npy(folder / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
    save_npy(folder / "has_face.npy", np.asarray(has_face, dtype=bool))
    meta["files"] = records(folder, sorted(p.name for p in folder.glob("*.npy")))
    info = {
        "model": model,
        "dim": int(vectors.shape[1]),
        "rows": len(vectors),
        "with_face": int(np.asarray(has_face).sum()),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **meta,
    }
    write_json(folder / "meta.json", info)
    return folder


def default_embedding_model(models: list[str]) -> str | None:
    """The model pages and commands use when none is named: dlib's (photos can be compared with it), else the first."""
    if not models:
        return None
    return DLIB_MODEL if DLIB_MODEL in models else sorted(models)[0]


def load_embeddings(ds: Dataset, model: str | None = None) -> Embeddings | None:
    """The stored matrix for `model` (default: dlib's, else the first), checked and read into memory; None if
    absent. A damaged set (a file changed since it was written, unreadable, or of the wrong shape) is moved
    aside with a notice and reads as absent, so it is computed again."""
    names = list_embeddings(ds)
    if not names:
        return None
    model = model or default_embedding_model(names)
    if model not in names:
        return None
    folder = embeddings_root(ds) / model
    try:
        meta = json.loads((folder / "meta.json").read_text())
        bad = damaged(folder, meta.get("files", {}))
        if bad:
            raise ValueError(f"{', '.join(bad)} changed since it was written")
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        has_face = np.load(folder / "has_face.npy", allow_pickle=False)
        if vectors.ndim != 2 or len(vectors) != len(has_face) or meta.get("rows", len(vectors)) != len(vectors):
            raise ValueError(f"vectors {vectors.shape} and has_face {has_face.shape} do not match")
    except (OSError, ValueError) as exc:
        quarantine(folder, f"{model} face embeddings", str(exc), dataset=ds.key)
        return None
    return Embeddings(vectors, has_face, model, meta)


def embeddings_version(ds: Dataset, model: str) -> str:
    """Changes whenever `model`'s matrix is written again (its meta.json's time), so caches of it are re-read; ""
    when absent."""
    meta = embeddings_root(ds) / model / "meta.json"
    try:
        return str(meta.stat().st_mtime_ns)
    except OSError:
        return ""
