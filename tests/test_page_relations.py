"""AppTests of the Attribute-relations page: shown figures match direct computations on the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.support import PROJECT

PAGE = str(PROJECT / "pages" / "2_Attribute_relations.py")


def _page(dataset: str = "demo", **params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["dataset"] = dataset
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def _model_table(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "top_predictors" in d.value.columns)


@pytest.fixture
def frame(demo_dataset) -> pd.DataFrame:
    return demo_dataset.table.to_pandas()


def _p(df: pd.DataFrame, a: str, b: str) -> str:
    return f"{df[df[b] == 1][a].mean():.3f}"


def test_default_pair_and_changed_pair(demo_home, frame):
    at = _page()
    assert _metric(at, "Images in the subset") == f"{len(frame):,}"
    assert _metric(at, "P(Male | Goatee)") == _p(frame, "Male", "Goatee")
    at.selectbox(key="pair_a").select("Smiling").run()
    at.selectbox(key="pair_b").select("Young").run()
    assert not at.exception, at.exception
    assert _metric(at, "P(Smiling | Young)") == _p(frame, "Smiling", "Young")
    assert _metric(at, "P(Smiling | not Young)") == f"{frame[frame['Young'] == 0]['Smiling'].mean():.3f}"
    assert _metric(at, "P(Young | Smiling)") == _p(frame, "Young", "Smiling")
    assert _metric(at, "phi") == f"{frame['Smiling'].astype(float).corr(frame['Young'].astype(float)):.3f}"
    both = int(((frame["Smiling"] == 1) & (frame["Young"] == 1)).sum())
    assert any(c.value.startswith(f"{both:,} images have both") for c in at.caption)


def test_pair_from_url(demo_home, frame):
    at = _page(pair_a="Bald", pair_b="Eyeglasses")
    assert at.selectbox(key="pair_a").value == "Bald"
    assert _metric(at, "P(Bald | Eyeglasses)") == _p(frame, "Bald", "Eyeglasses")


def test_filter_recomputes_on_the_subset(demo_home, frame):
    at = _page()
    at.multiselect(key="rel-attrs").set_value(["Male"]).run()
    at.radio(key="rel-Male").set_value("absent").run()
    assert not at.exception, at.exception
    women = frame[frame["Male"] == 0]
    assert _metric(at, "Images in the subset") == f"{len(women):,}"
    at.selectbox(key="pair_a").select("Wearing_Lipstick").run()
    at.selectbox(key="pair_b").select("Heavy_Makeup").run()
    assert _metric(at, "P(Wearing_Lipstick | Heavy_Makeup)") == _p(women, "Wearing_Lipstick", "Heavy_Makeup")
    at.selectbox(key="pair_a").select("Male").run()  # constant in this subset: phi undefined, said so
    assert _metric(at, "phi") == "undefined"
    assert any("denominator is zero" in c.value for c in at.caption)


def test_zero_row_subset_gives_a_message(demo_home, frame):
    attributes = ["Male", "Smiling", "Eyeglasses", "Bald", "Young", "Goatee", "Wearing_Hat", "Blond_Hair"]
    mask = np.ones(len(frame), bool)
    chosen = []
    for attribute in attributes:  # add "present" conditions until nothing matches
        chosen.append(attribute)
        mask &= frame[attribute].to_numpy() == 1
        if not mask.any():
            break
    assert not mask.any()
    at = _page()
    at.multiselect(key="rel-attrs").set_value(chosen).run()
    for attribute in chosen:
        at.radio(key=f"rel-{attribute}").set_value("present").run()
    assert not at.exception, at.exception
    assert _metric(at, "Images in the subset") == "0"
    assert any("No images match" in w.value for w in at.warning)


def test_measure_and_clustering_toggles(demo_home):
    at = _page()
    at.toggle(key="rel-cluster").set_value(False).run()
    assert not at.exception
    at.button_group(key="measure").set_value("phi").run()
    assert not at.exception, at.exception
    at.button_group(key="measure").set_value("lift").run()
    assert not at.exception, at.exception


def test_models_one_and_all(demo_home, demo_dataset, frame):
    at = _page()
    at.selectbox(key="model-target").select("Smiling").run()
    assert not at.exception, at.exception
    train, test = frame[frame["partition"] == "train"], frame[frame["partition"] == "test"]
    majority = int(train["Smiling"].mean() >= 0.5)
    assert _metric(at, "majority-class accuracy") == f"{(test['Smiling'] == majority).mean():.3f}"
    assert 0 <= float(_metric(at, "accuracy")) <= 1
    assert any(f"{len(train):,} training images, {len(test):,} test images" in c.value for c in at.caption)
    at.button(key="model-all").click().run()
    assert not at.exception, at.exception
    table = _model_table(at)
    assert len(table) == len(demo_dataset.attributes)
    smiling = table[table["attribute"] == "Smiling"].iloc[0]
    assert f"{smiling['majority_accuracy']:.3f}" == _metric(at, "majority-class accuracy")
    at.selectbox(key="model-target").select("Young").run()  # the table stays after another rerun
    assert len(_model_table(at)) == len(demo_dataset.attributes)


def test_annotation_only_dataset_without_partition(demo_home):
    at = _page("annotations_only")
    assert any("seeded 20% test split by identity" in c.value for c in at.caption)
    assert any("Images are not available" in c.value for c in at.caption)


def test_dataset_without_attributes_says_so(people_home):
    at = _page("people")
    assert any("relations need at least two" in i.value for i in at.info)


def test_pair_shows_counts_intervals_and_expected(demo_home, frame):
    from core.stats.intervals import wilson_interval

    at = _page(pair_a="Male", pair_b="Goatee")
    n = len(frame)
    n_a, n_b = int(frame["Male"].sum()), int(frame["Goatee"].sum())
    both = int(((frame["Male"] == 1) & (frame["Goatee"] == 1)).sum())
    expected = n_a * n_b / n
    assert any(
        m.value.startswith(f"**{both:,} images have both; {expected:,.0f} would be expected if Male and Goatee")
        and f"{both / expected:.2f}×" in m.value
        for m in at.markdown
    )
    low, high = wilson_interval(both, n_b)
    assert f"{both:,} of {n_b:,} images ({100 * both / n_b:.1f}%; 95% interval {100 * low:.1f}–{100 * high:.1f}%)" in [
        c.value for c in at.caption
    ]
    women = n - n_b
    assert any(
        c.value.startswith(
            f"Among the {n_b:,} images labelled Goatee, {100 * both / n_b:.1f}% are labelled Male; among the other "
            f"{women:,}"
        )
        for c in at.caption
    )


def test_a_model_on_a_handful_of_images_warns_instead_of_scoring(demo_home, frame):
    """A filter that leaves a handful of images (the issue's Male + Wearing_Lipstick): a warning, no bare accuracy."""
    pairs = [("Male", "Wearing_Lipstick"), ("Male", "Eyeglasses"), ("Eyeglasses", "Smiling")]
    a, b = next(p for p in pairs if 5 <= ((frame[p[0]] == 1) & (frame[p[1]] == 1)).sum() < 50)
    few = frame[(frame[a] == 1) & (frame[b] == 1)]
    at = _page(where=f"{a}:1,{b}:1")
    assert _metric(at, "Images in the subset") == f"{len(few):,}"
    assert any("Too few images to judge this model" in w.value for w in at.warning)
    assert not [m for m in at.metric if m.label == "accuracy"]
    assert any("Grey columns" in c.value for c in at.caption)  # most conditions hold for < 30 of these images


def test_heatmap_frame_greys_small_conditions_and_keeps_never_together_strong():
    from core.stats.relations import heatmap_frame, relation_stats

    rng = np.random.default_rng(3)
    X = np.zeros((4000, 3), np.uint8)
    X[:2000, 0] = 1  # a: half the images
    X[2000:, 1] = 1  # b: the other half, never with a (lift 0 among 2,000 images)
    X[rng.choice(4000, 12, replace=False), 2] = 1  # c: only 12 images
    frame = heatmap_frame(relation_stats(X, ("a", "b", "c")), "lift").set_index(["A", "B"])
    assert frame.loc[("a", "b"), "value"] == 0
    assert frame.loc[("a", "b"), "strength"] < 0.01  # the strongest "never together", not blank
    assert frame.loc[("a", "c"), "few"] and not frame.loc[("a", "b"), "few"]
    assert frame.loc[("a", "c"), "n_b"] == 12
