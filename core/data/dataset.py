"""The data model every page and command works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from core.data.paths import safe_join

PARTITIONS = ("train", "val", "test")


@dataclass(frozen=True)
class Dataset:
    """One ingested dataset.

    table: polars DataFrame with `image_id` (str, file name relative to image_dir),
    `identity` (str, nullable), `partition` (str: train/val/test, nullable) and one
    UInt8 0/1 column per attribute, in `attributes` order. Rows are in source order
    and every derived array (embeddings, predictions) is aligned to them.
    """

    key: str  # "<name>-<fingerprint>": names the cache folder and keys every cached result
    name: str
    root: Path
    layout: str  # celeba | celeba_kaggle | embedding_csv | lfw | folder
    table: pl.DataFrame
    attributes: tuple[str, ...]
    image_dir: Path | None
    images_found: int
    cache_dir: Path
    warnings: tuple[str, ...] = ()
    is_demo: bool = False
    aligned: bool = False  # images are CelebA-style aligned crops (face at a fixed box)
    extras: dict = field(default_factory=dict)  # e.g. {"pairs": "pairs.txt"}
    # Content keys (core.data.ingest): what derived artefacts depend on, so harmless changes keep them.
    images_key: str = ""  # image files' content (core.data.fingerprints): embeddings, pixel caches, image scans
    labels_key: str = ""  # image ids and attribute labels: trained models
    split_key: str = ""  # partition and identities: a model's test split

    @property
    def n_images(self) -> int:
        return self.table.height

    @property
    def has_identity(self) -> bool:
        return self.table["identity"].null_count() < self.table.height

    @property
    def has_partition(self) -> bool:
        return self.table["partition"].null_count() < self.table.height

    @property
    def has_images(self) -> bool:
        return self.image_dir is not None and self.images_found > 0

    @property
    def n_identities(self) -> int:
        return self.table["identity"].drop_nulls().n_unique()

    def partition_counts(self) -> dict[str, int]:
        counts = self.table["partition"].drop_nulls().value_counts()
        found = dict(zip(counts["partition"].to_list(), counts["count"].to_list()))
        return {p: int(found.get(p, 0)) for p in PARTITIONS if p in found}

    def attribute_matrix(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(N, A) uint8 0/1 matrix of the attributes (optionally only `rows`)."""
        if not self.attributes:  # polars gives (0, 0) for a frame without columns
            return np.zeros((self.n_images if rows is None else len(rows), 0), dtype=np.uint8)
        frame = self.table.select(self.attributes)
        if rows is not None:
            frame = frame[rows]
        return frame.to_numpy().astype(np.uint8, copy=False)

    def image_path(self, image_id: str) -> Path | None:
        """Where an image lives on disk, or None when there are no images or it would escape the root."""
        if self.image_dir is None:
            return None
        return safe_join(self.image_dir, image_id)

    def row_of(self, image_id: str) -> int | None:
        hits = self.table.select(pl.arg_where(pl.col("image_id") == image_id)).to_series()
        return int(hits[0]) if len(hits) else None
