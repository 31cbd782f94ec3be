"""First start of a fresh deploy, as Streamlit Community Cloud does it: `streamlit run Home.py` on an empty home.

The demo's labels are written before its faces are drawn, so the Dataset page's prevalence chart shows within
seconds while the faces are still being drawn, with the time left from the first second. Two visitors arriving
at once share one drawing; the demo's face embeddings start by themselves once the faces are there and, when they
end, Face search works with no click. A smaller demo keeps that one short (FACEATLAS_DEMO_IMAGES). AppTests check
what the pages say about a demo whose faces are still being drawn.
"""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest
from streamlit.testing.v1 import AppTest

from core import cached
from core.cli.demo import demo_job_spec
from core.demo import DEFAULT_IMAGES, DRAWING, demo_stage, generate_demo
from core.demo import drawing as demo_drawing
from core.jobs import cancel_job
from tests.browser_support import (
    ARTIFACTS,
    browser_page,
    log_tail,
    main_text,
    metric_value,
    open_page,
    served,
    wait_until_idle,
)
from tests.support import PROJECT

DEMO_IMAGES = 120
FIRST_VISIT_TIMEOUT_S = 600
EMBED_TIMEOUT_S = 900  # generous: a safety net on a loaded machine, not a timing check
PREVALENCE_CHART_WITHIN_S = 30  # the bound: the chart of an empty start's Dataset page, labels only
ESTIMATE = re.compile(r"about \d+(\.\d)? (seconds?|minutes?|hours?)")  # fmt.about: "about 1 second" too
HALF_DRAWN = "demo-half"
HALF_IMAGES = 60


def _jobs(home, kind: str) -> list[dict]:
    folders = sorted((home / "cache" / "jobs").glob(f"{kind}-*"))
    return [json.loads((f / "progress.json").read_text()) for f in folders if (f / "progress.json").exists()]


def _wait_for_overview(page, timeout_s: float) -> bool:
    """Poll until the demo's overview with faces shows; True when the drawing's progress was seen on the way."""
    deadline, saw_progress = time.monotonic() + timeout_s, False
    while time.monotonic() < deadline:
        text = page.locator("body").inner_text()
        saw_progress = saw_progress or "Preparing the demo dataset" in text or "Drawing the demo's faces" in text
        if "A first glance" in text:
            return saw_progress
        page.wait_for_timeout(150)
    raise AssertionError(f"the demo did not appear within {timeout_s:.0f}s: {page.locator('body').inner_text()[-600:]}")


def _wait_for_job(home, kind: str, timeout_s: float) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(j["state"] in ("done", "failed") for j in _jobs(home, kind)):
        time.sleep(0.5)
    return _jobs(home, kind)


@pytest.mark.browser
def test_an_empty_start_shows_the_prevalence_chart_while_the_faces_are_drawn(browser, tmp_path, monkeypatch):
    home = tmp_path / "empty"
    home.mkdir()
    monkeypatch.setenv("FACEATLAS_DEMO_IMAGES", str(DEFAULT_IMAGES))  # the real first start: 6,000 faces
    with served(home, ARTIFACTS / "first_start_prevalence.log") as url, browser_page(browser) as page:
        try:
            page.goto(f"{url}/Dataset", wait_until="commit")
            deadline, waits = time.monotonic() + PREVALENCE_CHART_WITHIN_S, []
            chart = page.locator('[data-testid="stVegaLiteChart"]').first
            while time.monotonic() < deadline and not chart.is_visible():
                text = page.locator("body").inner_text()
                if "Preparing the demo dataset" in text or "Drawing the demo's faces" in text:
                    waits.append(text)
                page.wait_for_timeout(100)
            assert chart.is_visible(), (
                f"no prevalence chart within {PREVALENCE_CHART_WITHIN_S}s: {main_text(page)[-600:]}"
            )
            text = main_text(page)
            assert "Attribute prevalence" in text
            for seen in waits:  # every wait says how long, from the first second
                line = next(line for line in seen.splitlines() if "the demo" in line.lower())
                assert ESTIMATE.search(line), line
            if demo_stage(home / "data" / "demo") == "images":  # the faces are still being drawn (2 cores: a minute)
                assert "Drawing the demo's faces" in text and ESTIMATE.search(text), text[:800]
                assert "The faces are still being drawn" in text
            page.screenshot(path=str(ARTIFACTS / "first_start_prevalence.png"))
        finally:
            monkeypatch.setenv("FACEATLAS_CACHE", str(home / "cache"))
            cancel_job(demo_job_spec(home / "data" / "demo").job_id)  # the rest of the drawing is not this test's


@pytest.mark.browser
@pytest.mark.slow
def test_two_first_visitors_share_one_drawing_and_the_embeddings_follow(browser, tmp_path, monkeypatch):
    home = tmp_path / "fresh"
    home.mkdir()
    monkeypatch.setenv("FACEATLAS_AUTO_EMBED", "1")
    monkeypatch.setenv("FACEATLAS_DEMO_IMAGES", str(DEMO_IMAGES))
    log = ARTIFACTS / "first_start.log"
    with served(home, log) as url, browser_page(browser) as one, browser_page(browser) as two:
        one.goto(url, wait_until="commit")
        two.goto(url, wait_until="commit")
        saw_progress = _wait_for_overview(one, FIRST_VISIT_TIMEOUT_S)
        _wait_for_overview(two, FIRST_VISIT_TIMEOUT_S)
        assert saw_progress, "the first visitor never saw the drawing's progress"
        for page in (one, two):
            wait_until_idle(page)
            assert metric_value(page, "Images") == f"{DEMO_IMAGES:,}"
        demo_jobs = _wait_for_job(home, "demo", FIRST_VISIT_TIMEOUT_S)
        assert len(demo_jobs) == 1 and demo_jobs[0]["state"] == "done", demo_jobs
        embed = _jobs(home, "embed")
        assert len(embed) == 1, embed  # started once, by whichever visitor came first
        embed = _wait_for_job(home, "embed", EMBED_TIMEOUT_S)
        assert embed[0]["state"] == "done", embed
        open_page(one, f"{url}/Face_search", "Face search", wait_until="domcontentloaded")
        text = main_text(one)
        assert "no face embeddings yet" not in text and "Searching" in text, text[-600:]
        one.screenshot(path=str(ARTIFACTS / "first_start_face_search.png"))
    server_log = log_tail(log, 200_000)
    assert "bootstrapping phase" not in server_log and "Traceback" not in server_log, server_log[-3000:]


# ---------------------------------------------------------------- pages on a demo whose faces are being drawn


class _StopDrawingError(Exception):
    pass


@pytest.fixture
def half_drawn_home(demo_home, tmp_path, monkeypatch):
    """A home with the finished demo and a second demo whose labels are written and faces not yet drawn.

    Its drawer is this test process (alive), stopped before its first face; the finished demo keeps the pages from
    starting a drawing job of their own.
    """
    shutil.copytree(demo_home / "data" / "demo", tmp_path / "data" / "demo")

    def stop(*_args) -> None:
        raise _StopDrawingError

    monkeypatch.setattr(demo_drawing, "_save", stop)
    with pytest.raises(_StopDrawingError):
        generate_demo(tmp_path / "data" / HALF_DRAWN, HALF_IMAGES, seed=3, workers=1)
    monkeypatch.undo()
    assert (tmp_path / "data" / HALF_DRAWN / DRAWING / "progress.json").is_file()
    monkeypatch.setenv("FACEATLAS_HOME", str(tmp_path))
    monkeypatch.setenv("FACEATLAS_CACHE", str(tmp_path / "cache"))
    cached.dataset_refs.clear()
    yield tmp_path
    cached.dataset_refs.clear()


def _page(path: str) -> AppTest:
    at = AppTest.from_file(str(PROJECT / path), default_timeout=60)
    at.query_params["dataset"] = HALF_DRAWN
    return at.run()


def test_home_works_on_the_labels_and_says_what_comes_next(half_drawn_home):
    at = _page("Home.py")
    assert not at.exception, at.exception
    assert next(m for m in at.metric if m.label == "Images").value == f"{HALF_IMAGES:,}"
    bars = [p.proto.text for p in at.get("progress")]
    assert any(f"Drawing the demo's faces: 0 / {HALF_IMAGES}" in b and ESTIMATE.search(b) for b in bars), bars
    captions = " ".join(c.value for c in at.caption)
    assert "Dataset** and **Attribute relations** work now" in captions and "face search" in captions
    assert not at.warning, [w.value for w in at.warning]  # no "no image folder" while the faces are drawn


def test_pages_that_need_faces_say_they_are_being_drawn(half_drawn_home):
    dataset = _page("pages/1_Dataset.py")
    assert not dataset.exception, dataset.exception
    infos = " ".join(i.value for i in dataset.info)
    assert "The faces are still being drawn (about" in infos and "Every count and chart already works" in infos
    assert any("attributes are present in under 10% of images" in c.value for c in dataset.caption)  # prevalence works
    search = _page("pages/5_Face_search.py")
    assert not search.exception, search.exception
    infos = " ".join(i.value for i in search.info)
    assert "The faces are still being drawn" in infos and "Face embeddings are computed from them" in infos
    assert "no image files" not in infos
