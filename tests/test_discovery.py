"""Finding datasets: an LFW folder is found however many empty folders sort before its people, and a link whose
`dataset=` names nothing here says so instead of opening another dataset without a word."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import cached
from core.data.ingest import discover, open_dataset
from core.data.loaders import detect_layout
from tests.support import PROJECT, home_environment, jpeg_bytes, opened_at

HOME = str(PROJECT / "Home.py")
EMPTY_FOLDERS = 10_000


def write_lfw_behind_empty_folders(root: Path) -> Path:
    """An LFW layout whose two people sort after EMPTY_FOLDERS empty folders (a half-copied or pruned LFW)."""
    for k in range(EMPTY_FOLDERS):
        (root / f"Aaron_{k:05d}").mkdir(parents=True)
    for person, n in (("Zoe_Ball", 2), ("Zyed_Ali", 1)):
        (root / person).mkdir()
        for k in range(n):
            (root / person / f"{person}_{k + 1:04d}.jpg").write_bytes(jpeg_bytes())
    return root


@pytest.fixture(scope="module")
def lfw_home(demo_home, tmp_path_factory) -> Path:
    """A home holding the test demo and `lfw`: 10,000 empty folders, then two people (built once: seconds)."""
    home = tmp_path_factory.mktemp("lfw-home")
    write_lfw_behind_empty_folders(home / "data" / "lfw")
    shutil.copytree(demo_home / "data" / "demo", home / "data" / "demo")  # the picker draws one otherwise
    with home_environment(home):
        yield home


@pytest.fixture(autouse=True)
def fresh_listing():
    """Each test lists the folders as they are now (the app re-lists every 20 s)."""
    cached.dataset_refs.clear()
    yield
    cached.dataset_refs.clear()


def test_lfw_is_found_behind_ten_thousand_empty_folders(lfw_home):
    root = lfw_home / "data" / "lfw"
    assert detect_layout(root) == "lfw"
    assert "lfw" in [ref.name for ref in discover()]
    ds = open_dataset(root)
    assert ds.n_images == 3 and ds.n_identities == 2
    assert sorted(ds.table["image_id"].to_list()) == [
        "Zoe_Ball/Zoe_Ball_0001.jpg",
        "Zoe_Ball/Zoe_Ball_0002.jpg",
        "Zyed_Ali/Zyed_Ali_0001.jpg",
    ]


def test_a_folder_of_empty_folders_is_no_dataset(tmp_path):
    for k in range(60):
        (tmp_path / "lfw" / f"Person_{k:02d}").mkdir(parents=True)
    assert detect_layout(tmp_path / "lfw") is None


def open_home(params: dict) -> AppTest:
    return opened_at(HOME, params, 90)


def test_a_link_to_the_lfw_folder_opens_it(lfw_home):
    at = open_home({"dataset": "lfw"})
    assert at.selectbox(key="dataset_picker").value == "lfw"
    assert [h.value for h in at.header] == ["lfw"]
    assert next(m.value for m in at.metric if m.label == "Identities") == "2"
    assert not at.warning


def test_a_link_to_a_dataset_that_is_not_here_says_so(lfw_home):
    at = open_home({"dataset": "celeba"})
    warnings = [w.value for w in at.warning]
    assert any("There is no dataset called `celeba` on this server" in w for w in warnings), warnings
    assert any("demo is shown instead" in w and "demo, lfw" in w for w in warnings), warnings
    assert at.selectbox(key="dataset_picker").value == "demo"


def test_a_link_to_a_folder_without_a_dataset_says_what_it_lacks(lfw_home):
    (lfw_home / "data" / "notes").mkdir()
    (lfw_home / "data" / "notes" / "readme.txt").write_text("not a dataset")
    at = open_home({"dataset": "notes"})
    warnings = [w.value for w in at.warning]
    assert any("`notes` is a folder under data/, but FaceAtlas found no dataset in it" in w for w in warnings), warnings


def test_a_hostile_dataset_name_is_shown_as_text(lfw_home):
    at = open_home({"dataset": "![x](http://example.com/x.png)`\nnext"})
    warnings = [w.value for w in at.warning]
    assert warnings and all("http://example.com" not in w.split("`")[0] for w in warnings), warnings
    assert any("`![x](http://example.com/x.png) next`" in w for w in warnings), warnings
