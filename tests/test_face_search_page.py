"""Face search page (AppTest) and the real-face quality check on ../shared/real/celeba_wild_sample.

The real-face part uses conftest's wild_home: a deterministic subset of the wild sample (the 12 identities
with the smallest ids, 199 photos, one photo per identity held out as an upload) embedded once per
test session with the real embedding job (about a minute on 2 cores), shared with test_cluster_real.py.
The full 502-photo figures are in docs/bench/faces.md.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import cdist
from streamlit.testing.v1 import AppTest

from core import cached
from core.data.embeddings import load_embeddings, save_embeddings
from core.data.ingest import open_dataset
from core.demo import generate_demo
from core.faces import pipeline as faces
from core.faces.embed_job import load_status
from core.jobs import cancel_job, job_id_for, job_status
from tests.support import PROJECT, WILD_SAMPLE, copy_home, needs, opened_at

PAGE = str(PROJECT / "pages" / "5_Face_search.py")


def _use_home(monkeypatch, home: Path) -> None:
    monkeypatch.setenv("FACEATLAS_HOME", str(home))
    monkeypatch.setenv("FACEATLAS_CACHE", str(home / "cache"))
    monkeypatch.delenv("FACEATLAS_DATA", raising=False)
    cached.dataset_refs.clear()


@pytest.fixture(scope="module")
def tiny_demo_home(tmp_path_factory):
    """A tiny demo drawn once for the module (page_home copies it: its tests write embeddings and jobs)."""
    home = tmp_path_factory.mktemp("tiny-demo")
    generate_demo(home / "data" / "demo", n_images=30, seed=2)
    return home


@pytest.fixture
def page_home(tiny_demo_home, tmp_path, monkeypatch):
    """A home with a tiny demo only (no embeddings)."""
    copy_home(tiny_demo_home, tmp_path, ("demo",))
    _use_home(monkeypatch, tmp_path)
    yield tmp_path
    cached.dataset_refs.clear()


def _distance_table(at):
    """The page's one table of images by distance (st.dataframe keys are not visible to AppTest)."""
    tables = [d.value for d in at.dataframe if "distance" in d.value.columns]
    assert len(tables) == 1, len(tables)
    return tables[0]


@pytest.mark.slow
@needs(WILD_SAMPLE)
def test_real_faces_found_and_verified(wild_home):
    _, ds, summary, _ = wild_home
    emb = load_embeddings(ds, "dlib")
    assert summary.images == ds.n_images and summary.failed == 0
    found = emb.has_face.mean()
    assert found >= 0.97, f"faces found in {found:.1%}"
    assert (load_status(ds) == faces.STATUS_FACE).sum() == emb.n_valid  # a wild dataset never uses fixed boxes
    v = np.asarray(emb.vectors)[emb.has_face]
    who = np.array(ds.table["identity"].to_list())[emb.has_face]
    d = np.linalg.norm(v[:, None] - v[None], axis=2)
    iu = np.triu_indices(len(v), 1)
    same, dist = (who[:, None] == who[None])[iu], d[iu]
    # Balanced accuracy (mean of same- and different-pair accuracy) at the best threshold.
    best = max(((dist[same] < t).mean() + (dist[~same] >= t).mean()) / 2 for t in np.arange(0.3, 0.9, 0.01))
    assert best >= 0.95, f"verification accuracy {best:.3f}"
    assert np.median(dist[same]) < np.median(dist[~same])


@pytest.mark.slow
@needs(WILD_SAMPLE)
def test_upload_finds_the_same_person(wild_home, monkeypatch):
    home, ds, _, held_out = wild_home
    _use_home(monkeypatch, home)
    who, name = sorted(held_out.items())[0]
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["dataset"] = "wild"
    at.run()
    assert not at.exception, at.exception
    at.file_uploader(key="fs-upload").set_value((name, (WILD_SAMPLE / name).read_bytes(), "image/jpeg"))
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    ranked = _distance_table(at)
    emb = load_embeddings(ds, "dlib")
    assert len(ranked) == emb.n_valid  # every dataset face, sorted by distance
    assert list(ranked["distance"]) == sorted(ranked["distance"])
    assert ranked["identity"].iloc[0] == who  # the nearest face is the same person
    assert any("nearest faces" in s.value for s in at.subheader)


@pytest.mark.slow
@needs(WILD_SAMPLE)
def test_upload_errors_are_explained(wild_home, monkeypatch, tmp_path):
    home, *_ = wild_home
    _use_home(monkeypatch, home)
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["dataset"] = "wild"
    at.run()
    at.file_uploader(key="fs-upload").set_value(("notes.jpg", b"this is not a picture", "image/jpeg")).run()
    assert any("not an image" in e.value for e in at.error)
    blank = tmp_path / "wall.png"
    Image.new("RGB", (400, 300), (200, 190, 180)).save(blank)
    at.file_uploader(key="fs-upload").set_value(("wall.png", blank.read_bytes(), "image/png")).run()
    assert not at.exception
    assert any("No face was found" in w.value for w in at.warning)


@pytest.mark.slow
@needs(WILD_SAMPLE)
def test_pick_dataset_image_excludes_itself(wild_home, monkeypatch):
    home, ds, *_ = wild_home
    _use_home(monkeypatch, home)
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["dataset"] = "wild"
    at.run()
    at.radio(key="fs-source").set_value("A dataset image").run()
    query = ds.table["image_id"][5]
    at.text_input(key="fs-image-filter").input(query).run()
    assert at.selectbox(key="fs-image").value == query
    at.slider(key="fs-k").set_value(4).run()
    ranked = _distance_table(at)
    assert query not in set(ranked["image_id"])
    assert ranked["identity"].iloc[0] == ds.table["identity"][5]


def test_no_embeddings_offers_the_job_and_attribute_search_works(page_home):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert any("no face embeddings yet" in i.value for i in at.info)
    assert at.button(key="fs-embed")
    # By attributes: choose values -> nearest images by Hamming distance, checked against brute force.
    ds = open_dataset(page_home / "data" / "demo", name="demo")
    assert not at.multiselect  # the attribute tab runs only when open
    at.session_state["fs-tab"] = "By attributes"  # AppTest cannot click a tab
    at.run()
    at.multiselect(key="fs-attr-present").set_value(["Male", "Smiling", "Eyeglasses"]).run()
    at.slider(key="fs-attr-k").set_value(5).run()
    table = _distance_table(at)
    q = np.array([a in ("Male", "Smiling", "Eyeglasses") for a in ds.attributes], np.uint8)
    brute = sorted(((ds.attribute_matrix()[i] != q).sum(), i) for i in range(ds.n_images))[:5]
    assert list(table["image_id"]) == [ds.table["image_id"][i] for _, i in brute]
    assert list(table["distance"]) == [float(d) for d, _ in brute]


def test_embed_button_starts_a_cancellable_job(page_home):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.button(key="fs-embed").click().run()
    job_id = job_id_for("embed", ["embed", str(page_home / "data" / "demo"), "--name", "demo"])
    try:
        assert job_status(job_id) is not None
        assert not at.exception
    finally:
        cancel_job(job_id)
    assert job_status(job_id).state == "cancelled"


@pytest.fixture
def csv_embeddings_home(page_home):
    """The tiny demo with embeddings that came 'with the dataset' (not dlib): searched by dataset image only."""
    ds = open_dataset(page_home / "data" / "demo", name="demo")
    rng = np.random.default_rng(5)
    save_embeddings(ds, "buffalo", rng.normal(size=(ds.n_images, 16)).astype(np.float32), np.ones(ds.n_images, bool))
    return page_home, ds


def test_view_round_trips_through_the_url(csv_embeddings_home):
    """Dataset image, k, distance; then the attribute tab's values: each in the URL, each restored from it."""
    _, ds = csv_embeddings_home
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert dict(at.query_params) == {"dataset": "demo"}
    at.radio(key="fs-source").set_value("A dataset image").run()
    query = ds.table["image_id"][4]
    at.text_input(key="fs-image-filter").input(query).run()
    at.slider(key="fs-k").set_value(5).run()
    at.selectbox(key="fs-metric").select("cosine").run()
    assert not at.exception, at.exception
    params = dict(at.query_params)
    assert params == {"dataset": "demo", "image": query, "k": "5", "metric": "cosine"}  # image implies the source
    again = opened_at(PAGE, params, 60)
    assert _distance_table(again).equals(_distance_table(at))
    assert [i.captions for i in again.image] == [i.captions for i in at.image]
    assert len(_distance_table(again)) == ds.n_images - 1  # every other image, by distance
    # The attribute tab.
    params = {"dataset": "demo", "tab": "attributes", "has": "Male,Eyeglasses", "n": "4"}
    attrs = opened_at(PAGE, params, 60)
    assert attrs.multiselect(key="fs-attr-present").value == ["Male", "Eyeglasses"]
    assert len(_distance_table(attrs)) == 4
    assert dict(attrs.query_params) == params


def _search_dataset_image(params: dict) -> AppTest:
    return opened_at(PAGE, params, 60)


def test_same_person_distance_is_calibrated_on_the_datasets_identities(page_home):
    """Embeddings that separate identities: the page reports the calibrated cut with its precision and counts faces
    below it."""
    from core.faces.calibration import calibrate

    ds = open_dataset(page_home / "data" / "demo", name="demo")
    identity = ds.table["identity"].to_numpy()
    rng = np.random.default_rng(1)
    centres = {who: rng.normal(size=16) for who in set(identity)}
    vectors = np.stack([centres[w] + rng.normal(scale=0.05, size=16) for w in identity]).astype(np.float32)
    save_embeddings(ds, "buffalo", vectors, np.ones(ds.n_images, bool))
    cut = calibrate(vectors, identity, np.ones(ds.n_images, bool)).same_person
    assert cut is not None and cut.precision >= 0.95
    query = ds.table["image_id"][2]
    at = _search_dataset_image({"dataset": "demo", "image": query})
    assert any(
        c.value.startswith(f"Same-person distance {cut.threshold:.3f}, measured on demo's own identities")
        and f"{cut.precision:.1%} of the faces closer than that to a query are the same person" in c.value
        for c in at.caption
    )
    distances = np.round(np.sqrt(((vectors.astype(np.float64) - vectors[2]) ** 2).sum(axis=1)), 3)
    closer = int((np.delete(distances, 2) < cut.threshold).sum())
    assert any(
        m.value
        == f"**{closer:,} of {ds.n_images - 1:,}** faces are closer than {cut.threshold:.3f}: probably the same "
        f"person (measured on demo's own identities, {cut.precision:.1%} of the faces this close are that person)."
        for m in at.markdown
    )


def test_no_same_person_claim_where_the_calibration_does_not_support_it(csv_embeddings_home):
    """Random vectors (and the demo's drawn faces when they cannot be told apart): no 'same person' at all."""
    _, ds = csv_embeddings_home
    at = _search_dataset_image({"dataset": "demo", "image": ds.table["image_id"][1]})
    assert any(c.value.startswith("No face is called the same person here") for c in at.caption)
    assert not any("closer than" in m.value for m in at.markdown)


@pytest.fixture
def embedded_page_home(embedded_demo_home, tmp_path, monkeypatch):
    """A copy of the session's 400-image demo with its real dlib embeddings, as the page's home."""
    copy_home(embedded_demo_home, tmp_path, ("demo",))
    _use_home(monkeypatch, tmp_path)
    yield tmp_path
    cached.dataset_refs.clear()


@pytest.mark.slow
def test_the_demo_says_same_person_only_at_a_measured_precision_and_knows_its_own_image(embedded_page_home):
    """A demo image: the count sentence gives the calibrated cut and its precision. The same image uploaded: it is
    recognised as that image (not 'a photo you bring is none of them') and searched as it."""
    from core.faces.calibration import calibrate_embeddings

    ds = open_dataset(embedded_page_home / "data" / "demo", name="demo")
    emb = load_embeddings(ds, "dlib")
    cut = calibrate_embeddings(ds, emb).same_person
    assert cut is not None and cut.precision >= 0.95
    vectors = np.asarray(emb.vectors, np.float64)
    closer = (np.round(cdist(vectors, vectors), 3) < cut.threshold).sum(axis=1) - 1  # itself left out
    row = int(np.argmax(np.where(emb.has_face, closer, -1)))  # a face with others of its person that close
    query = ds.table["image_id"][row]
    at = _search_dataset_image({"dataset": "demo", "image": query})
    sentence = next(m.value for m in at.markdown if "faces are closer than" in m.value)
    assert sentence.startswith(f"**{closer[row]:,} of {emb.n_valid - 1:,}** faces are closer than {cut.threshold:.3f}")
    assert "probably the same person" in sentence
    assert f"{cut.precision:.1%} of the faces this close are that person" in sentence
    upload = AppTest.from_file(PAGE, default_timeout=120)
    upload.query_params["dataset"] = "demo"
    upload.run()
    upload.file_uploader(key="fs-upload").set_value((query, ds.image_path(query).read_bytes(), "image/jpeg")).run()
    assert not upload.exception, upload.exception
    assert any(i.value.startswith(f"Your photo is {query} of demo") for i in upload.info)
    said = " ".join(c.value for c in upload.caption)
    assert "none of them" not in said and "Same-person distance" in said
    first = upload.image[1].captions[0] if len(upload.image) > 1 else ""  # [0] is the photo with its boxes
    assert first.startswith("0.000") and first.endswith("same person"), first
