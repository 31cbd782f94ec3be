"""End to end in a real browser: `streamlit run Home.py` on the demo, Debian's chromium driven by Playwright.

Every page is opened in a fresh browser session, must render its title with no exception box and no
error alert, then gets one real interaction (a table below, one small function per page) whose visible
effect is asserted. A screenshot of each page lands in test-artifacts/browser/ (git-ignored), with the
server's log beside it. Skips when chromium or Playwright is missing; `make browser` installs chromium.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT

CHROMIUM = Path(os.environ.get("FACEATLAS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run",
]  # fmt: skip
ARTIFACTS = PROJECT / "test-artifacts" / "browser"
VIEWPORT = {"width": 1366, "height": 900}
START_TIMEOUT_S = 60
RENDER_TIMEOUT_S = 60
OTHER_DATASET = "annotations_only"  # made by the demo_home fixture: same labels, no images, not the demo

IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const main = document.querySelector('[data-testid="stMain"]');
  return [
    app ? app.dataset.testScriptState : 'none',
    app ? app.dataset.testConnectionState : 'none',
    document.querySelectorAll('[data-testid="stStatusWidget"], [data-testid="stSpinner"], [data-stale="true"]').length,
    main ? main.innerText : '',
  ].join('\\u0001');
}"""


# ---------------------------------------------------------------- server and browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, log_path: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run Home.py` on 127.0.0.1 with FACEATLAS_HOME=home; returns (process, base URL) once healthy."""
    port = port or free_port()
    env = {**os.environ, "FACEATLAS_HOME": str(home), "FACEATLAS_CACHE": str(home / "cache")}
    env.pop("FACEATLAS_DATA", None)
    cmd = [
        sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true",
        "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {log_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError(f"streamlit did not answer within {START_TIMEOUT_S}s: {log_tail(log_path)}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def log_tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def launch_chromium(playwright):
    """Debian's chromium (never a downloaded browser), headless, with no network side traffic."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"chromium is not installed ({CHROMIUM}); `make browser` installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(browser, demo_home):
    proc, url = start_server(demo_home, ARTIFACTS / "streamlit.log")
    try:
        yield url
    finally:
        stop_server(proc)


# ---------------------------------------------------------------- waiting and checking


def wait_until_idle(page, timeout_s: float = RENDER_TIMEOUT_S, settle_s: float = 0.6) -> None:
    """Until the script run has finished, nothing spins or is stale, and the main text stopped changing."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = page.evaluate(IDLE_JS)
        script, connection, busy, _ = state.split("\u0001", 3)
        idle = script == "notRunning" and connection == "CONNECTED" and busy == "0"
        if state != last or not idle:
            last, since = state, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the page did not settle within {timeout_s:.0f}s (last state: {last[:300]!r})")


def problems_shown(page) -> list[str]:
    """Texts of exception boxes and error alerts on the page (empty when all is well)."""
    boxes = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return [t.strip()[:300] for t in boxes.all_inner_texts()]


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def widget(page, key: str):
    """The element of the widget created with `key=` (Streamlit marks it with the class st-key-<key>)."""
    return page.locator(f".st-key-{key}")


# ---------------------------------------------------------------- interactions (reusable)


def select_option(page, key: str, option: str) -> None:
    """Open the selectbox `key` and click `option`."""
    widget(page, key).locator("input").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_until_idle(page)


def choose_multiselect(page, key: str, options: list[str]) -> None:
    """Add each of `options` to the multiselect `key` (typing filters the list, Enter picks)."""
    box = widget(page, key).locator("input")
    for option in options:
        box.click()
        box.fill(option)
        page.get_by_role("option", name=option, exact=True).click()
        wait_until_idle(page)
    page.keyboard.press("Escape")


def upload_file(page, key: str, path: Path) -> None:
    """Put a file into the st.file_uploader `key` as a user's file picker would."""
    widget(page, key).locator('input[type="file"]').set_input_files(str(path))
    wait_until_idle(page)


def click_chart_mark(page, key: str) -> tuple[float, float]:
    """Click the most strongly coloured pixel of the Altair chart `key` (a point on a scatter map)."""
    from io import BytesIO

    from PIL import Image

    chart = widget(page, key).locator('[data-testid="stVegaLiteChart"]').first
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    img = Image.open(BytesIO(chart.screenshot())).convert("HSV")
    sat = img.getchannel("S").load()
    best, where = -1, (img.width // 2, img.height // 2)
    for y in range(0, img.height, 2):
        for x in range(0, img.width, 2):
            if sat[x, y] > best:
                best, where = sat[x, y], (x, y)
    scale = img.width / box["width"]
    x, y = box["x"] + where[0] / scale, box["y"] + where[1] / scale
    page.mouse.click(x, y)
    wait_until_idle(page)
    return x, y


# ---------------------------------------------------------------- one interaction per page


def pick_other_dataset(page) -> None:
    """Sidebar: switch to the annotation-only dataset; the page follows it and the URL records it."""
    assert "Synthetic demo data" in main_text(page)
    select_option(page, "dataset_picker", OTHER_DATASET)
    assert f"dataset={OTHER_DATASET}" in page.url
    assert widget(page, "dataset_picker").locator("input").input_value() == OTHER_DATASET
    assert "Synthetic demo data" not in main_text(page)


def home_pick_dataset(page) -> None:
    pick_other_dataset(page)
    main = main_text(page)
    assert OTHER_DATASET in main  # the header names the chosen dataset
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Image files found")
    assert metric.locator('[data-testid="stMetricValue"]').inner_text().strip() == "0"


@dataclass(frozen=True)
class PageCase:
    path: str  # URL path ("" = Home)
    title: str  # the page's st.title
    interact: Callable  # (page) -> None; performs one user action and asserts what it changed


# The pages are being built on other branches; until they land, each is checked with the sidebar picker.
# When a page lands, point its row at an interaction of its own, e.g.
#   lambda page: choose_multiselect(page, "prevalence_attributes", ["Smiling", "Male"])  + asserts
#   lambda page: click_chart_mark(page, "cluster_map")                                   + asserts
#   lambda page: upload_file(page, "search_upload", PROJECT / "tests" / "data" / "face.jpg") + asserts
PAGES = [
    PageCase("", "FaceAtlas", home_pick_dataset),
    PageCase("Dataset", "Dataset", pick_other_dataset),
    PageCase("Attribute_relations", "Attribute relations", pick_other_dataset),
    PageCase("Attribute_classifiers", "Attribute classifiers", pick_other_dataset),
    PageCase("Clustering", "Clustering", pick_other_dataset),
    PageCase("Face_search", "Face search", pick_other_dataset),
]


def test_every_page_file_has_a_browser_case():
    """A new page must get a row in PAGES (Streamlit's URL path is the file name minus its number)."""
    paths = {p.stem.split("_", 1)[1] for p in (PROJECT / "pages").glob("*.py")}
    assert paths == {c.path for c in PAGES if c.path}


@pytest.mark.parametrize("case", PAGES, ids=[c.path or "Home" for c in PAGES])
def test_page_in_browser(browser, server, case):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    shot = ARTIFACTS / f"{case.path or 'Home'}.png"
    try:
        page.goto(f"{server}/{case.path}", wait_until="domcontentloaded", timeout=RENDER_TIMEOUT_S * 1000)
        page.locator("h1").filter(has_text=case.title).first.wait_for(timeout=RENDER_TIMEOUT_S * 1000)
        wait_until_idle(page)
        assert not problems_shown(page), (problems_shown(page), log_tail(ARTIFACTS / "streamlit.log"))
        case.interact(page)
        assert not problems_shown(page), (problems_shown(page), log_tail(ARTIFACTS / "streamlit.log"))
        assert page.locator("h1").filter(has_text=case.title).count() >= 1
    finally:
        page.screenshot(path=str(shot), full_page=True)
        context.close()
    assert shot.stat().st_size > 1000
