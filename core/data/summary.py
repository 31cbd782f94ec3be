"""Plain-data overview of a dataset, shared by the Home page and `python -m core ingest`."""

from __future__ import annotations

from core.data.dataset import Dataset
from core.faces.store import list_embeddings


def dataset_summary(ds: Dataset) -> dict:
    return {
        "name": ds.name,
        "key": ds.key,
        "layout": ds.layout,
        "rows": ds.n_images,
        "attributes": list(ds.attributes),
        "identities": ds.n_identities,
        "partitions": ds.partition_counts(),
        "images_found": ds.images_found,
        "embeddings": list_embeddings(ds.cache_dir),
        "is_demo": ds.is_demo,
        "warnings": list(ds.warnings),
    }


def sample_image_ids(ds: Dataset, n: int = 12, seed: int = 0) -> list[str]:
    """A seeded sample of image ids, one per identity where identities exist, for a first glance."""
    table = ds.table
    if ds.has_identity:
        table = table.filter(table["identity"].is_not_null()).unique(
            subset="identity", keep="first", maintain_order=True
        )
    n = min(n, table.height)
    return table.sample(n=n, seed=seed)["image_id"].to_list() if n else []
