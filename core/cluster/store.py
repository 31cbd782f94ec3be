"""Maps, reductions and clusterings kept on disk under cache/clustering/<images key>/, named by a hash of what produced
them: the ClusteringKey (features + reduction + clustering) a page result is cached under names its stored files too,
with the content its features are read from in place of the dataset's key (FeatureKey.content_key), so a touched
folder or a copy of the dataset keeps them, as it keeps embeddings.

Background jobs (`python -m core cluster ... --save-map METHOD`, `--reduction-json ... [--cluster-json ...]`) write
them here and the Clustering page loads them in well under a second, so a slow UMAP, t-SNE or re-ranking never blocks
a page.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.cluster.algorithms import Clustering, ClusterSpec, dominant_cluster_warning
from core.cluster.features import FeatureKey
from core.cluster.reduce import ReductionSpec
from core.data.artifacts import quarantine, results_dir
from core.data.atomic import save_npy, write_json
from core.data.dataset import Dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusteringKey:
    """Names one clustering: the feature matrix, the reduction before clustering and the clustering itself.

    The Clustering page's cache key for everything computed from one clustering, and the source of its stored
    name. The reduced matrix is named by the first two parts alone (`reduction_key`), so a new k reuses a stored UMAP.
    """

    features: FeatureKey
    reduction: ReductionSpec
    clustering: ClusterSpec


def clustering_dir(ds: Dataset) -> Path:
    """The folder of a dataset's stored maps, reductions and clusterings."""
    return results_dir(ds, "clustering")


def map_key(features: FeatureKey, method: str = "umap") -> str:
    """The stored name of the 2-D `method` map of the feature matrix named by `features` (stable across processes;
    the dataset's key left out: the content key names what the values are read from, and loads check the rows)."""
    named = asdict(features)
    if named.get("content_key"):
        del named["dataset_key"]
    parts = {"features": named, "method": method}
    return hashlib.blake2b(json.dumps(parts, default=str, sort_keys=True).encode(), digest_size=10).hexdigest()


def reduction_key(features: FeatureKey, reduction: ReductionSpec) -> str:
    """The stored name of a reduction (before clustering) of the feature matrix `features` names."""
    return map_key(features, "reduction:" + json.dumps(asdict(reduction), default=str, sort_keys=True))


def labels_key(key: ClusteringKey) -> str:
    """The stored name of the clustering the key names."""
    spec = {"reduction": asdict(key.reduction), "clustering": asdict(key.clustering)}
    return map_key(key.features, "labels:" + json.dumps(spec, default=str, sort_keys=True))


def map_path(folder: Path, key: str) -> Path:
    return folder / f"map-{key}.npy"


def save_map(folder: Path, key: str, coords: np.ndarray, rows: np.ndarray) -> Path:
    """Write (n, 1 + k) [row, coordinates...] atomically (a 2-D map or a k-D reduction)."""
    path = map_path(folder, key)
    save_npy(path, np.column_stack([rows.astype(np.float64), np.asarray(coords, np.float64)]))
    return path


def load_map(folder: Path, key: str, rows: np.ndarray) -> np.ndarray | None:
    """(n, k) float32 coordinates for exactly these rows, or None when not stored (or stale)."""
    path = map_path(folder, key)
    if not path.is_file():
        return None
    try:
        data = np.load(path, allow_pickle=False)
        if data.ndim != 2 or data.shape[1] < 2:  # [row, values...]
            raise ValueError(f"shape {data.shape}")
    except (OSError, ValueError) as exc:  # damaged: set aside; the page computes the map again
        quarantine(path, "map or clustering result", str(exc), dataset=folder.name)
        return None
    if len(data) != len(rows) or not np.array_equal(data[:, 0].astype(np.int64), rows):
        log.info("stored map %s does not match the rows; ignoring it", path)
        return None
    return data[:, 1:].astype(np.float32)


def save_clustering(folder: Path, key: str, result: Clustering, rows: np.ndarray) -> Path:
    """Labels (and HDBSCAN's outlier scores) as rows, then what the page shows beside them as JSON."""
    scores = result.outlier_scores if result.outlier_scores is not None else np.full(len(rows), np.nan)
    path = save_map(folder, key, np.column_stack([result.labels, scores]), rows)
    meta = {
        "algorithm": result.algorithm,
        "params": {k: (v.item() if hasattr(v, "item") else v) for k, v in result.params.items()},
        "inertia": result.inertia,
        "notes": list(result.notes),
        "warnings": list(result.warnings),
        "has_scores": result.outlier_scores is not None,
    }
    write_json(path.with_suffix(".json"), meta)
    return path


def load_clustering(folder: Path, key: str, rows: np.ndarray) -> Clustering | None:
    """The stored clustering of exactly these rows, or None."""
    data = load_map(folder, key, rows)
    try:
        meta = json.loads(map_path(folder, key).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    if data is None:
        return None
    labels = data[:, 0].astype(np.int64)
    notes, warnings = meta.get("notes"), meta.get("warnings", [])
    if notes is None:  # stored before notes and warnings were told apart: the warning is the one the labels give
        warning = dominant_cluster_warning(labels)
        notes, warnings = [w for w in warnings if w != warning], [warning] if warning else []
    return Clustering(
        labels=labels,
        algorithm=meta["algorithm"],
        params=meta["params"],
        outlier_scores=data[:, 1].astype(np.float64) if meta.get("has_scores") else None,
        inertia=meta.get("inertia"),
        notes=tuple(notes),
        warnings=tuple(warnings),
    )
