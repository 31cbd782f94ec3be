"""First start of a fresh deploy, as Streamlit Community Cloud does it: `streamlit run Home.py` on an empty home.

Two visitors arrive at once in two Chromium sessions: both see the drawing's progress, one drawing runs (one
job), both then see the demo's overview; the demo's face embeddings start by themselves (one job) and, when
they end, Face search works with no click. A smaller demo keeps it short (FACEATLAS_DEMO_IMAGES).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.browser_support import (
    ARTIFACTS,
    VIEWPORT,
    log_tail,
    main_text,
    metric_value,
    start_server,
    stop_server,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

DEMO_IMAGES = 120
FIRST_VISIT_TIMEOUT_S = 600
EMBED_TIMEOUT_S = 900  # generous: a safety net on a loaded machine, not a timing check


def _jobs(home, kind: str) -> list[dict]:
    folders = sorted((home / "cache" / "jobs").glob(f"{kind}-*"))
    return [json.loads((f / "progress.json").read_text()) for f in folders if (f / "progress.json").exists()]


def _wait_for_overview(page, timeout_s: float) -> bool:
    """Poll until the demo's overview shows; True when the drawing's progress was seen on the way."""
    deadline, saw_progress = time.monotonic() + timeout_s, False
    while time.monotonic() < deadline:
        text = page.locator("body").inner_text()
        saw_progress = saw_progress or "Drawing the demo dataset" in text
        if "A first glance" in text:
            return saw_progress
        page.wait_for_timeout(150)
    raise AssertionError(f"the demo did not appear within {timeout_s:.0f}s: {page.locator('body').inner_text()[-600:]}")


def test_two_first_visitors_share_one_drawing_and_the_embeddings_follow(browser, tmp_path, monkeypatch):
    home = tmp_path / "fresh"
    home.mkdir()
    monkeypatch.setenv("FACEATLAS_AUTO_EMBED", "1")
    monkeypatch.setenv("FACEATLAS_DEMO_IMAGES", str(DEMO_IMAGES))
    log = ARTIFACTS / "first_start.log"
    proc, url = start_server(home, log)
    try:
        first, second = browser.new_context(viewport=VIEWPORT), browser.new_context(viewport=VIEWPORT)
        one, two = first.new_page(), second.new_page()
        one.goto(url, wait_until="commit")
        two.goto(url, wait_until="commit")
        saw_progress = _wait_for_overview(one, FIRST_VISIT_TIMEOUT_S)
        _wait_for_overview(two, FIRST_VISIT_TIMEOUT_S)
        assert saw_progress, "the first visitor never saw the drawing's progress"
        for page in (one, two):
            wait_until_idle(page)
            assert metric_value(page, "Images") == f"{DEMO_IMAGES:,}"
        assert len(_jobs(home, "demo")) == 1 and _jobs(home, "demo")[0]["state"] == "done"
        embed = _jobs(home, "embed")
        assert len(embed) == 1, embed  # started once, by whichever visitor came first
        deadline = time.monotonic() + EMBED_TIMEOUT_S
        while _jobs(home, "embed")[0]["state"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(1)
        assert _jobs(home, "embed")[0]["state"] == "done", _jobs(home, "embed")
        one.goto(f"{url}/Face_search", wait_until="domcontentloaded")
        one.locator("h1").filter(has_text="Face search").first.wait_for(timeout=60_000)
        wait_until_idle(one)
        text = main_text(one)
        assert "no face embeddings yet" not in text and "Searching" in text, text[-600:]
        one.screenshot(path=str(ARTIFACTS / "first_start_face_search.png"))
        first.close()
        second.close()
    finally:
        stop_server(proc)
    server_log = log_tail(log, 200_000)
    assert "bootstrapping phase" not in server_log and "Traceback" not in server_log, server_log[-3000:]
