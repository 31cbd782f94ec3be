"""Embedding matrices stored beside an ingested dataset: cache/<key>/embeddings/<model>/.

vectors.npy (N, D) float32 aligned to the dataset table rows, has_face.npy (N,)
bool (False where no face was found or the row is invalid), meta.json (model,
dim, created, counts). Loads are memory-mapped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.data.atomic import save_npy, write_json


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


def embeddings_root(cache_dir: Path) -> Path:
    return cache_dir / "embeddings"


def list_embeddings(cache_dir: Path) -> list[str]:
    """Model names with a complete embedding matrix for this dataset (meta.json is written last)."""
    root = embeddings_root(cache_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "meta.json").is_file())


def save_embeddings(cache_dir: Path, model: str, vectors: np.ndarray, has_face: np.ndarray, **meta) -> Path:
    """Write a complete matrix atomically; meta.json last so readers never see a partial set."""
    if vectors.ndim != 2 or len(vectors) != len(has_face):
        raise ValueError(f"vectors {vectors.shape} and has_face {has_face.shape} do not align")
    folder = embeddings_root(cache_dir) / model
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").unlink(missing_ok=True)
    save_npy(folder / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
    save_npy(folder / "has_face.npy", np.asarray(has_face, dtype=bool))
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
    return "dlib" if "dlib" in models else sorted(models)[0]


def load_embeddings(cache_dir: Path, model: str | None = None) -> Embeddings | None:
    """The stored matrix for `model` (default: the first available), memory-mapped; None if absent."""
    names = list_embeddings(cache_dir)
    if not names:
        return None
    model = model or default_embedding_model(names)
    if model not in names:
        return None
    folder = embeddings_root(cache_dir) / model
    meta = json.loads((folder / "meta.json").read_text())
    vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
    has_face = np.load(folder / "has_face.npy", allow_pickle=False)
    return Embeddings(vectors, has_face, model, meta)
