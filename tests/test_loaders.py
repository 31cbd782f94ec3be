"""Loaders for every layout, their malformed cases, and the ingest cache."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from core.data import ingest as ingest_mod
from core.data.celeba import CELEBA_ATTRIBUTES
from core.data.embeddings import load_embeddings
from core.data.ingest import fingerprint, ingest
from core.data.loaders import detect_layout
from core.data.subset import Subset, subset_rows
from core.errors import DatasetError
from tests.support import PROJECT, REAL_ANNOTATIONS, needs

ATTRS = ["Smiling", "Male", "Eyeglasses"]
VALUES = [[1, -1, -1], [-1, 1, 1], [1, 1, -1], [-1, -1, -1]]
IDS = ["000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg"]


def write_celeba(root: Path, rows=None, header=None, count=None, images=IDS, image_dir="Img/img_align_celeba"):
    rows = rows if rows is not None else [f"{i}  " + "  ".join(f"{v:2d}" for v in vals) for i, vals in zip(IDS, VALUES)]
    (root / "Anno").mkdir(parents=True, exist_ok=True)
    (root / "Eval").mkdir(exist_ok=True)
    head = f"{len(rows) if count is None else count}\n{' '.join(header or ATTRS)}\n"
    (root / "Anno" / "list_attr_celeba.txt").write_text(head + "\n".join(rows) + "\n")
    (root / "Anno" / "identity_CelebA.txt").write_text("000001.jpg 7\n000002.jpg 7\n000003.jpg 9\n000004.jpg 12\n")
    (root / "Eval" / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 0\n000003.jpg 1\n000004.jpg 2\n")
    if images:
        folder = root / image_dir
        folder.mkdir(parents=True, exist_ok=True)
        for name in images:
            Image.new("RGB", (178, 218), (120, 100, 90)).save(folder / name)
    return root


def test_celeba_original_layout(tmp_path, isolated_cache):
    ds = ingest(write_celeba(tmp_path / "c"))
    assert ds.layout == "celeba" and ds.attributes == tuple(ATTRS)
    assert ds.table.columns == ["image_id", "identity", "partition", *ATTRS]
    assert ds.table["Smiling"].to_list() == [1, 0, 1, 0]
    assert ds.table["Male"].dtype == pl.UInt8
    assert ds.table["identity"].to_list() == ["7", "7", "9", "12"]
    assert ds.table["partition"].to_list() == ["train", "train", "val", "test"]
    assert ds.n_identities == 3 and ds.partition_counts() == {"train": 2, "val": 1, "test": 1}
    assert ds.images_found == 4 and ds.warnings == () and ds.aligned
    assert ds.image_path("000002.jpg").is_file()


def test_images_flat_beside_annotations(tmp_path, isolated_cache):
    ds = ingest(write_celeba(tmp_path / "c", image_dir="."))
    assert ds.images_found == 4 and ds.image_dir == tmp_path / "c"


def test_count_line_mismatch_is_a_warning(tmp_path, isolated_cache):
    ds = ingest(write_celeba(tmp_path / "c", count=202599))
    assert ds.n_images == 4
    assert any("202,599" in w and "4 rows" in w for w in ds.warnings)


def test_missing_images_are_counted(tmp_path, isolated_cache):
    ds = ingest(write_celeba(tmp_path / "c", images=IDS[:1]))
    assert ds.images_found == 1
    assert any("3 of 4 images" in w for w in ds.warnings)


def test_no_image_folder_still_loads(tmp_path, isolated_cache):
    ds = ingest(write_celeba(tmp_path / "c", images=[]))
    assert ds.n_images == 4 and not ds.has_images and ds.image_path("000001.jpg") is None


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (["000001.jpg 1 -1", "000002.jpg 1 1 1"], None, "line 3"),
        (["000001.jpg 1 -1 2", "000002.jpg 1 1 1"], None, "not -1, 0 or 1"),
        (["000001.jpg 1 -1 x"], None, "'x' is not a whole number"),
        (["000001.jpg 1 -1 1"], ["Smiling", "Male"], "header names 2"),
    ],
)
def test_malformed_attribute_file(tmp_path, isolated_cache, rows, header, message):
    root = write_celeba(tmp_path / "c", rows=rows, header=header)
    with pytest.raises(DatasetError, match=message):
        ingest(root)


def test_value_error_names_column_and_image(tmp_path, isolated_cache):
    root = write_celeba(tmp_path / "c", rows=["000001.jpg 1 -1 1", "000002.jpg 1 5 1"])
    with pytest.raises(DatasetError, match=r"Male.*5.*000002.jpg"):
        ingest(root)


def test_missing_header_line(tmp_path, isolated_cache):
    root = write_celeba(tmp_path / "c")
    (root / "Anno" / "list_attr_celeba.txt").write_text("2\n000001.jpg 1 -1 1\n000002.jpg 1 1 1\n")
    with pytest.raises(DatasetError, match="header"):
        ingest(root)


def test_missing_count_line(tmp_path, isolated_cache):
    root = write_celeba(tmp_path / "c")
    (root / "Anno" / "list_attr_celeba.txt").write_text("Smiling Male\n000001.jpg 1 -1\n")
    with pytest.raises(DatasetError, match="number of images"):
        ingest(root)


def test_duplicate_ids_keep_first_with_warning(tmp_path, isolated_cache):
    rows = ["000001.jpg 1 -1 -1", "000002.jpg -1 1 1", "000001.jpg -1 -1 -1"]
    ds = ingest(write_celeba(tmp_path / "c", rows=rows))
    assert ds.table["image_id"].to_list() == ["000001.jpg", "000002.jpg"]
    assert ds.table["Smiling"].to_list() == [1, 0]
    assert any("more than once" in w for w in ds.warnings)


def test_windows_line_endings_and_tabs(tmp_path, isolated_cache):
    root = write_celeba(tmp_path / "c")
    path = root / "Anno" / "list_attr_celeba.txt"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n").replace(b"  ", b"\t"))
    ds = ingest(root)
    assert ds.table["Male"].to_list() == [0, 1, 1, 0]


def test_empty_folder(tmp_path, isolated_cache):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no dataset found"):
        ingest(tmp_path / "empty")


def test_celeba_optional_tables_load_or_are_skipped_with_a_warning(tmp_path, isolated_cache):
    """A readable bbox file is kept beside the table; a landmarks file that is no table is skipped, and said."""
    root = tmp_path / "c"
    write_celeba(root)
    (root / "Anno" / "list_bbox_celeba.txt").write_text(
        "4\nimage_id x_1 y_1 width height\n" + "".join(f"{i} 95 71 226 313\n" for i in IDS)
    )
    (root / "Anno" / "list_landmarks_align_celeba.txt").write_text("not a number\n")
    ds = ingest(root)
    assert (ds.cache_dir / "extra_bbox.parquet").is_file()
    assert pl.read_parquet(ds.cache_dir / "extra_bbox.parquet")["width"].to_list() == [226] * 4
    assert not (ds.cache_dir / "extra_landmarks.parquet").exists()
    assert [w for w in ds.warnings if w.endswith("(optional file skipped)")] == [
        "list_landmarks_align_celeba.txt, line 1: expected the number of images, found 'not a number'. "
        "(optional file skipped)"
    ]


def test_kaggle_layout(tmp_path, isolated_cache):
    root = tmp_path / "k"
    images = root / "img_align_celeba" / "img_align_celeba"
    images.mkdir(parents=True)
    Image.new("RGB", (178, 218)).save(images / "000001.jpg")
    (root / "list_attr_celeba.csv").write_text("image_id,Smiling,Male\n000001.jpg,1,-1\n000002.jpg,-1,1\n")
    (root / "list_eval_partition.csv").write_text("image_id,partition\n000001.jpg,0\n000002.jpg,2\n")
    (root / "list_bbox_celeba.csv").write_text("image_id,x_1,y_1,width,height\n000001.jpg,95,71,226,313\n")
    ds = ingest(root)
    assert ds.layout == "celeba_kaggle"
    assert ds.table["Smiling"].to_list() == [1, 0] and ds.table["partition"].to_list() == ["train", "test"]
    assert not ds.has_identity and ds.images_found == 1
    assert (ds.cache_dir / "extra_bbox.parquet").is_file()


def test_embedding_csv(tmp_path, isolated_cache):
    root = tmp_path / "e"
    root.mkdir()
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(3, 20)).astype(np.float32)
    emb[2, 5] = np.nan
    header = "image_name,id,Smiling,Male," + ",".join(str(i) for i in range(20))
    lines = [header] + [
        f"00000{i + 1}.jpg,{10 + i},{1 if i else -1},{-1}," + ",".join(f"{v:.6f}" for v in emb[i]) for i in range(3)
    ]
    (root / "celeba_buffalo_s.csv").write_text("\n".join(lines) + "\n")
    ds = ingest(root)
    assert ds.layout == "embedding_csv" and ds.attributes == ("Smiling", "Male")
    assert ds.table["identity"].to_list() == ["10", "11", "12"]
    assert ds.table["Smiling"].to_list() == [0, 1, 1]
    e = load_embeddings(ds, "csv")
    assert e.vectors.shape == (3, 20) and e.has_face.tolist() == [True, True, False]
    np.testing.assert_allclose(e.vectors[:2], emb[:2], atol=1e-5)
    assert any("NaN" in w for w in ds.warnings)


def test_lfw_layout(tmp_path, isolated_cache):
    root = tmp_path / "lfw"
    for person, n in (("Ada_Lovelace", 2), ("Alan_Turing", 1)):
        (root / person).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (250, 250)).save(root / person / f"{person}_{i + 1:04d}.jpg")
    (root / "pairs.txt").write_text("1\n")
    ds = ingest(root)
    assert ds.layout == "lfw" and ds.n_images == 3 and ds.n_identities == 2
    assert ds.table["image_id"][0] == "Ada_Lovelace/Ada_Lovelace_0001.jpg"
    assert ds.image_path(ds.table["image_id"][2]).is_file()
    assert ds.extras == {"pairs": "pairs.txt"}


def test_plain_folder_with_attributes_csv(tmp_path, isolated_cache):
    root = tmp_path / "f"
    root.mkdir()
    for name in ("a.jpg", "b.png", "c.webp"):
        Image.new("RGB", (64, 64)).save(root / name)
    (root / "notes.txt").write_text("not an image")
    (root / "labels.csv").write_text("filename,Smiling,person\na.jpg,1,p1\nb.png,0,p2\n")
    (root / "identity.txt").write_text("image identity\na.jpg x\n")
    ds = ingest(root)
    assert ds.layout == "folder" and ds.n_images == 3 and ds.attributes == ("Smiling",)
    assert ds.table["Smiling"].to_list() == [1, 0, 0]
    assert any("1 images have no row" in w for w in ds.warnings)


def test_detect_layout_is_cheap_and_right(tmp_path):
    assert detect_layout(write_celeba(tmp_path / "c", images=[])) == "celeba"
    assert detect_layout(tmp_path / "nothing") is None


def test_cache_reused_and_fingerprint_follows_sources(tmp_path, isolated_cache, monkeypatch):
    root = write_celeba(tmp_path / "c")
    first = ingest(root)
    calls = []
    monkeypatch.setattr(ingest_mod, "load_source", lambda *a, **k: calls.append(a) or pytest.fail("re-parsed"))
    again = ingest(root)
    assert again.key == first.key and not calls
    monkeypatch.undo()
    fp_before = fingerprint(root, "celeba")
    path = root / "Anno" / "list_attr_celeba.txt"
    path.write_text(path.read_text().replace("000004.jpg  -1", "000004.jpg   1"))
    assert fingerprint(root, "celeba") != fp_before
    changed = ingest(root)
    assert changed.key != first.key and changed.table["Smiling"].to_list() == [1, 0, 1, 1]
    assert (first.cache_dir / "meta.json").is_file()  # the old cache stays intact


def test_cli_ingest_json(tmp_path):
    root = write_celeba(tmp_path / "c", count=10)
    env = {"FACEATLAS_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "core", "ingest", str(root), "--json"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(out.stdout)
    assert summary["rows"] == 4 and summary["attributes"] == ATTRS
    assert summary["identities"] == 3 and summary["images_found"] == 4
    assert len(summary["warnings"]) == 1


def test_cli_reports_malformed_file_without_traceback(tmp_path):
    root = write_celeba(tmp_path / "c", rows=["000001.jpg 1 -1 7"])
    env = {"FACEATLAS_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "core", "ingest", str(root)], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: list_attr_celeba.txt")


@needs(REAL_ANNOTATIONS)
def test_real_celeba_annotations(tmp_path, isolated_cache):
    root = tmp_path / "celeba"
    (root / "Anno").mkdir(parents=True)
    for name in ("list_attr_celeba.txt", "identity_CelebA.txt"):
        # A copy, not a link: links that lead out of a dataset folder are not read (tests/test_hostile.py).
        shutil.copyfile(REAL_ANNOTATIONS / name, root / "Anno" / name)
    ds = ingest(root)
    assert ds.n_images == 20_000 and ds.attributes == CELEBA_ATTRIBUTES
    assert ds.table["identity"].null_count() == 0
    assert ds.table.row(0, named=True)["identity"] == "2880"
    assert any("202,599" in w and "20,000 rows" in w for w in ds.warnings)
    # A direct reading of the first data line agrees with the table.
    first = (REAL_ANNOTATIONS / "list_attr_celeba.txt").read_text().splitlines()[2].split()
    assert [int(int(v) > 0) for v in first[1:]] == [int(x) for x in ds.attribute_matrix()[0]]


def test_empty_subset_selects_every_row(tmp_path, isolated_cache):
    ds = ingest(write_celeba(tmp_path / "c"))
    assert subset_rows(ds, Subset()).tolist() == [0, 1, 2, 3]
    assert subset_rows(ds, Subset(conditions=(("Male", 1),))).tolist() == [1, 2]
