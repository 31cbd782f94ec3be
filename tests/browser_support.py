"""Serving the app on localhost and driving Debian's chromium: shared by the browser tests (test_browser.py,
test_first_start.py) and the benches. Only 127.0.0.1 is ever contacted; no browser is ever downloaded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("FACEATLAS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
START_TIMEOUT_S = 60
RENDER_TIMEOUT_S = 60
ARTIFACTS = PROJECT / "test-artifacts" / "browser"  # screenshots and server logs (git-ignored)
VIEWPORT = {"width": 1366, "height": 900}

# (URL path, st.title) of every page; Streamlit's URL path is the page file name minus its number.
APP_PAGES = [
    ("", "FaceAtlas"),
    ("Dataset", "Dataset"),
    ("Attribute_relations", "Attribute relations"),
    ("Attribute_classifiers", "Attribute classifiers"),
    ("Clustering", "Clustering"),
    ("Face_search", "Face search"),
    ("Data_quality", "Data quality"),
    ("Lessons", "Lessons"),
    ("Generated_faces", "Generated faces"),
]

# One string that changes whenever the page does: script state, connection, busy markers, main text.
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


def is_idle(state: str) -> bool:
    """True when IDLE_JS's string says: script finished, connected, nothing spinning or stale."""
    script, connection, busy, _ = state.split("\u0001", 3)
    return script == "notRunning" and connection == "CONNECTED" and busy == "0"


def wait_until_idle(page, timeout_s: float = RENDER_TIMEOUT_S, settle_s: float = 0.6) -> None:
    """Until the script run has finished, nothing spins or is stale, and the main text stopped changing."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = page.evaluate(IDLE_JS)
        idle = is_idle(state)
        if state != last or not idle:
            last, since = state, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the page did not settle within {timeout_s:.0f}s (last state: {last[:300]!r})")


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def metric_value(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)
    )
    return metric.first.locator('[data-testid="stMetricValue"]').inner_text().strip()


def wait_for_page(page, title: str) -> None:
    """Until the page titled `title` has rendered and settled."""
    page.locator("h1").filter(has_text=title).first.wait_for(timeout=RENDER_TIMEOUT_S * 1000)
    wait_until_idle(page)


def open_page(page, url: str, title: str, wait_until: str = "load") -> None:
    """Go to `url` and wait until the page titled `title` has rendered and settled."""
    page.goto(url, wait_until=wait_until, timeout=RENDER_TIMEOUT_S * 1000)
    wait_for_page(page, title)


@contextmanager
def browser_page(browser, screenshot: Path | None = None) -> Iterator:
    """A page in a browser session of its own (a new visitor, the tests' viewport) for the block; as the block ends,
    whatever happened, a full-page screenshot to `screenshot` when given, then the session is closed."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        yield page
    finally:
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
        context.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    home: Path, log_path: Path, port: int | None = None, project: Path = PROJECT
) -> tuple[subprocess.Popen, str]:
    """`streamlit run Home.py` on 127.0.0.1 with FACEATLAS_HOME=home; (process, base URL) once healthy. project: the
    checkout to serve (benches serve an older one beside this one)."""
    port = port or free_port()
    env = {**os.environ, "FACEATLAS_HOME": str(home), "FACEATLAS_CACHE": str(home / "cache")}
    env.pop("FACEATLAS_DATA", None)
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "Home.py",
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
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


@contextmanager
def served(home: Path, log_path: Path) -> Iterator[str]:
    """The app served on `home` for the block (start_server): its base URL; stopped when the block ends."""
    proc, url = start_server(home, log_path)
    try:
        yield url
    finally:
        stop_server(proc)


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate the server (and anything in its process group) and reap it."""
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


def launch_chromium(chromium_type, **kwargs):
    """Debian's chromium (never a downloaded one), headless, without background network traffic.

    chromium_type: `playwright.chromium` from the sync or the async API (the async one returns an awaitable).
    """
    return chromium_type.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000, **kwargs)
