"""The images key names the image files' content: a photo replaced in place (even by one of the same size) or another
dataset whose files share only names and sizes gets another key, while touch, cp -r and rsync keep it."""

from __future__ import annotations

import io
import os
import shutil
import subprocess

import pytest
from PIL import Image

from core.data.fingerprints import BLOCK, bytes_digest, file_digest, image_digests
from core.data.images import read_image_file
from core.data.ingest import ingest, stat_signature
from tests.support import jpeg_bytes, write_celeba


def _same_size(data: bytes, size: int) -> bytes:
    """Another photo's bytes padded to `size` (bytes after a JPEG's end marker are ignored by decoders)."""
    assert len(data) <= size
    return data + bytes(size - len(data))


def _images(root):
    return root / "Img" / "img_align_celeba"


def _replace_in_place(path, data: bytes) -> None:
    """Overwrite a file's bytes in place (`cp new old` does this): the folder's date does not change."""
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate(len(data))


@pytest.fixture
def faces(tmp_path, isolated_cache):
    """A small CelebA-layout dataset whose 6 photos all have the same size and differ in colour."""
    root = write_celeba(tmp_path / "faces", n=6)
    folder = _images(root)
    folder.mkdir(parents=True)
    photos = [jpeg_bytes(color=(40 * i, 90, 200 - 30 * i)) for i in range(6)]
    size = max(map(len, photos))
    for i, data in enumerate(photos):
        (folder / f"{i + 1:06d}.jpg").write_bytes(_same_size(data, size))
    return root


def test_a_files_digest_is_the_digest_of_the_bytes_a_worker_read(tmp_path):
    rng_bytes = os.urandom(3 * BLOCK)
    big = Image.frombytes("RGB", (256, 256), rng_bytes[: 256 * 256 * 3])
    cases = {"small.jpg": jpeg_bytes(), "large.png": _encoded(big, "PNG"), "bitmap.bmp": _encoded(big, "BMP")}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert file_digest(tmp_path / name) == bytes_digest(read_image_file(tmp_path / name)), name
    assert len(cases["large.png"]) > 2 * BLOCK  # the first and last blocks only are read


def test_a_bitmap_edited_in_its_middle_gets_another_digest(tmp_path):
    img = Image.new("RGB", (300, 300), (10, 20, 30))
    before = _encoded(img, "BMP")
    img.putpixel((150, 150), (255, 255, 255))
    after = _encoded(img, "BMP")
    assert (
        len(before) == len(after) > 2 * BLOCK and before[:BLOCK] == after[:BLOCK] and before[-BLOCK:] == after[-BLOCK:]
    )
    assert bytes_digest(before) != bytes_digest(after)


def _encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def test_a_photo_replaced_in_place_by_one_of_the_same_size_changes_the_key(faces):
    ds = ingest(faces, "faces")
    signature = stat_signature(faces, ds.layout)
    photo = _images(faces) / "000003.jpg"
    _replace_in_place(photo, (_images(faces) / "000005.jpg").read_bytes())  # same size, another face
    again = ingest(faces, "faces")
    assert again.key == ds.key  # the folder's dates did not change: the same ingest folder …
    assert again.images_key != ds.images_key  # … and yet another images key
    assert stat_signature(faces, ds.layout) != signature  # the server's cue to open it again


def test_touch_cp_and_rsync_keep_the_key_and_read_only_what_changed(faces, tmp_path):
    ds = ingest(faces, "faces")
    ids = ds.table["image_id"].to_list()
    assert image_digests(ids, _images(faces)).read == 0  # warm: a stat per file, nothing read
    os.utime(_images(faces) / "000002.jpg")
    touched = image_digests(ids, _images(faces))
    assert touched.key == ds.images_key and touched.read == 1  # the touched file is read again: same content
    assert ingest(faces, "faces").images_key == ds.images_key
    copy = tmp_path / "copy" / "faces"
    shutil.copytree(faces, copy)
    assert ingest(copy, "faces").images_key == ds.images_key
    if shutil.which("rsync"):
        synced = tmp_path / "synced"
        subprocess.run(["rsync", "-a", f"{faces}/", str(synced)], check=True)
        assert ingest(synced, "faces").images_key == ds.images_key


def test_two_datasets_with_the_same_names_and_sizes_get_different_keys(faces, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(faces, other)
    first = _images(other) / "000001.jpg"
    first.write_bytes(_same_size(jpeg_bytes(color=(250, 250, 10)), first.stat().st_size))
    assert {p.name: p.stat().st_size for p in _images(other).iterdir()} == {
        p.name: p.stat().st_size for p in _images(faces).iterdir()
    }
    assert ingest(other, "faces").images_key != ingest(faces, "faces").images_key


def test_a_fifo_or_a_folder_named_like_a_photo_is_keyed_without_being_read(faces):
    (_images(faces) / "000004.jpg").unlink()
    os.mkfifo(_images(faces) / "000004.jpg")
    (_images(faces) / "000006.jpg").unlink()
    (_images(faces) / "000006.jpg").mkdir()
    ds = ingest(faces, "faces")  # returns: a FIFO is never opened for a blocking read
    assert ds.images_key and ds.n_images == 6
