"""core.faces.search: bad uploads, huge images, box drawing, and photo queries against a small embedded demo."""

import io
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import cdist

from core.__main__ import main
from core.data.embeddings import load_embeddings
from core.data.ingest import open_dataset
from core.data.loaders import DEMO_MARKER
from core.errors import ImageError
from core.faces import pipeline as faces
from core.faces import search
from core.faces.calibration import DLIB_THRESHOLD, SamePersonBasis, calibrate_embeddings, same_person_rule
from core.faces.embed_job import load_status
from tests.support import copy_home


def _png(size, mode="L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return buf.getvalue()


def test_huge_image_is_refused_with_a_message():
    with pytest.raises(ImageError, match=r"too large|megapixels"):
        search.faces_in_bytes(_png((8000, 6000)))


def test_empty_and_non_image_uploads_are_refused():
    with pytest.raises(ImageError, match="empty"):
        search.faces_in_bytes(b"")
    with pytest.raises(ImageError, match="not an image"):
        search.faces_in_bytes(b"%PDF-1.4 not a photo")


def test_faceless_photo_has_no_boxes():
    found = search.faces_in_bytes(_png((300, 200), "RGB"))
    assert found.boxes == [] and found.vectors.shape == (0, 128)


def test_draw_boxes_scales_boxes_with_the_picture():
    img = Image.new("RGB", (1000, 500), "white")
    out = search.draw_boxes(img, [(100, 100, 300, 300)], chosen=0, max_side=500)
    assert out.size == (500, 250)
    assert out.getpixel((50, 50)) != (255, 255, 255)  # the box's corner, at half scale
    assert out.getpixel((100, 100)) == (255, 255, 255)  # inside the box stays untouched
    assert img.getpixel((100, 100)) == (255, 255, 255)  # the original is not drawn on


@pytest.fixture(scope="module")
def embedded_demo(embedded_demo_home, tmp_path_factory):
    """A copy of the session's small demo (aligned crops) with its real dlib embeddings, in its own cache."""
    home = copy_home(embedded_demo_home, tmp_path_factory.mktemp("search_home"), ("demo",))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEATLAS_CACHE", str(home / "cache"))
        yield home, open_dataset(home / "data" / "demo", name="demo")


@pytest.mark.slow
def test_a_dataset_photo_uploaded_again_finds_itself_at_zero(embedded_demo):
    """The upload takes the dataset's own detection path (aligned crop, fixed box when HOG misses)."""
    _, ds = embedded_demo
    emb = load_embeddings(ds, "dlib")
    status = load_status(ds)
    for row in np.flatnonzero(emb.has_face)[:6]:
        image_id = ds.table["image_id"][int(row)]
        matches = search.search_photo(ds, ds.image_path(image_id).read_bytes(), k=3).faces
        best = matches[0].neighbours.row(0, named=True)
        assert best["image_id"] == image_id and best["distance"] == 0.0, (image_id, status[row], best)
    fallback = np.flatnonzero(status == faces.STATUS_FALLBACK)
    for row in fallback[:2]:  # where HOG found nothing in the dataset, the upload uses the same fixed box
        data = ds.image_path(ds.table["image_id"][int(row)]).read_bytes()
        assert search.search_photo(ds, data, k=1).faces[0].neighbours["distance"][0] == 0.0


@pytest.mark.slow
def test_search_command_prints_faces_and_neighbours(embedded_demo, capsys):
    """A demo image brought back is recognised as that image, and the demo's identities decide the same person."""
    home, ds = embedded_demo
    image_id = ds.table["image_id"][0]
    code = main(["search", str(home / "data" / "demo"), "--photo", str(ds.image_path(image_id)), "-k", "4", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["faces"]) == 1 and len(out["faces"][0]["box"]) == 4
    assert out["faces"][0]["dataset_image"] == image_id
    neighbours = out["faces"][0]["neighbours"]
    assert neighbours[0]["image_id"] == image_id and neighbours[0]["distance"] == 0.0
    assert set(neighbours[0]) == {"image_id", "identity", "distance", "same_person"} and len(neighbours) == 4
    assert [n["distance"] for n in neighbours] == sorted(n["distance"] for n in neighbours)
    cut = calibrate_embeddings(ds, load_embeddings(ds, "dlib")).same_person
    assert out["same_person_threshold"] == cut.threshold and out["same_person"]["basis"] == "calibrated"
    assert out["same_person"]["precision"] == round(cut.precision, 4) >= 0.95
    assert [n["same_person"] for n in neighbours] == [n["distance"] < cut.threshold for n in neighbours]
    assert neighbours[0]["same_person"] is True  # itself


@pytest.mark.slow
def test_a_photo_that_is_not_a_demo_image_is_nobody_on_the_demo(embedded_demo, tmp_path, capsys):
    """The same drawing made brighter is no longer one of the demo's images: no same-person claim, and it says why."""
    home, ds = embedded_demo
    image_id = ds.table["image_id"][0]
    brighter = tmp_path / "brighter.png"
    pixels = np.asarray(Image.open(ds.image_path(image_id)).convert("RGB"), np.int16)
    Image.fromarray(np.clip(pixels * 1.3 + 20, 0, 255).astype(np.uint8)).save(brighter)
    assert main(["search", str(home / "data" / "demo"), "--photo", str(brighter), "-k", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["faces"][0]["dataset_image"] is None and out["faces"][0]["neighbours"][0]["distance"] > 0
    assert out["same_person_threshold"] is None and out["same_person"]["basis"] == "drawn faces"
    assert [n["same_person"] for n in out["faces"][0]["neighbours"]] == [False] * 4
    assert main(["search", str(home / "data" / "demo"), "--photo", str(brighter), "-k", "4"]) == 0
    assert capsys.readouterr().out.startswith("same person: no face is called so (the photo is not one of the demo's")


@pytest.mark.slow
def test_probably_the_same_person_is_the_same_identity_at_least_nine_times_in_ten(embedded_demo):
    """Every demo image as a query against every other (as the page searches: distances to 3 decimals, strictly
    closer than the cut): of the faces called 'probably the same person', the share with the query's identity."""
    _, ds = embedded_demo
    emb = load_embeddings(ds, "dlib")
    rule = same_person_rule(ds, emb.model, "euclidean", True, lambda: calibrate_embeddings(ds, emb))
    assert rule.basis == SamePersonBasis.CALIBRATED
    X = np.asarray(emb.vectors, np.float64)[emb.has_face]
    who = np.asarray(ds.table["identity"].to_list(), dtype=object)[emb.has_face]
    distances = np.round(cdist(X, X), 3)  # computed directly, not from dot products: no BLAS rounding
    np.fill_diagonal(distances, np.inf)
    called = distances < rule.threshold
    same = who[:, None] == who[None, :]
    share = (called & same).sum() / called.sum()
    assert called.sum() >= 50 and share >= 0.9, (int(called.sum()), share)
    assert share == pytest.approx(rule.calibration.same_person.precision, abs=0.01)  # what the page reports


def test_search_command_marks_the_same_person_with_dlibs_threshold_without_identities(embedded_demo, tmp_path, capsys):
    """The same photos as real ones without identity labels (no demo marker, no identity file): the command
    decides with dlib's 0.6, as the page does, and marks each neighbour closer than that."""
    home, ds = embedded_demo
    photos = tmp_path / "photos"
    shutil.copytree(home / "data" / "demo", photos)
    (photos / DEMO_MARKER).unlink()
    (photos / "Anno" / "identity_CelebA.txt").unlink()
    image_id = ds.table["image_id"][0]
    assert main(["search", str(photos), "--photo", str(ds.image_path(image_id)), "-k", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["same_person_threshold"] == DLIB_THRESHOLD
    assert out["same_person"] == {
        "threshold": DLIB_THRESHOLD,
        "basis": "dlib default",
        "precision": None,
        "recall": None,
    }
    neighbours = out["faces"][0]["neighbours"]
    assert neighbours[0]["image_id"] == image_id and neighbours[0]["same_person"] is True  # itself, at 0
    assert [n["same_person"] for n in neighbours] == [n["distance"] < 0.6 for n in neighbours]
    assert main(["search", str(photos), "--photo", str(ds.image_path(image_id)), "-k", "4"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "same person: closer than 0.600 (dlib's threshold for its descriptor on photos of real people)"
    assert printed[2].endswith(f"{image_id}    same person")


@pytest.mark.slow
def test_search_command_refuses_what_is_not_a_photo(embedded_demo, tmp_path, capsys):
    home, _ = embedded_demo
    fifo = tmp_path / "face.jpg"
    os.mkfifo(fifo)
    assert main(["search", str(home / "data" / "demo"), "--photo", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err
