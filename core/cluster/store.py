"""2-D maps and reductions kept on disk under cache/<dataset>/clustering/, named by a hash of what produced them.

A background job (`python -m core cluster ... --save-map`) writes a UMAP map here and
the page loads it in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from core.cluster.features import FeatureKey
from core.data.artifacts import quarantine
from core.data.atomic import save_npy

log = logging.getLogger(__name__)


def map_key(features: FeatureKey, method: str = "umap") -> str:
    """The stored name of the 2-D `method` map of the feature matrix named by `features` (stable across processes)."""
    parts = {"features": asdict(features), "method": method}
    return hashlib.blake2b(json.dumps(parts, default=str, sort_keys=True).encode(), digest_size=10).hexdigest()


def map_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / "clustering" / f"map-{key}.npy"


def save_map(cache_dir: Path, key: str, coords: np.ndarray, rows: np.ndarray) -> Path:
    """Write (n, 3) [row, x, y] atomically."""
    path = map_path(cache_dir, key)
    save_npy(path, np.column_stack([rows.astype(np.float64), coords.astype(np.float64)]))
    return path


def load_map(cache_dir: Path, key: str, rows: np.ndarray) -> np.ndarray | None:
    """(n, 2) float32 coordinates for exactly these rows, or None when not stored (or stale)."""
    path = map_path(cache_dir, key)
    if not path.is_file():
        return None
    try:
        data = np.load(path, allow_pickle=False)
        if data.ndim != 2 or data.shape[1] != 3:
            raise ValueError(f"shape {data.shape}")
    except (OSError, ValueError) as exc:  # damaged: set aside; the page computes the map again
        quarantine(path, "2-D map", str(exc), dataset=cache_dir.name)
        return None
    if len(data) != len(rows) or not np.array_equal(data[:, 0].astype(np.int64), rows):
        log.info("stored map %s does not match the rows; ignoring it", path)
        return None
    return data[:, 1:].astype(np.float32)
