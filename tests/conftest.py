"""Shared fixtures: an isolated FaceAtlas home (data/ + cache/) holding a small generated demo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core import cached
from core.data.ingest import open_dataset
from core.demo import generate_demo

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
REAL_ANNOTATIONS = SHARED / "real" / "celeba_annotations"
WILD_SAMPLE = SHARED / "real" / "celeba_wild_sample"
REFERENCE = SHARED / "reference"
SMALL_DEMO_IMAGES = 400

# The suite's pages never start the demo's embedding job by themselves (tests/test_first_start.py turns it
# on), and a demo drawn by a page on an empty home is small.
os.environ["FACEATLAS_AUTO_EMBED"] = "0"
os.environ["FACEATLAS_DEMO_IMAGES"] = "60"

# Fixtures of the classifier tests (a trained logistic regression and CNN), shared by several modules.
pytest_plugins = ["tests.classify_fixtures"]


@pytest.fixture(scope="session", autouse=True)
def session_home(tmp_path_factory) -> Path:
    """The session's FaceAtlas home, set in the environment before any test (tests never touch the project's data/).

    Set here rather than when the demo is first drawn: a test's monkeypatch.setenv that ran before would
    otherwise "restore" these variables to unset when it ends.
    """
    home = tmp_path_factory.mktemp("home")
    os.environ["FACEATLAS_HOME"] = str(home)
    os.environ["FACEATLAS_CACHE"] = str(home / "cache")
    os.environ.pop("FACEATLAS_DATA", None)
    return home


@pytest.fixture(scope="session")
def demo_home(session_home) -> Path:
    """The session home with data/demo (a small demo) and an annotations-only copy of it."""
    home = session_home
    generate_demo(home / "data" / "demo", n_images=SMALL_DEMO_IMAGES, seed=1)
    # The same annotations without images: pages must work on annotation-only datasets.
    shutil.copytree(home / "data" / "demo" / "Anno", home / "data" / "annotations_only" / "Anno")
    return home


@pytest.fixture(scope="session")
def demo_dataset(demo_home):
    return open_dataset(demo_home / "data" / "demo", name="demo")


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FACEATLAS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def needs(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not present (../shared absent)")


@pytest.fixture
def people_home(demo_home, tmp_path, monkeypatch):
    """An LFW-style home (one folder per person, no attributes), isolated from the shared demo home."""
    import shutil

    images = sorted((demo_home / "data" / "demo" / "Img" / "img_align_celeba").glob("*.jpg"))[:6]
    for k, image in enumerate(images):
        person = tmp_path / "data" / "people" / f"Person_{k % 2}"
        person.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, person / f"Person_{k % 2}_{k:04d}.jpg")
    monkeypatch.setenv("FACEATLAS_HOME", str(tmp_path))
    monkeypatch.setenv("FACEATLAS_CACHE", str(tmp_path / "cache"))
    shutil.copytree(demo_home / "data" / "demo", tmp_path / "data" / "demo")  # the picker draws one otherwise
    cached.dataset_refs.clear()
    yield tmp_path
    cached.dataset_refs.clear()
