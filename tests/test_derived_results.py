"""Results derived from a dataset (audit results, maps, clusterings) survive a harmless change as embeddings and
models do (a touched folder, a copy) and are recomputed only when what they read changed."""

from __future__ import annotations

import os
import shutil

import numpy as np

from core.cluster.features import FeatureSpec, feature_key
from core.cluster.store import clustering_dir, load_map, map_key, save_map
from core.data.ingest import ingest
from core.data.subset import Subset
from core.quality import load_check, run_audit
from tests.support import ATTR_FILE, jpeg_bytes, write_celeba


def _stored_map(ds, space: str) -> tuple[str, np.ndarray]:
    """Store a 2-D map of `space` as the map job does; (its key, its rows)."""
    key = map_key(feature_key(ds, FeatureSpec(space=space), Subset(), 0, 0), "pca")
    rows = np.arange(ds.n_images)
    save_map(clustering_dir(ds), key, np.random.default_rng(0).normal(size=(ds.n_images, 2)), rows)
    return key, rows


def _map_found(ds, space: str) -> bool:
    key = map_key(feature_key(ds, FeatureSpec(space=space), Subset(), 0, 0), "pca")
    return load_map(clustering_dir(ds), key, np.arange(ds.n_images)) is not None


def test_touching_or_copying_a_dataset_keeps_its_audit_results_and_maps(tmp_path, isolated_cache):
    root = write_celeba(tmp_path / "faces", n=12, images=True)
    ds = ingest(root, "faces")
    run_audit(ds, ["images"])
    _stored_map(ds, "attributes")
    _stored_map(ds, "embeddings")
    os.utime(root / "Img" / "img_align_celeba")  # touch the image folder: a new ingest folder …
    touched = ingest(root, "faces")
    assert touched.key != ds.key and not ds.cache_dir.exists()  # … and the old one is removed
    assert load_check(touched, "images") is not None  # the Data quality result is still there
    assert _map_found(touched, "attributes") and _map_found(touched, "embeddings")  # and so are the maps
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    copied = ingest(copy, "faces")
    assert load_check(copied, "images") is not None and _map_found(copied, "embeddings")


def test_derived_results_are_recomputed_only_when_what_they_read_changed(tmp_path, isolated_cache):
    root = write_celeba(tmp_path / "faces", n=12, images=True)
    ds = ingest(root, "faces")
    run_audit(ds, ["images"])
    _stored_map(ds, "attributes")
    _stored_map(ds, "embeddings")
    attr = root / ATTR_FILE
    attr.write_text(attr.read_text().replace(" -1\n", " 1\n", 1))  # one label edited
    relabelled = ingest(root, "faces")
    assert load_check(relabelled, "images") is not None  # the images check does not read labels
    assert _map_found(relabelled, "embeddings")  # nor does a map of the faces
    assert not _map_found(relabelled, "attributes")  # a map of the attributes does
    (root / "Img" / "img_align_celeba" / "000002.jpg").write_bytes(jpeg_bytes(color=(10, 200, 30)))
    replaced = ingest(root, "faces")
    assert load_check(replaced, "images") is None  # a photo changed: the scan is run again
