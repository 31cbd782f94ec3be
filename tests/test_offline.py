"""Fully offline: no page makes the browser ask anything of another host (a font, an icon, a script, a tracker).

Every page is opened in headless Chromium; every request it makes (page.on("request"), every frame) and every icon
link the page sets (Chromium fetches favicons outside the page, so they are checked in the document) must point at
the app itself. Requests to other hosts are recorded and aborted, so the test never leaves the machine.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from tests.browser_support import (
    APP_PAGES,
    ARTIFACTS,
    browser_page,
    log_tail,
    open_page,
    served,
)
from tests.support import copy_home

pytestmark = pytest.mark.browser

# Every address the document points the browser at: icons, style sheets, scripts, images, frames.
LINKED_JS = """() => Array.from(document.querySelectorAll('link[href], script[src], img[src], iframe[src], source[src]'))
  .map(el => el.href || el.src).filter(Boolean)"""


@pytest.fixture(scope="module")
def offline_server(browser, demo_home, tmp_path_factory):
    home = copy_home(demo_home, tmp_path_factory.mktemp("offline_home"), ("demo",))
    with served(home, ARTIFACTS / "streamlit-offline.log") as url:
        yield url


def elsewhere(address: str, app: str) -> bool:
    """Whether an address is on another host than the app (data: and blob: addresses stay in the browser)."""
    parts = urlsplit(urljoin(app + "/", address))
    return parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != urlsplit(app).netloc


def visit(browser, url: str, path: str, title: str) -> tuple[list[str], list[str]]:
    """(requests to other hosts, addresses on other hosts the document links) while `path` opens and settles."""
    asked: list[str] = []

    def route(request_route) -> None:
        if elsewhere(request_route.request.url, url):
            asked.append(request_route.request.url)
            request_route.abort()
        else:
            request_route.continue_()

    with browser_page(browser, ARTIFACTS / f"offline-{path or 'Home'}.png") as page:
        page.context.route("**/*", route)  # before anything is asked: the page is still blank
        page.context.on("request", lambda request: elsewhere(request.url, url) and asked.append(request.url))
        open_page(page, f"{url}/{path}", title, wait_until="domcontentloaded")
        page.wait_for_timeout(1000)  # the favicon and late fonts are set after the first render
        linked = [a for a in page.evaluate(LINKED_JS) if elsewhere(a, url)]
    return sorted(set(asked)), sorted(set(linked))


@pytest.mark.parametrize(("path", "title"), APP_PAGES, ids=[p or "Home" for p, _ in APP_PAGES])
def test_no_page_asks_another_host(browser, offline_server, path, title):
    asked, linked = visit(browser, offline_server, path, title)
    log = Path(ARTIFACTS / "streamlit-offline.log")
    assert not asked, (asked, log_tail(log))
    assert not linked, linked


def test_the_page_icon_comes_with_the_app(browser, offline_server):
    """Home's icon is the app's own picture (a Material icon name makes Streamlit point at a Google font host)."""
    with browser_page(browser) as page:
        open_page(page, offline_server, "FaceAtlas", wait_until="domcontentloaded")
        icon = page.evaluate("() => document.querySelector(\"link[rel='shortcut icon']\").href")
        assert not elsewhere(icon, offline_server), icon
        if not icon.startswith("data:image/"):  # else served by the app: it answers with a picture
            response = page.request.get(icon)
            assert response.ok and response.headers["content-type"].startswith("image/"), (icon, response.headers)
