"""Caches that heal and outlive harmless changes.

Every stored artefact is checked against what was written; a damaged one is set aside (with a notice) and
rebuilt, and nothing the server holds can be crashed by a file shrunk behind its back. Embeddings and trained
models are keyed by what they depend on (image files; labels), so touching, copying or re-partitioning a
dataset keeps them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from core.classify.models import TrainConfig
from core.classify.store import list_models
from core.classify.train import train_attribute_model
from core.data.artifacts import recent_notices
from core.data.embeddings import embeddings_root, list_embeddings, load_embeddings
from core.data.ingest import ingest
from core.demo import generate_demo
from core.faces.embed_job import embed_dataset
from tests.support import PROJECT, copy_home, home_environment, seed_face_weights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedded_template(tmp_path_factory, face_weights):
    """A 60-image drawn dataset with real embeddings and a trained logistic regression, built once for the module."""
    home = tmp_path_factory.mktemp("caches-template")
    seed_face_weights(face_weights, home / "cache")
    with home_environment(home):
        root = home / "data" / "faces"
        generate_demo(root, n_images=60, seed=9, workers=1)
        ds = ingest(root, "faces")
        embed_dataset(ds, workers=1)
        meta = train_attribute_model(ds, TrainConfig(model="logreg", attributes=("Male", "Smiling")))
    return home, meta


@pytest.fixture
def embedded(embedded_template, isolated_cache, tmp_path):
    """The template copied for this test (its tests damage files): (dataset folder, dataset, model meta)."""
    template, meta = embedded_template
    copy_home(template, tmp_path)  # its cache/ is isolated_cache
    root = tmp_path / "data" / "faces"
    return root, ingest(root, "faces"), meta


def _truncate(path, keep: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(keep)


def test_embeddings_shrunk_behind_the_servers_back_cannot_crash_it_and_are_rebuilt(embedded):
    root, ds, _ = embedded
    reference = np.array(load_embeddings(ds, "dlib").vectors)
    vectors = embeddings_root(ds) / "dlib" / "vectors.npy"
    script = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from core.data.embeddings import load_embeddings\n"
        "from core.data.ingest import ingest\n"
        "emb = load_embeddings(ingest(Path(sys.argv[1]), 'faces'), 'dlib')\n"
        "f = open(sys.argv[2], 'r+b'); f.truncate(200); f.close()\n"
        "print(float(np.abs(emb.vectors).sum()) > 0)\n"
    )
    env = {**os.environ}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(root), str(vectors)], cwd=PROJECT, env=env, capture_output=True
    )
    assert proc.returncode == 0 and proc.stdout.strip() == b"True", proc.stderr[-2000:]  # no SIGBUS
    assert load_embeddings(ds, "dlib") is None  # checked: not what was written -> set aside
    assert list((ds.cache_dir.parent / "set-aside").rglob("dlib.damaged-*"))  # out of every listing
    assert any("face embeddings was damaged" in n for n in recent_notices(ds.cache_dir.name))
    summary = embed_dataset(ds, workers=1)  # `core embed` works again and rebuilds them
    assert summary.embedded == 60
    np.testing.assert_allclose(np.asarray(load_embeddings(ds, "dlib").vectors), reference, atol=1e-6)


def test_a_damaged_ingest_cache_is_rebuilt_from_the_sources(embedded):
    root, ds, _ = embedded
    _truncate(ds.cache_dir / "table.parquet", 100)
    again = ingest(root, "faces")
    assert again.key == ds.key and again.table.equals(ds.table)
    assert any("annotations was damaged" in n for n in recent_notices(ds.key))
    assert list((ds.cache_dir.parent / "set-aside").glob(f"{ds.key}.damaged-*"))


def test_touching_copying_or_repartitioning_keeps_embeddings_and_models(embedded, tmp_path):
    root, ds, meta = embedded
    vectors = np.array(load_embeddings(ds, "dlib").vectors)

    def same_work(new) -> None:
        assert new.key != ds.key  # a new ingest …
        assert list_embeddings(new) == ["dlib"]  # … finds the embeddings
        np.testing.assert_array_equal(np.asarray(load_embeddings(new, "dlib").vectors), vectors)
        assert meta.model_id in {m.model_id for m in list_models(new.key, new.labels_key)}  # and the model

    time.sleep(0.01)
    os.utime(root / "Img" / "img_align_celeba")  # touch the image folder
    touched = ingest(root, "faces")
    same_work(touched)
    assert not ds.cache_dir.exists()  # the superseded ingest folder was cleaned up

    copy = tmp_path / "data" / "faces_copy"
    shutil.copytree(root, copy)  # like cp -r / rsync: new dates, same files
    same_work(ingest(copy, "faces_copy"))

    partition = root / "Eval" / "list_eval_partition.txt"
    lines = partition.read_text().splitlines()
    name, value = lines[0].split()
    lines[0] = f"{name} {(int(value) + 1) % 3}"
    partition.write_text("\n".join(lines) + "\n")
    repartitioned = ingest(root, "faces")
    same_work(repartitioned)
    assert repartitioned.split_key != meta.split_key and repartitioned.labels_key == meta.labels_key
