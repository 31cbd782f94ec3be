"""AppTest of Home.py on a generated dataset: the overview shows the dataset's real numbers."""

from streamlit.testing.v1 import AppTest

from tests.support import PROJECT, SMALL_DEMO_IMAGES


def _metric(at, label):
    return next(m for m in at.metric if m.label == label).value


def test_home_overview_numbers(demo_home, demo_dataset):
    at = AppTest.from_file(str(PROJECT / "Home.py"), default_timeout=60).run()
    assert not at.exception
    assert at.selectbox(key="dataset_picker").value == "demo"
    assert _metric(at, "Images") == f"{SMALL_DEMO_IMAGES:,}"
    assert _metric(at, "Identities") == f"{demo_dataset.n_identities:,}"
    assert _metric(at, "Attributes") == "40"
    assert _metric(at, "Image files found") == f"{SMALL_DEMO_IMAGES:,}"
    assert any("Synthetic demo data" in i.value for i in at.info)
    parts = demo_dataset.partition_counts()
    assert any(f"train {parts['train']:,}" in c.value for c in at.caption)
    assert at.query_params["dataset"] in ("demo", ["demo"])


def test_home_follows_query_param_and_picker(demo_home, tmp_path):
    import shutil

    other = demo_home / "data" / "annotations_only"
    if not other.exists():
        shutil.copytree(demo_home / "data" / "demo" / "Anno", other / "Anno")
    at = AppTest.from_file(str(PROJECT / "Home.py"), default_timeout=60)
    at.query_params["dataset"] = "annotations_only"
    at.run()
    assert not at.exception, at.exception
    picker = at.selectbox(key="dataset_picker")
    assert picker.value == "annotations_only", (picker.options, at.session_state)
    assert not any("Synthetic demo data" in i.value for i in at.info)
    assert _metric(at, "Image files found") == "0"
    at.selectbox(key="dataset_picker").select("demo").run()
    assert _metric(at, "Image files found") == f"{SMALL_DEMO_IMAGES:,}"
    assert at.query_params["dataset"] in ("demo", ["demo"])
