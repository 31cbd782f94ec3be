"""Damaged artefacts set aside: out of every listing at once, never renamed twice, and only the damaged file's own
artefact (a model's broken test predictions leave its intact weights in use)."""

from __future__ import annotations

import numpy as np
import pytest

from core.classify.models import TrainConfig
from core.classify.store import list_models, load_classifier, load_test_predictions, models_root
from core.classify.train import train_attribute_model
from core.data.artifacts import recent_notices
from core.data.embeddings import embeddings_root, list_embeddings, load_embeddings, save_embeddings
from core.data.ingest import open_dataset
from core.errors import ModelFileError
from tests.support import write_celeba

N = 90


def _truncate(path, keep: int = 40) -> None:
    with open(path, "r+b") as f:
        f.truncate(keep)


@pytest.fixture
def embedded(tmp_path, isolated_cache):
    """A small CelebA-layout dataset (with images) and synthetic 'dlib' embeddings that predict its labels."""
    ds = open_dataset(write_celeba(tmp_path / "faces", n=N, images=True))
    rng = np.random.default_rng(0)
    labels = ds.attribute_matrix().astype(np.float32)
    vectors = labels @ rng.normal(size=(labels.shape[1], 16)) + 0.1 * rng.normal(size=(N, 16))
    save_embeddings(ds, "dlib", vectors.astype(np.float32), np.ones(N, bool))
    return ds


def test_damaged_embeddings_leave_the_listing_at_once_and_are_set_aside_once(embedded, isolated_cache):
    ds = embedded
    _truncate(embeddings_root(ds) / "dlib" / "vectors.npy")
    assert load_embeddings(ds, "dlib") is None
    assert list_embeddings(ds) == []  # Home and `core ingest` list no "dlib.damaged-…" model
    assert load_embeddings(ds) is None and list_embeddings(ds) == []  # nothing left to find, rename or announce
    moved = list(isolated_cache.rglob("dlib.damaged-*"))
    assert len(moved) == 1 and len(moved[0].name) < 60  # one move, a name that does not grow
    assert sum("face embeddings was damaged" in n for n in recent_notices(ds.key)) == 1


def test_a_set_aside_left_in_place_by_an_older_version_is_neither_listed_nor_renamed(embedded):
    ds = embedded
    legacy = embeddings_root(ds) / "dlib.damaged-20260101-000000-1"
    (embeddings_root(ds) / "dlib").rename(legacy)
    _truncate(legacy / "vectors.npy")
    assert list_embeddings(ds) == []
    assert load_embeddings(ds, legacy.name) is None
    assert legacy.is_dir()  # untouched: no "….damaged-….damaged-…"


def test_damaged_test_predictions_are_set_aside_alone(embedded):
    ds = embedded
    meta = train_attribute_model(ds, TrainConfig(model="logreg", attributes=("Smiling", "Male")))
    folder = models_root() / meta.model_id
    _truncate(folder / "test_predictions.npz")
    with pytest.raises(ModelFileError) as err:
        load_test_predictions(meta.model_id)
    message = str(err.value)
    assert "test-split predictions" in message and "weights are intact" in message
    assert message.count("train it again") + message.count("Train it again") == 1  # one sentence, not nested
    assert (folder / "weights.npz").is_file()  # the intact weights stay …
    assert meta.model_id in [m.model_id for m in list_models(ds.key)]  # … listed …
    probs = load_classifier(meta.model_id).predict(load_embeddings(ds).vectors[:3])  # … and in use
    assert probs.shape == (3, 2)
    with pytest.raises(ModelFileError, match="were damaged and set aside"):  # said again, set aside once
        load_test_predictions(meta.model_id)
    assert not (folder / "test_predictions.npz").exists()


def test_a_model_with_damaged_weights_leaves_the_model_list_at_once(embedded):
    ds = embedded
    meta = train_attribute_model(ds, TrainConfig(model="logreg", attributes=("Smiling",)))
    _truncate(models_root() / meta.model_id / "weights.npz")
    with pytest.raises(ModelFileError) as err:
        load_classifier(meta.model_id)
    assert str(err.value).count("train it again") == 1
    assert meta.model_id not in [m.model_id for m in list_models(ds.key)]
    assert not (models_root() / meta.model_id).exists()
