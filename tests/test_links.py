"""Shared links: choices set on a page go into the URL, and the URL opened in a fresh session shows the same view.

Home, Dataset and Attribute relations here; the Classifiers, Clustering and Face search round trips sit beside
their pages' fixtures (test_classify_page.py, test_clustering_page.py, test_face_search_page.py).
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.support import PROJECT
from ui import links

DATASET = str(PROJECT / "pages" / "1_Dataset.py")
RELATIONS = str(PROJECT / "pages" / "2_Attribute_relations.py")


def open_page(path: str, params: dict) -> AppTest:
    """A fresh session (what a new tab is) opened on `params`."""
    at = AppTest.from_file(path, default_timeout=90)
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> dict:
    """Everything the page prints as numbers or sentences: metrics, captions, markdown, subheaders."""
    return {
        "metrics": [(m.label, m.value) for m in at.metric],
        "captions": [c.value for c in at.caption],
        "markdown": [m.value for m in at.markdown],
        "subheaders": [s.value for s in at.subheader],
    }


def link_shown(at: AppTest) -> str:
    """The link in the 'Copy link to this view' control."""
    return next(c.value for c in at.code if "dataset=" in c.value)


def test_where_round_trips():
    assert links.parse_where("Male:1,Smiling:0") == (("Male", 1), ("Smiling", 0))
    assert links.where_text(links.parse_where("Bald:1")) == "Bald:1"
    for bad in ("Male", "Male:2", ":1", "Male:yes"):
        with pytest.raises(ValueError):
            links.parse_where(bad)


def test_dataset_page_view_round_trips(demo_home, demo_dataset):
    at = open_page(DATASET, {"dataset": "demo"})
    assert dict(at.query_params) == {"dataset": "demo"}  # defaults stay out of the URL
    identity = demo_dataset.table["identity"][7]
    at.radio(key="prev-split").set_value("an attribute").run()
    at.selectbox(key="prev-split-attr").select("Smiling").run()
    at.multiselect(key="donut-attrs").set_value(["Bald", "Young"]).run()
    at.selectbox(key="identity").select(identity).run()
    at.multiselect(key="gallery-attrs").set_value(["Male"]).run()
    at.radio(key="gallery-Male").set_value("absent").run()
    at.selectbox(key="gallery-partition").select("train").run()
    at.number_input(key="gallery-page").set_value(2).run()
    assert not at.exception, at.exception
    params = dict(at.query_params)
    assert params == {
        "dataset": "demo",
        "split": "Smiling",
        "donuts": "Bald,Young",
        "identity": identity,
        "where": "Male:0",
        "part": "train",
        "page": "2",
    }
    assert link_shown(at).endswith("?" + "&".join(f"{k}={v}" for k, v in params.items()))
    again = open_page(DATASET, params)
    assert dict(again.query_params) == params
    assert shown(again) == shown(at)
    assert [i.captions for i in again.image] == [i.captions for i in at.image]
    assert again.radio(key="gallery-Male").value == "absent"


def test_dataset_page_ignores_what_the_data_cannot_show(demo_home):
    at = open_page(DATASET, {"dataset": "demo", "donuts": "Bald,Not_An_Attribute", "page": "9999", "where": "Male:7"})
    assert at.multiselect(key="donut-attrs").value == ["Male", "Smiling", "Eyeglasses"]  # default: one was unknown
    assert at.number_input(key="gallery-page").value == 1
    assert at.multiselect(key="gallery-attrs").value == []


def test_relations_view_round_trips(demo_home, demo_dataset):
    at = open_page(RELATIONS, {"dataset": "demo"})
    at.multiselect(key="rel-attrs").set_value(["Young"]).run()
    at.radio(key="rel-Young").set_value("present").run()
    at.segmented_control(key="measure").set_value("lift").run()
    at.toggle(key="rel-cluster").set_value(False).run()
    at.selectbox(key="pair_a").select("Smiling").run()
    at.selectbox(key="pair_b").select("Mouth_Slightly_Open").run()
    at.selectbox(key="model-target").select("Eyeglasses").run()
    at.button(key="model-all").click().run()
    assert not at.exception, at.exception
    params = dict(at.query_params)
    assert params == {
        "dataset": "demo",
        "where": "Young:1",
        "measure": "lift",
        "sort": "0",
        "pair_a": "Smiling",
        "pair_b": "Mouth_Slightly_Open",
        "target": "Eyeglasses",
        "all": "1",
    }
    again = open_page(RELATIONS, params)
    assert shown(again) == shown(at)
    young = demo_dataset.table.filter(demo_dataset.table["Young"] == 1)
    assert ("Images in the subset", f"{young.height:,}") in shown(again)["metrics"]
    assert [d.value.to_dict() for d in again.dataframe] == [d.value.to_dict() for d in at.dataframe]


def test_home_link_names_the_dataset(demo_home):
    at = open_page(str(PROJECT / "Home.py"), {"dataset": "annotations_only"})
    assert at.selectbox(key="dataset_picker").value == "annotations_only"
    assert link_shown(at).endswith("?dataset=annotations_only")
