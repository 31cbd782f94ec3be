"""Try it on a photo: the domain check (a real face against the drawn demo) and what the page says about it.

On a copy of the session's 400-image demo with its real dlib embeddings (conftest's embedded_demo_home) and a
logistic regression trained on them; real photos from ../shared/real/celeba_wild_sample (skipped without it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from core import cached
from core.charts.classify import ROW_STEP
from core.classify.models import TrainConfig
from core.classify.train import train_attribute_model
from core.classify.tryit import face_domain, familiarity
from core.data.embeddings import load_embeddings
from core.data.images import open_rgb
from core.data.ingest import open_dataset
from core.faces.search import faces_in_image
from tests.support import PROJECT, WILD_SAMPLE, copy_home, home_environment, needs

pytestmark = pytest.mark.slow

PAGE = str(PROJECT / "pages" / "3_Attribute_classifiers.py")
REAL_PHOTOS = ("000277.jpg", "000833.jpg", "001651.jpg", "002045.jpg", "002184.jpg")


@pytest.fixture(scope="module")
def tryit_home(embedded_demo_home, tmp_path_factory):
    """The embedded demo with a logistic regression on its face descriptors: (home, dataset, model meta)."""
    home = copy_home(embedded_demo_home, tmp_path_factory.mktemp("tryit-home"), ("demo",))
    with home_environment(home):
        cached.dataset_refs.clear()
        ds = open_dataset(home / "data" / "demo", name="demo")
        meta = train_attribute_model(ds, TrainConfig(model="logreg", attributes=("Male", "Smiling", "Eyeglasses")))
        yield home, ds, meta
        cached.dataset_refs.clear()


def _descriptor(path: Path) -> np.ndarray:
    return faces_in_image(open_rgb(path.read_bytes())).vectors[0]


@needs(WILD_SAMPLE)
def test_real_faces_are_unlike_the_drawn_demo_and_new_drawn_people_are_not(tryit_home):
    """One person left out of the domain is still a drawn face like the others; a real photo is not.

    'Like' means no farther from the dataset than 99 % of its own faces are from a stranger, so a new person may
    have an odd face beyond it (this person's farthest: 0.480 against 0.472); real photos lie beyond 0.55."""
    _, ds, _ = tryit_home
    emb = load_embeddings(ds, "dlib")
    identity = ds.table["identity"].to_numpy()
    left_out = np.asarray(identity == identity[0]) & emb.has_face
    domain = face_domain(emb.vectors, emb.has_face & ~left_out, identity)
    new_person = [familiarity(domain, v) for v in np.asarray(emb.vectors)[left_out]]
    share = np.mean([f.familiar for f in new_person])
    assert len(new_person) >= 5 and share >= 0.8, [f.distance for f in new_person]
    real = [familiarity(domain, _descriptor(WILD_SAMPLE / name)) for name in REAL_PHOTOS]
    assert not any(f.familiar for f in real), [(f.distance, f.usual) for f in real]


def _chart_frames(at):
    frames = []
    for chart in at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart"):
        sources = [chart.proto.data.data] + [named.data.data for named in chart.proto.datasets]
        frames += [convert_arrow_bytes_to_pandas_df(data) for data in sources if data]
    return frames


def _upload(home: Path, model_id: str, name: str, data: bytes, monkeypatch) -> AppTest:
    monkeypatch.setenv("FACEATLAS_HOME", str(home))
    monkeypatch.setenv("FACEATLAS_CACHE", str(home / "cache"))
    cached.dataset_refs.clear()
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update({"dataset": "demo", "model": model_id})
    at.run()
    at.file_uploader(key="clf-photo").set_value((name, data, "image/jpeg")).run()
    assert not at.exception, at.exception
    return at


def _bars(at):
    """The try-it chart's data, after checking that it gives every attribute a row of its own (a step, not a fixed
    height that Streamlit squeezes until the axis drops names)."""
    charts = at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart")
    specs = [json.loads(c.proto.spec) for c in charts]
    spec = next(sp for sp in specs if "probability" in json.dumps(sp.get("layer", [])))
    assert spec["height"] == {"step": ROW_STEP}
    return next(f for f in _chart_frames(at) if {"attribute", "probability", "answer"} <= set(f.columns))


@needs(WILD_SAMPLE)
def test_a_real_photo_is_shown_as_unsure_and_a_drawn_face_is_answered(tryit_home, monkeypatch):
    home, ds, meta = tryit_home
    real = _upload(home, meta.model_id, "boy.jpg", (WILD_SAMPLE / REAL_PHOTOS[0]).read_bytes(), monkeypatch)
    warning = next(w.value for w in real.warning if "unlike the faces the model learnt from" in w.value)
    assert "has never seen a real face" in warning and "shown as 'unsure'" in warning
    bars = _bars(real)
    assert set(bars["attribute"]) == set(meta.attributes) and set(bars["answer"]) == {"unsure"}
    assert any(c.value.startswith("The model is unsure here") for c in real.caption)
    assert not any(c.value.startswith("The model answers yes for") for c in real.caption)
    drawn = ds.image_path(ds.table["image_id"][5]).read_bytes()
    demo = _upload(home, meta.model_id, "drawn.jpg", drawn, monkeypatch)
    assert not any("unlike the faces" in w.value for w in demo.warning)
    assert any(c.value.startswith("This face is like the faces the model learnt from") for c in demo.caption)
    bars = _bars(demo)
    yes = [a for a, p, t in zip(bars["attribute"], bars["probability"], bars["threshold"]) if p >= t]
    assert list(bars["answer"]) == ["yes" if a in yes else "no" for a in bars["attribute"]]
    said = f"The model answers yes for {', '.join(yes) if yes else 'none of the attributes'}."
    assert any(c.value.startswith(said) for c in demo.caption)
