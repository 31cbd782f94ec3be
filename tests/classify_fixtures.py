"""Fixtures for the classifier tests: a private cache root (models, pixels, synthetic embeddings)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from core.train import TrainConfig


def _clear_streamlit_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="session")
def clf_env(demo_home, tmp_path_factory):
    """The small demo opened with its own cache root, holding synthetic 'dlib' embeddings.

    The embeddings are a random projection of the attribute labels plus noise, so models on
    them have something to learn; they live only in this private cache (other tests see none).
    """
    from core.embeddings import save_embeddings
    from core.ingest import open_dataset

    old = os.environ.get("FACEATLAS_CACHE")
    os.environ["FACEATLAS_CACHE"] = str(tmp_path_factory.mktemp("clf-cache"))
    _clear_streamlit_caches()
    ds = open_dataset(demo_home / "data" / "demo", name="demo")
    rng = np.random.default_rng(0)
    labels = ds.attribute_matrix().astype(np.float32)
    vectors = labels @ rng.normal(size=(labels.shape[1], 128)) * 0.3 + rng.normal(size=(len(labels), 128))
    has_face = np.ones(len(labels), bool)
    has_face[::50] = False
    save_embeddings(ds.cache_dir, "dlib", (vectors * 0.05).astype(np.float32), has_face)
    yield ds
    if old is None:
        os.environ.pop("FACEATLAS_CACHE", None)
    else:
        os.environ["FACEATLAS_CACHE"] = old
    _clear_streamlit_caches()


@pytest.fixture(scope="session")
def cnn_model(clf_env) -> dict:
    """A small CNN trained on two drawn, common attributes (Male: face, hair and brows; Heavy_Makeup: eyes, lips)."""
    from core.train import train_attribute_model

    config = TrainConfig(model="cnn", attributes=("Male", "Heavy_Makeup"), epochs=12, batch_size=16, image_size=64, patience=12)
    return train_attribute_model(clf_env, config)


@pytest.fixture(scope="session")
def logreg_model(clf_env) -> dict:
    from core.train import train_attribute_model

    return train_attribute_model(clf_env, TrainConfig(model="logreg", attributes=("Blond_Hair", "Smiling", "Male")))
