"""Shared fixtures: an isolated FaceAtlas home (data/ + cache/) holding a small generated demo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core import cached
from core.data.ingest import open_dataset
from core.demo import generate_demo
from tests.browser_support import CHROMIUM, launch_chromium
from tests.support import (
    NUMBA_CACHE,
    SMALL_DEMO_IMAGES,
    WILD_HOME_IDENTITIES,
    WILD_SAMPLE,
    copy_home,
    home_environment,
    seed_face_weights,
    wild_identities,
)

# The suite's pages never start the demo's embedding job by themselves (tests/test_first_start.py turns it
# on), and a demo drawn by a page on an empty home is small.
os.environ["FACEATLAS_AUTO_EMBED"] = "0"
os.environ["FACEATLAS_DEMO_IMAGES"] = "60"
# Set before numba is first imported; every job and server the tests start inherits it.
os.environ.setdefault("NUMBA_CACHE_DIR", str(NUMBA_CACHE))

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


@pytest.fixture(scope="session")
def embedded_demo_home(demo_home, tmp_path_factory, face_weights) -> Path:
    """The small demo (and its annotations-only copy) with real dlib embeddings, computed once per session.

    SLOW (about a minute on 2 cores). Tests that change files or write results work on copy_home() of it; the
    copy finds the embeddings (they are keyed by the image files) and the converted face weights.
    """
    from core.faces.embed_job import embed_dataset

    home = copy_home(demo_home, tmp_path_factory.mktemp("embedded-demo"), ("demo", "annotations_only"), cache=False)
    seed_face_weights(face_weights, home / "cache")
    with home_environment(home):
        embed_dataset(open_dataset(home / "data" / "demo", name="demo"), workers=os.cpu_count())
    return home


@pytest.fixture(scope="session")
def wild_home(tmp_path_factory, face_weights):
    """SLOW (about a minute): an LFW-style folder of WILD_HOME_IDENTITIES people of the real wild sample, one photo
    of each held out (an upload that is not in the dataset), embedded once per session by the real job.

    (home, dataset, embedding summary, {identity: held-out photo name}); skips without ../shared.
    """
    from core.data.ingest import ingest
    from core.faces.embed_job import embed_dataset

    if not WILD_SAMPLE.exists():
        pytest.skip("../shared absent")
    home = tmp_path_factory.mktemp("wild-home")
    seed_face_weights(face_weights, home / "cache")
    generate_demo(home / "data" / "demo", n_images=20, seed=3)  # the picker would draw one otherwise
    held_out = {}
    for who, names in wild_identities(WILD_HOME_IDENTITIES).items():
        (home / "data" / "wild" / who).mkdir(parents=True)
        held_out[who] = names[-1]
        for name in names[:-1]:
            shutil.copy(WILD_SAMPLE / name, home / "data" / "wild" / who / name)
    with home_environment(home):
        ds = ingest(home / "data" / "wild", "wild")
        summary = embed_dataset(ds, workers=os.cpu_count())
    return home, ds, summary, held_out


@pytest.fixture(scope="session")
def face_weights(tmp_path_factory) -> Path:
    """dlib's face descriptor converted for torch once per session (the .npz of core.faces.dlib_torch), for
    seed_face_weights. Tests of the conversion itself (test_dlib_torch.py) use folders of their own."""
    from core.faces.dlib_torch import dlib_model_path, load_weights, weights_cache_path

    folder = tmp_path_factory.mktemp("face-weights")
    load_weights(cache_dir=folder)
    return weights_cache_path(dlib_model_path(), folder)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FACEATLAS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def people_home(demo_home, tmp_path, monkeypatch):
    """An LFW-style home (one folder per person, no attributes), isolated from the shared demo home."""
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


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright, headless (skips when either is missing)."""
    if not CHROMIUM.exists():
        pytest.skip(f"chromium is not installed ({CHROMIUM}); `make browser` installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright.chromium)
        yield chromium
        chromium.close()
