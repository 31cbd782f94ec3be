"""Fixtures for the classifier tests: a private cache root (models, pixels, synthetic embeddings).

The private root is switched on only for the duration of each classifier test (and while the
shared session models are trained), so other tests never see its models or embeddings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.classify.models import TrainConfig
from core.classify.train import train_attribute_model
from core.data.embeddings import save_embeddings
from core.data.ingest import open_dataset
from tests.cache_support import private_cache


def _open(demo_home: Path):
    return open_dataset(demo_home / "data" / "demo", name="demo")


@pytest.fixture(scope="session")
def _clf_cache(demo_home, tmp_path_factory) -> Path:
    """The private cache root, holding the small demo's ingest and synthetic 'dlib' embeddings.

    The embeddings are a random projection of the attribute labels plus noise, so models on
    them have something to learn.
    """
    path = tmp_path_factory.mktemp("clf-cache")
    with private_cache(path):
        ds = _open(demo_home)
        rng = np.random.default_rng(0)
        labels = ds.attribute_matrix().astype(np.float32)
        vectors = labels @ rng.normal(size=(labels.shape[1], 128)) * 0.3 + rng.normal(size=(len(labels), 128))
        has_face = np.ones(len(labels), bool)
        has_face[::50] = False
        save_embeddings(ds, "dlib", (vectors * 0.05).astype(np.float32), has_face)
    return path


@pytest.fixture
def clf_env(_clf_cache, demo_home):
    """The small demo, opened with the private cache root switched on for this test."""
    with private_cache(_clf_cache):
        yield _open(demo_home)


@pytest.fixture(scope="session")
def cnn_model(_clf_cache, demo_home):
    """A small CNN trained on two drawn, common attributes (Male: face, hair and brows; Heavy_Makeup: eyes, lips)."""
    config = TrainConfig(
        model="cnn",
        attributes=("Male", "Heavy_Makeup"),
        epochs=12,
        batch_size=16,
        image_size=64,
        patience=12,
        augment=False,  # as before augmentation became the page's default: the fixture's cost and figures unchanged
    )
    with private_cache(_clf_cache):
        return train_attribute_model(_open(demo_home), config)


@pytest.fixture(scope="session")
def logreg_model(_clf_cache, demo_home):
    with private_cache(_clf_cache):
        return train_attribute_model(
            _open(demo_home), TrainConfig(model="logreg", attributes=("Blond_Hair", "Smiling", "Male"))
        )
