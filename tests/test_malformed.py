"""Malformed files a real user has: each gives a message naming the file and what is wrong, or loads what it
can with a warning; nothing raises a library error, blocks a thread, or decodes to a blank picture."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from core.data.images import open_rgb, thumbnail_bytes
from core.data.ingest import open_dataset
from core.errors import DatasetError, ImageError
from tests.support import PROJECT, jpeg_bytes, write_celeba


@pytest.mark.parametrize(
    ("file", "text", "what"),
    [
        ("Anno/identity_CelebA.txt", "", "identities"),
        ("Anno/identity_CelebA.txt", "image_id identity\n", "identities"),
        ("Eval/list_eval_partition.txt", "", "partitions"),
    ],
    ids=["empty identity file", "header-only identity file", "empty partition file"],
)
def test_empty_side_files_load_the_rest_with_a_warning(tmp_path, isolated_cache, file, text, what):
    root = write_celeba(tmp_path / "celeba", n=6)
    (root / file).write_text(text)
    ds = open_dataset(root)
    assert ds.n_images == 6
    assert any(
        f"{os.path.basename(file)} holds no rows, so the dataset is shown without {what}" in w for w in ds.warnings
    )


def test_a_one_column_kaggle_partition_csv(tmp_path, isolated_cache):
    root = tmp_path / "kaggle"
    root.mkdir()
    (root / "list_attr_celeba.csv").write_text("image_id,Smiling,Male\n000001.jpg,1,-1\n000002.jpg,-1,1\n")
    (root / "list_eval_partition.csv").write_text("image_id\n000001.jpg\n000002.jpg\n")
    ds = open_dataset(root)
    assert ds.n_images == 2 and not ds.has_partition
    assert any("list_eval_partition.csv has no partition column" in w for w in ds.warnings)


@pytest.mark.parametrize(
    ("file", "header"),
    [
        ("Anno/list_attr_celeba.txt", "Smiling Young Male Smiling Young"),
        ("list_attr_celeba.csv", "image_id,Smiling,Young,Male,Smiling,Young"),
        ("attributes.csv", "image_id,Smiling,Young,Male,Smiling,Young"),
    ],
    ids=["CelebA text header", "Kaggle CSV header", "attributes CSV beside images"],
)
def test_duplicate_attribute_names_are_named(tmp_path, isolated_cache, file, header):
    """The same attribute twice in a header: the message names the repeated names, not "a row could not be parsed"."""
    root = tmp_path / "dupes"
    (root / file).parent.mkdir(parents=True, exist_ok=True)
    sep = " " if file.endswith(".txt") else ","
    rows = [sep.join([f"{i + 1:06d}.jpg", "1", "-1", "1", "1", "-1"]) for i in range(3)]
    (root / file).write_text("\n".join(["3", header, *rows] if sep == " " else [header, *rows]) + "\n")
    if file == "attributes.csv":  # a folder of images with an attributes CSV: the CSV is skipped with the reason
        for i in range(3):
            (root / f"{i + 1:06d}.jpg").write_bytes(jpeg_bytes())
        ds = open_dataset(root)
        message = " ".join(ds.warnings)
        assert ds.attributes == ()
    else:
        with pytest.raises(DatasetError) as err:
            open_dataset(root)
        message = str(err.value)
    assert "Smiling and Young appear twice" in message, message
    assert "could not be parsed" not in message and "_duplicated_" not in message


def test_a_250_character_folder_name(tmp_path, isolated_cache):
    root = write_celeba(tmp_path / ("x" * 250), n=4)
    ds = open_dataset(root)
    assert ds.name == "x" * 250 and ds.n_images == 4 and len(ds.cache_dir.name) < 100


def test_a_fifo_named_like_an_image_never_blocks(tmp_path):
    fifo = tmp_path / "000001.jpg"
    os.mkfifo(fifo)
    results = []
    worker = threading.Thread(target=lambda: results.append(thumbnail_bytes(fifo, 64)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and results == [None]  # refused at once, as an unavailable picture
    with pytest.raises(ImageError, match="not a regular file"):
        open_rgb(fifo)


def _encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def test_16_bit_greyscale_keeps_its_picture():
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (64, 1))
    img = open_rgb(_encoded(Image.fromarray(ramp), "PNG"))
    grey = np.asarray(img)[..., 0].astype(int)
    assert grey[:, 0].max() < 5 and grey[:, -1].min() > 250  # black to white, not all white
    assert abs(grey.mean() - 127.5) < 3


def test_formats_outside_the_apps_list_are_refused_before_decoding():
    tiff = _encoded(Image.fromarray(np.zeros((8, 8), np.float32), mode="F"), "TIFF")
    with pytest.raises(ImageError, match="JPEG, PNG, WebP or BMP"):
        open_rgb(tiff)


def test_a_fifo_in_the_image_folder_never_hangs_the_audit(tmp_path, isolated_cache):
    """`core audit` reads every image: a FIFO named like one is reported as unreadable, never waited on."""
    root = write_celeba(tmp_path / "celeba", n=6, images=True)
    fifo = root / "Img" / "img_align_celeba" / "000002.jpg"
    fifo.unlink()
    os.mkfifo(fifo)
    proc = subprocess.run(
        [sys.executable, "-m", "core", "audit", str(root), "--checks", "images", "--json"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,  # on a hang the test fails here instead of blocking the suite
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    images = json.loads(proc.stdout.strip().splitlines()[-1])["checks"]["images"]
    assert images["counts"]["unreadable"] == 1 and images["images_with_problems"] >= 1
