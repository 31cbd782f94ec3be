"""Plain-data overview of a dataset, shared by the Home page and `python -m core ingest`."""

from __future__ import annotations

from core.data.celeba import CELEBA_ATTRIBUTES, CELEBA_TERMS
from core.data.dataset import Dataset
from core.data.embeddings import list_embeddings


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
        "embeddings": list_embeddings(ds),
        "is_demo": ds.is_demo,
        "warnings": list(ds.warnings),
        "licence": licence_note(ds),
    }


def licence_note(ds: Dataset) -> str:
    """What may be done with the dataset's images and labels, as far as FaceAtlas knows."""
    if ds.is_demo:
        return "Drawn by FaceAtlas: no real person is pictured; use it freely with the project."
    if ds.layout in ("celeba", "celeba_kaggle") or (
        ds.layout == "embedding_csv" and ds.attributes and set(ds.attributes) <= set(CELEBA_ATTRIBUTES)
    ):
        return CELEBA_TERMS
    if ds.layout == "lfw":
        return (
            "LFW-style folder: LFW's photos were collected from news sites and are offered by its authors for "
            "research; check the terms of this copy before any other use."
        )
    return "FaceAtlas does not know this dataset's licence: check where its images came from before sharing them."


def sample_image_ids(ds: Dataset, n: int = 12, seed: int = 0) -> list[str]:
    """A seeded sample of image ids, one per identity where identities exist, for a first glance."""
    table = ds.table
    if ds.has_identity:
        table = table.filter(table["identity"].is_not_null()).unique(
            subset="identity", keep="first", maintain_order=True
        )
    n = min(n, table.height)
    return table.sample(n=n, seed=seed)["image_id"].to_list() if n else []
