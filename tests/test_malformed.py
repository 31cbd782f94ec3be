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
from core.errors import ImageError
from tests.support import PROJECT, write_celeba


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
