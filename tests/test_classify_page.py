"""AppTests of the Attribute classifiers page: train via the job, threshold -> confusion matrix, subgroups, photo."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from core.classify.metrics import confusion_counts, subgroup_metrics
from core.classify.models import TrainConfig
from core.classify.store import load_test_predictions
from core.classify.train import train_attribute_model
from core.jobs import job_status
from tests.support import PROJECT, opened_at

PAGE = str(PROJECT / "pages" / "3_Attribute_classifiers.py")


def _metric(at, label):
    return next(m for m in at.metric if m.label == label).value


def _page(model_id: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, at.exception
    at.selectbox(key="clf-model-pick").select(model_id).run()
    assert not at.exception, at.exception
    return at


def test_threshold_moves_the_confusion_matrix(clf_env, logreg_model):
    at = _page(logreg_model.model_id)
    # Attributes with fewer than 10 test images of either answer are left out of the means, with a warning.
    labels = load_test_predictions(logreg_model.model_id)["labels"]
    yes = labels.sum(axis=0)
    scored = [a for j, a in enumerate(logreg_model.attributes) if min(yes[j], len(labels) - yes[j]) >= 10]
    assert 0 < len(scored) < len(logreg_model.attributes)  # the small demo's test split has no blond hair
    for name, key in (("Mean accuracy", "accuracy"), ("Mean majority-class accuracy", "majority_accuracy")):
        want = np.mean([logreg_model.metrics[a][key] for a in scored])
        assert _metric(at, name) == f"{100 * want:.1f}%"
    left_out = set(logreg_model.attributes) - set(scored)
    assert any(w.value.startswith("**Too few images to score " + ", ".join(left_out)) for w in at.warning)
    at.selectbox(key="clf-thr-attr").select("Smiling").run()
    preds = load_test_predictions(logreg_model.model_id)
    j = logreg_model.attributes.index("Smiling")
    for threshold in (0.5, 0.2, 0.85):
        at.slider(key="clf-threshold").set_value(threshold).run()
        assert not at.exception, at.exception
        expected = confusion_counts(preds["labels"][:, j], preds["probs"][:, j], threshold)
        shown = {
            k: int(_metric(at, label).replace(",", ""))
            for k, label in (
                ("tp", "True positives"),
                ("fp", "False positives"),
                ("fn", "False negatives"),
                ("tn", "True negatives"),
            )
        }
        assert shown == expected, (threshold, shown, expected)
    # A lower threshold never predicts fewer positives.
    at.slider(key="clf-threshold").set_value(0.05).run()
    assert int(_metric(at, "True positives")) + int(_metric(at, "False positives")) >= expected["tp"] + expected["fp"]


def test_subgroup_gap_is_shown(clf_env, logreg_model):
    at = _page(logreg_model.model_id)
    at.selectbox(key="clf-thr-attr").select("Male").run()
    at.selectbox(key="clf-group-by").select("Young").run()
    preds = load_test_predictions(logreg_model.model_id)
    groups = clf_env.attribute_matrix(preds["rows"])[:, clf_env.attributes.index("Young")]
    j = logreg_model.attributes.index("Male")
    table = subgroup_metrics(preds["labels"][:, j], preds["probs"][:, j], groups, ("not Young", "Young"))
    gap = table.filter(table["group"] == "gap")["accuracy"][0]
    assert _metric(at, "Accuracy gap for Male between Young and not Young") == f"{100 * gap:.1f}%"


@pytest.mark.slow
def _train(at: AppTest, button: str) -> str:
    """Click a Train button, wait for its job (this session's), rerun the page as the job's panel does: the model id."""
    at.button(key=button).click().run()
    assert not at.exception, at.exception
    job_id = at.session_state["clf-job"]
    deadline = time.time() + 240
    while not job_status(job_id).finished and time.time() < deadline:
        time.sleep(1)
    status = job_status(job_id)
    assert status.state == "done", status
    at.run()
    assert not at.exception, at.exception
    return status.result["model_id"]


def test_train_button_runs_a_job_and_shows_the_new_model(clf_env):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio(key="clf-features").set_value("embeddings").run()
    at.selectbox(key="clf-model").select("logreg").run()
    at.multiselect(key="clf-attributes").set_value(["Male", "Eyeglasses"]).run()
    model_id = _train(at, "clf-train")
    assert at.selectbox(key="clf-model-pick").value == model_id
    shown = next(d.value for d in at.dataframe if "majority_accuracy" in d.value.columns)
    assert list(shown["attribute"]) == ["Male", "Eyeglasses"]
    # Trained again with the same choices (the same job, run anew): the new model is listed and shown at once.
    again = _train(at, "clf-train")
    assert again != model_id
    assert at.selectbox(key="clf-model-pick").value == again
    listed = at.selectbox(key="clf-model-pick").options
    assert all(any(m in label for label in listed) for m in (model_id, again)), listed


def _chart_frames(at) -> list[pd.DataFrame]:
    """The data of every Altair chart the page drew, as the browser receives it."""
    frames = []
    for chart in at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart"):
        sources = [chart.proto.data.data] + [named.data.data for named in chart.proto.datasets]
        frames += [convert_arrow_bytes_to_pandas_df(data) for data in sources if data]
    return frames


def test_photo_upload_shows_probabilities(clf_env, cnn_model):
    at = _page(cnn_model.model_id)
    image = clf_env.image_path(clf_env.table["image_id"][3]).read_bytes()
    at.file_uploader(key="clf-photo").set_value(("face.jpg", image, "image/jpeg")).run()
    assert not at.exception, at.exception
    bars = next(f for f in _chart_frames(at) if {"attribute", "probability", "threshold"} <= set(f.columns))
    probs = dict(zip(bars["attribute"], bars["probability"]))
    assert set(probs) == {"Male", "Heavy_Makeup"} and 0.0 <= probs["Male"] <= 1.0
    # The session's stand-in 'dlib' embeddings are not descriptors of these faces, so a real descriptor of one is
    # like none of them: the answers are shown as unsure (tests/test_tryit.py checks both cases on real ones).
    assert any("unlike the faces the model learnt from" in w.value for w in at.warning)
    assert set(bars["answer"]) == {"unsure"}
    assert any(c.value.startswith("The model is unsure here") for c in at.caption)
    at.file_uploader(key="clf-photo").set_value(("bad.jpg", b"no image here", "image/jpeg")).run()
    assert any("not an image" in e.value for e in at.error)


def test_embeddings_missing_says_what_to_do(demo_home):
    import os

    import streamlit as st

    old = os.environ["FACEATLAS_CACHE"]
    os.environ["FACEATLAS_CACHE"] = str(demo_home / "cache-empty")
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = AppTest.from_file(PAGE, default_timeout=120).run()
        at.radio(key="clf-features").set_value("embeddings").run()
        assert any("no face embeddings" in i.value for i in at.info)
        assert any("No trained model" in i.value for i in at.info)
        assert not at.exception
    finally:
        os.environ["FACEATLAS_CACHE"] = old
        st.cache_resource.clear()
        st.cache_data.clear()


def _lesson_open(at: AppTest) -> bool:
    return next(e for e in at.expander if e.label.startswith("Lesson: why accuracy")).proto.expanded


def test_lesson_puts_mse_and_bce_side_by_side(clf_env):
    attrs = ("Male", "Eyeglasses")
    bce = train_attribute_model(clf_env, TrainConfig(model="mlp", attributes=attrs, epochs=4, loss="bce"))
    mse = train_attribute_model(clf_env, TrainConfig(model="mlp", attributes=attrs, epochs=4, loss="mse"))
    at = _page(bce.model_id)
    at.selectbox(key="clf-lesson-other").select(mse.model_id).run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "accuracy · mse" in d.value.columns)
    row = table.set_index("attribute").loc["Eyeglasses"]
    assert row["accuracy · bce"] == bce.metrics["Eyeglasses"]["accuracy"]
    assert row["predicted positive rate · mse"] == mse.metrics["Eyeglasses"]["predicted_positive_rate"]
    assert row["majority accuracy"] == bce.metrics["Eyeglasses"]["majority_accuracy"]


def test_the_lessons_train_button_keeps_it_open_and_compares_the_new_model(clf_env):
    """Open from its link (why=1), the loss lesson trains the same model with MSE: it stays open while the job runs
    and when the new model is picked, and compares that model with the one it came from."""
    bce = train_attribute_model(clf_env, TrainConfig(model="mlp", attributes=("Male", "Smiling"), epochs=3))
    at = opened_at(PAGE, {"model": bce.model_id, "why": "1"})
    assert _lesson_open(at)
    trained = _train(at, "clf-lesson-train")
    assert at.selectbox(key="clf-model-pick").value == trained
    assert _lesson_open(at) and at.query_params["why"] in ("1", ["1"])
    assert at.selectbox(key="clf-lesson-other").value == bce.model_id
    table = next(d.value for d in at.dataframe if "accuracy · bce" in d.value.columns)
    assert "accuracy · mse" in table.columns and list(table["attribute"]) == ["Male", "Smiling"]


def test_view_round_trips_through_the_url(clf_env, logreg_model):
    """Model, attribute, threshold, subgroup and the training form go into the URL and come back from it."""
    at = _page(logreg_model.model_id)
    at.selectbox(key="clf-thr-attr").select("Smiling").run()
    assert at.slider(key="clf-threshold").value == round(logreg_model.threshold("Smiling"), 2)  # the model's own
    at.slider(key="clf-threshold").set_value(0.3).run()
    at.selectbox(key="clf-group-by").select("Eyeglasses").run()
    at.selectbox(key="clf-model").select("mlp").run()
    at.selectbox(key="clf-loss").select("mse").run()
    at.number_input(key="clf-epochs").set_value(3).run()
    at.multiselect(key="clf-attributes").set_value(["Bald", "Male"]).run()
    assert not at.exception, at.exception
    params = dict(at.query_params)
    assert params == {
        "dataset": "demo",
        "kind": "mlp",
        "attrs": "Bald,Male",
        "loss": "mse",
        "epochs": "3",
        "model": logreg_model.model_id,
        "attr": "Smiling",
        "thr": "0.3",
        "by": "Eyeglasses",
    }
    again = opened_at(PAGE, params)
    assert dict(again.query_params) == params
    assert again.slider(key="clf-threshold").value == 0.3
    assert [(m.label, m.value) for m in again.metric] == [(m.label, m.value) for m in at.metric]
    assert again.multiselect(key="clf-attributes").value == ["Bald", "Male"]
    # Another attribute opens at that attribute's own threshold, and thr leaves the URL.
    again.selectbox(key="clf-thr-attr").select("Male").run()
    assert again.slider(key="clf-threshold").value == round(logreg_model.threshold("Male"), 2)
    assert "thr" not in again.query_params


def test_attributes_the_test_split_cannot_score_are_not_offered_by_default(clf_env):
    # Counted another way: the demo's own partition column.
    test = clf_env.table["partition"].to_numpy() == "test"
    labels = clf_env.attribute_matrix()[test]
    unscorable = [a for j, a in enumerate(clf_env.attributes) if labels[:, j].min() == labels[:, j].max()]
    assert unscorable, "the small demo's test split should lack some attribute"
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, at.exception
    chosen = at.multiselect(key="clf-attributes").value
    assert chosen and not set(chosen) & set(unscorable)
    assert not any("cannot be measured" in w.value for w in at.warning)
    at.multiselect(key="clf-attributes").set_value([*chosen, unscorable[0]]).run()
    warning = next(w.value for w in at.warning if "cannot be measured" in w.value)
    assert unscorable[0] in warning


def test_a_dataset_without_attributes_says_so_instead_of_asking_for_one(people_home):
    """A folder of people has no attribute labels: the page says there is nothing to train, never 'Choose at least
    one attribute'."""
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["dataset"] = "people"
    at.run()
    assert not at.exception, at.exception
    shown = [i.value for i in at.info]
    assert any("people has no attribute labels" in text for text in shown), shown
    assert not any("Choose at least one attribute" in text for text in shown)
