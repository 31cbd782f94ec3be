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


def _same_size_copy(source, target) -> None:
    """Overwrite `target` in place with `source`'s photo padded to target's size (bytes after a JPEG's end marker are
    ignored), as `cp` overwrites a file: the folder's date does not change."""
    data, size = source.read_bytes(), target.stat().st_size
    data = data[:size] if len(data) > size else data + bytes(size - len(data))
    with open(target, "r+b") as f:
        f.write(data)


def _pair_with_room(images) -> tuple:
    """(a, b): two photos where b's bytes fit in a's size, so a can become b at a's own size."""
    files = sorted(images.glob("*.jpg"), key=lambda p: p.stat().st_size)
    return files[-1], files[0]


def test_a_photo_replaced_in_place_is_embedded_again_and_alone(embedded, tmp_path):
    root, ds, _ = embedded
    images = root / "Img" / "img_align_celeba"
    before = np.array(load_embeddings(ds, "dlib").vectors)
    target, source = _pair_with_room(images)
    size = target.stat().st_size
    _same_size_copy(source, target)
    assert target.stat().st_size == size
    again = ingest(root, "faces")
    assert list_embeddings(again) == []  # its old vectors are not this photo's
    summary = embed_dataset(again, workers=1)
    assert summary.reused == 59 and summary.embedded == 60  # only the replaced photo was computed
    after = np.asarray(load_embeddings(again, "dlib").vectors)
    row, twin = again.row_of(target.name), again.row_of(source.name)
    assert np.linalg.norm(after[row] - after[twin]) < 1e-6  # the new photo matches its own file at 0.000
    assert np.linalg.norm(before[row] - after[row]) > 0.1
    keep = [r for r in range(60) if r != row]
    np.testing.assert_array_equal(after[keep], before[keep])


def test_datasets_whose_files_share_names_and_sizes_never_share_vectors(embedded, tmp_path):
    root, ds, _ = embedded
    other = tmp_path / "data" / "other"
    shutil.copytree(root, other)
    target, source = _pair_with_room(other / "Img" / "img_align_celeba")
    _same_size_copy(source, target)
    twin = ingest(other, "other")
    assert twin.images_key != ds.images_key and list_embeddings(twin) == []


def test_a_folder_changing_while_it_is_embedded_leaves_no_work_orphaned(embedded):
    root, ds, _ = embedded
    shutil.rmtree(embeddings_root(ds))  # embed from scratch
    images = root / "Img" / "img_align_celeba"
    target, source = images / "000001.jpg", images / "000002.jpg"
    changed = []

    def progress(done: int, total: int, message: str) -> None:
        if done and not changed:  # after the first chunk: a person replaces a photo it already read (by a photo
            target.write_bytes(source.read_bytes() + bytes(7))  # of its own bytes: the twin's face, padded)
            changed.append(done)

    summary = embed_dataset(ds, workers=1, chunk_size=8, progress=progress)
    now = ingest(root, "faces")
    assert changed and now.images_key != ds.images_key
    assert list_embeddings(now) == ["dlib"] and summary.reused == 59  # the finished work was carried over …
    assert not (embeddings_root(ds) / "dlib").exists()  # … and nothing is left under the old key
    vectors = np.asarray(load_embeddings(now, "dlib").vectors)
    assert np.linalg.norm(vectors[0] - vectors[1]) < 1e-6  # row 0 is the new photo's
