"""The only bridge between core/ and Streamlit's caches.

Data (small, copyable results) goes through st.cache_data; shared objects that
must be loaded once per server and never mutated (datasets, models, embedding
matrices) through st.cache_resource. Arguments are small hashables: dataset
names/keys, tuples, ints. Pages import what they need from here.
"""

from __future__ import annotations

import streamlit as st

from core import ingest
from core.dataset import Dataset
from core.embeddings import Embeddings, list_embeddings, load_embeddings
from core.errors import DatasetError
from core.images import thumbnail_bytes


@st.cache_data(ttl=20, show_spinner=False)
def dataset_refs() -> list[ingest.DatasetRef]:
    """Datasets under the data roots (re-scanned every 20 s so new folders appear)."""
    return ingest.discover()


def dataset(name: str) -> Dataset:
    """The named dataset, ingested once per server and re-read when its sources change."""
    ref = next((r for r in dataset_refs() if r.name == name), None)
    if ref is None:
        raise DatasetError(f"No dataset called {name!r} under data/.")
    return _dataset(str(ref.path), ref.name, ingest.stat_signature(ref.path, ref.layout))


@st.cache_resource(show_spinner="Loading dataset…", max_entries=8)
def _dataset(path: str, name: str, signature: tuple) -> Dataset:
    from pathlib import Path

    return ingest.ingest(Path(path), name)


def embedding_models(ds_key: str, _ds: Dataset) -> list[str]:
    return list_embeddings(_ds.cache_dir)


@st.cache_resource(show_spinner="Loading embeddings…", max_entries=8)
def embeddings(ds_key: str, model: str, _ds: Dataset, created: str = "") -> Embeddings | None:
    """Embedding matrix of a dataset (memory-mapped, shared by all sessions)."""
    return load_embeddings(_ds.cache_dir, model)


def current_embeddings(ds: Dataset, model: str | None = None) -> Embeddings | None:
    """The dataset's embeddings, reloaded when a job rewrites them (keyed on their creation time)."""
    models = list_embeddings(ds.cache_dir)
    if not models:
        return None
    model = model or ("dlib" if "dlib" in models else models[0])
    meta_path = ds.cache_dir / "embeddings" / model / "meta.json"
    created = str(meta_path.stat().st_mtime_ns) if meta_path.exists() else ""
    return embeddings(ds.key, model, ds, created)


@st.cache_data(max_entries=20_000, show_spinner=False)
def thumbnail(ds_key: str, image_id: str, size: int, _ds: Dataset) -> bytes | None:
    path = _ds.image_path(image_id)
    return thumbnail_bytes(path, size) if path is not None else None


# ---- classifiers ----


@st.cache_data(ttl=3, show_spinner=False)
def saved_models(ds_key: str) -> list[dict]:
    """meta.json of the stored attribute models of a dataset, newest first (re-read every few seconds)."""
    from core.model_store import list_models

    return list_models(ds_key)


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def stored_model(model_id: str, created: str):
    """A stored attribute model ready to predict (shared, never mutated); `created` keys a retrained id."""
    from core.model_store import load_model

    return load_model(model_id)


@st.cache_data(show_spinner=False, max_entries=16)
def test_predictions(model_id: str, created: str) -> dict:
    """{'rows', 'labels', 'probs'} of a stored model on its test split."""
    from core.model_store import load_test_predictions

    return load_test_predictions(model_id)
