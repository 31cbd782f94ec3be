"""End to end in a real browser: `streamlit run Home.py` on the demo, Debian's chromium driven by Playwright.

Every page is opened in a fresh browser session, must render its title with no exception box and no
error alert, then gets one real interaction (a table below, one small function per page) whose visible
effect is asserted. A screenshot of each page lands in test-artifacts/browser/ (git-ignored), with the
server's log beside it. Skips when chromium or Playwright is missing; `make browser` installs chromium.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pytest

from core.stats.intervals import Rate
from tests.browser_support import (
    APP_PAGES,
    ARTIFACTS,
    PROJECT,
    RENDER_TIMEOUT_S,
    browser_page,
    log_tail,
    main_text,
    metric_value,
    open_page,
    served,
    wait_until_idle,
)
from tests.support import copy_home, inside_polygon

pytestmark = pytest.mark.browser

OTHER_DATASET = "annotations_only"  # made by the demo_home fixture: same labels, no images, not the demo


@pytest.fixture(scope="module")
def browser_home(embedded_demo_home, tmp_path_factory) -> Path:
    """A copy of the demo home whose demo has real face embeddings (Face search, classifiers need them)."""
    return copy_home(embedded_demo_home, tmp_path_factory.mktemp("browser_home"), ("demo", OTHER_DATASET))


@pytest.fixture(scope="module")
def server(browser, browser_home):
    with served(browser_home, ARTIFACTS / "streamlit.log") as url:
        yield url


# ---------------------------------------------------------------- waiting and checking


def problems_shown(page) -> list[str]:
    """Texts of exception boxes and error alerts on the page (empty when all is well)."""
    boxes = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return [t.strip()[:300] for t in boxes.all_inner_texts()]


def widget(page, key: str):
    """The element of the widget created with `key=` (Streamlit marks it with the class st-key-<key>)."""
    return page.locator(f".st-key-{key}")


# ---------------------------------------------------------------- interactions (reusable)


def select_option(page, key: str, option: str) -> None:
    """Open the selectbox `key`, type `option` (long lists only render what is scrolled to) and click it."""
    box = widget(page, key).locator("input")
    box.click()
    box.fill(option)
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


def click_chart_mark(page, key: str, legend_width: float = 0.2) -> tuple[float, float]:
    """Click the most strongly coloured pixel of the Altair chart `key` (a point on a map, a heatmap cell),
    leaving out the right-hand `legend_width` share of the chart where Altair puts its legends."""
    from io import BytesIO

    from PIL import Image

    chart = widget(page, key).locator('[data-testid="stVegaLiteChart"]').first
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    img = Image.open(BytesIO(chart.screenshot())).convert("HSV")
    sat = img.getchannel("S").load()
    best, where = -1, (img.width // 2, img.height // 2)
    for y in range(0, img.height, 2):
        for x in range(0, int(img.width * (1 - legend_width)), 2):
            if sat[x, y] > best:
                best, where = sat[x, y], (x, y)
    scale = img.width / box["width"]
    x, y = box["x"] + where[0] / scale, box["y"] + where[1] / scale
    page.mouse.click(x, y)
    wait_until_idle(page)
    return x, y


def data_quality_run_audit(page, ds) -> None:
    """Data quality: run the audit in the background; its results appear, and the exact copies match file hashes."""
    import hashlib
    from collections import Counter

    assert "Not yet run on demo" in main_text(page)
    page.get_by_role("button", name="Run the audit").click()
    deadline = time.monotonic() + 300
    while "Not yet run on demo" in main_text(page) and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
    wait_until_idle(page)
    page.get_by_text("Estimated wrong labels").first.wait_for(timeout=RENDER_TIMEOUT_S * 1000)  # after placeholders
    assert "Estimated wrong labels" in main_text(page), main_text(page)[-800:]
    widget(page, "dq-check").get_by_text("duplicates", exact=True).click()
    wait_until_idle(page)
    digests = Counter(hashlib.sha256(ds.image_path(i).read_bytes()).hexdigest() for i in ds.table["image_id"])
    assert metric_value(page, "Exact groups") == str(sum(1 for n in digests.values() if n > 1))
    assert "check=duplicates" in page.url


# ---------------------------------------------------------------- one interaction per page
# Each takes (page, ds): the Playwright page showing the demo, and the same demo as a core Dataset, so the
# asserts can compare what the page shows with numbers computed here.


def pick_other_dataset(page, ds) -> None:
    """Sidebar: switch to the annotation-only dataset; the page follows it and the URL records it."""
    assert "Synthetic demo data" in main_text(page)
    select_option(page, "dataset_picker", OTHER_DATASET)
    assert f"dataset={OTHER_DATASET}" in page.url
    assert widget(page, "dataset_picker").locator("input").input_value() == OTHER_DATASET
    assert "Synthetic demo data" not in main_text(page)


def home_pick_dataset(page, ds) -> None:
    pick_other_dataset(page, ds)
    assert OTHER_DATASET in main_text(page)  # the header names the chosen dataset
    assert metric_value(page, "Images") == f"{ds.n_images:,}"  # same labels as the demo
    assert metric_value(page, "Image files found") == "0"


def dataset_choose_attributes(page, ds) -> None:
    """Dataset page: add an attribute to the present/absent donuts; its true count appears."""
    attribute = "Wearing_Hat"
    present = int(ds.table[attribute].sum())
    expected = f"{attribute}: yes in {Rate(present, ds.n_images).describe()}"
    assert expected not in main_text(page)
    choose_multiselect(page, "donut-attrs", [attribute])
    assert expected in main_text(page)


def relations_click_cell(page, ds) -> None:
    """Attribute relations: click a heatmap cell; the pair drill-down shows that pair's P(A | B)."""
    before = (
        widget(page, "pair_a").locator("input").input_value(),
        widget(page, "pair_b").locator("input").input_value(),
    )
    click_chart_mark(page, "rel-heatmap")
    a = widget(page, "pair_a").locator("input").input_value()
    b = widget(page, "pair_b").locator("input").input_value()
    assert (a, b) != before, "clicking a heatmap cell did not pick a pair"
    with_b = ds.table.filter(ds.table[b] == 1)
    assert metric_value(page, f"P({a} | {b})") == f"{with_b[a].sum() / with_b.height:.3f}"
    assert f"pair_a={a}" in page.url


def clustering_click_map_point(page, ds) -> None:
    """Clustering: click a point on the map; the faces panel shows that face with its cluster."""
    assert "Select points on the map" in main_text(page)
    click_chart_mark(page, "cl-map-chart")
    text = main_text(page)
    picked = re.search(r"([\d,]+) faces? selected", text)
    assert picked and int(picked.group(1).replace(",", "")) >= 1, "clicking the map selected no face"
    shown = re.findall(r"(\S+) · cluster (\S+)", text)
    assert shown and all(ds.row_of(image_id) is not None for image_id, _ in shown), shown


def face_search_upload_photo(page, ds) -> None:
    """Face search: upload one of the demo's photos; its own face comes back first, at distance 0."""
    image_id = ds.table["image_id"][0]
    identity = ds.table["identity"][0]
    upload_file(page, "fs-upload", ds.image_path(image_id))
    # The photo's caption comes with its image, which may still be loading when the page's text has settled.
    page.get_by_text(re.compile(r"\b1 face found|\d+ faces found")).first.wait_for(timeout=RENDER_TIMEOUT_S * 1000)
    text = main_text(page)
    assert re.search(r"\b1 face found|\d+ faces found", text) and "nearest faces" in text, text[-800:]
    assert f"0.000 · {identity}" in text


def classifiers_train_model(page, ds) -> None:
    """Attribute classifiers: train logistic regression on the embeddings; the test metrics appear."""
    assert "No trained model for this dataset yet" in main_text(page)
    page.get_by_role("button", name="Train").click()
    deadline = time.monotonic() + 180
    while "Mean balanced accuracy" not in main_text(page) and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
    wait_until_idle(page)
    text = main_text(page)
    assert "Mean balanced accuracy" in text and "Eyeglasses" in text, text[-800:]


def lessons_reveal_and_open(page, ds) -> None:
    """Lessons: reveal the first step's answer (computed from the demo), then follow the step's link: the page it
    opens shows the same figure, and the Lessons address kept the revealed step."""
    from core.lessons.answers import rarest_attributes
    from core.lessons.data import LessonData

    expected = rarest_attributes(LessonData(ds)).figures[0].value
    assert expected not in main_text(page)
    page.get_by_role("button", name="Reveal the answer").click()
    wait_until_idle(page)
    assert expected in main_text(page)
    assert "done=1" in page.url
    href = page.get_by_role("link", name="Open Dataset in this view").get_attribute("href")
    assert "dataset=demo" in href, href
    opened = page.context.new_page()  # the step's link in a new tab: what a student opening it sees
    try:
        open_page(opened, urljoin(page.url, href), "Dataset")
        assert expected in main_text(opened)
    finally:
        opened.close()


def generated_faces_choose_epochs(page, ds) -> None:
    """Generated faces: no generator yet; typing an epoch count puts it in the address and the estimate follows."""
    assert "No generator has been trained on demo yet" in main_text(page)
    box = widget(page, "gen-epochs").locator("input")
    box.fill("3")
    box.press("Enter")
    wait_until_idle(page)
    assert "epochs=3" in page.url, page.url
    assert page.get_by_role("button", name="Train the generator").count() == 1


@dataclass(frozen=True)
class PageCase:
    path: str  # URL path ("" = Home)
    title: str  # the page's st.title
    interact: Callable  # (page, ds) -> None; performs one user action and asserts what it changed


STUB_MARKER = "This page is being built."
# The page's own interaction; used as soon as its file is no longer the stub (until then the sidebar
# picker is exercised instead).
PAGE_INTERACTIONS: dict[str, Callable] = {
    "": home_pick_dataset,
    "Dataset": dataset_choose_attributes,
    "Attribute_relations": relations_click_cell,
    "Attribute_classifiers": classifiers_train_model,
    "Clustering": clustering_click_map_point,
    "Face_search": face_search_upload_photo,
    "Data_quality": data_quality_run_audit,
    "Lessons": lessons_reveal_and_open,
    "Generated_faces": generated_faces_choose_epochs,
}


def page_file(path: str) -> Path:
    return PROJECT / "Home.py" if not path else next((PROJECT / "pages").glob(f"*_{path}.py"))


def interaction_for(path: str) -> Callable:
    """The page's own interaction; the sidebar picker while it is a stub; a failure if it is built but has none."""
    if path in PAGE_INTERACTIONS and (not path or STUB_MARKER not in page_file(path).read_text()):
        return PAGE_INTERACTIONS[path]
    if STUB_MARKER in page_file(path).read_text():
        return pick_other_dataset

    def missing(page, ds) -> None:
        pick_other_dataset(page, ds)
        pytest.fail(f"page {path!r} is built: give it an interaction in PAGE_INTERACTIONS")

    return missing


PAGES = [PageCase(path, title, interaction_for(path)) for path, title in APP_PAGES]


def test_every_page_file_has_a_browser_case():
    """A new page must get a row in APP_PAGES (URL path = file name minus its number)."""
    paths = {p.stem.split("_", 1)[1] for p in (PROJECT / "pages").glob("*.py")}
    assert paths == {path for path, _ in APP_PAGES if path}


@pytest.mark.parametrize("case", PAGES, ids=[c.path or "Home" for c in PAGES])
def test_page_in_browser(browser, server, demo_dataset, case):
    shot = ARTIFACTS / f"{case.path or 'Home'}.png"
    with browser_page(browser, shot) as page:
        open_page(page, f"{server}/{case.path}", case.title, wait_until="domcontentloaded")
        assert not problems_shown(page), (problems_shown(page), log_tail(ARTIFACTS / "streamlit.log"))
        case.interact(page, demo_dataset)
        assert not problems_shown(page), (problems_shown(page), log_tail(ARTIFACTS / "streamlit.log"))
        assert page.locator("h1").filter(has_text=case.title).count() >= 1
    assert shot.stat().st_size > 1000


def test_a_shared_link_reopens_the_view(browser, server, demo_dataset):
    """A view set by clicking is in the address bar; that address opened in a new browser session shows the same
    numbers, and the 'Copy link to this view' control offers the same address."""
    with browser_page(browser, ARTIFACTS / "shared-link-source.png") as page:
        open_page(page, f"{server}/Attribute_relations?dataset=demo&where=Young:1", "Attribute relations")
        young = demo_dataset.table.filter(demo_dataset.table["Young"] == 1)
        assert metric_value(page, "Images in the subset") == f"{young.height:,}"  # the filter came from the URL
        select_option(page, "pair_a", "Smiling")
        select_option(page, "pair_b", "Eyeglasses")
        assert "pair_a=Smiling" in page.url and "pair_b=Eyeglasses" in page.url and "where=Young" in page.url
        shown = metric_value(page, "P(Smiling | Eyeglasses)")
        with_b = young.filter(young["Eyeglasses"] == 1)
        assert shown == f"{with_b['Smiling'].sum() / with_b.height:.3f}"
        page.get_by_text("Copy link to this view").first.click()
        copied = page.locator('[data-testid="stCode"]').first.inner_text()
        assert "pair_a=Smiling" in copied and "where=Young:1" in copied, copied
        address = page.url
    with browser_page(browser, ARTIFACTS / "shared-link-opened.png") as page:
        open_page(page, address, "Attribute relations")
        assert not problems_shown(page), problems_shown(page)
        assert metric_value(page, "Images in the subset") == f"{young.height:,}"
        assert metric_value(page, "P(Smiling | Eyeglasses)") == shown
        assert widget(page, "pair_b").locator("input").input_value() == "Eyeglasses"


def test_webgl_map_box_selection_fills_the_faces_panel(browser, server, demo_dataset):
    """Clustering drawn with WebGL: the map draws every point; a box dragged on it selects points (the map counts
    them in the browser), and the faces panel shows the same count (computed again on the server) and their faces."""
    with browser_page(browser, ARTIFACTS / "Clustering-webgl.png") as page:
        open_page(page, f"{server}/Clustering?dataset=demo&draw=webgl&sel=box", "Clustering")
        drawn = page.locator(".fa-map[data-drawn]")
        drawn.wait_for(timeout=RENDER_TIMEOUT_S * 1000)
        n = int(drawn.get_attribute("data-drawn").split(":")[1])
        assert f"map of all {n:,} points, drawn with WebGL" in main_text(page)
        assert "Select points on the map" in main_text(page)
        area = page.locator(".fa-map canvas.fa-overlay")
        area.scroll_into_view_if_needed()
        # Hover the point drawn last (on top of any other there): its image id, identity and cluster.
        x, y = drawn.evaluate(
            """(el) => { const m = el.parentNode.__faMap, i = m.a.order[m.n - 1], r = m.canvas.getBoundingClientRect();
               const [px, py] = m.toPixel(m.a.x[i], m.a.y[i]); return [r.left + px, r.top + py]; }"""
        )
        page.mouse.move(x, y)
        tip = page.locator(".fa-map .fa-tip")
        tip.wait_for(state="visible", timeout=10_000)
        image_id, identity, cluster = tip.inner_text().strip().split("\n")
        row = demo_dataset.row_of(image_id)
        assert row is not None and identity == f"identity {demo_dataset.table['identity'][row]}", tip.inner_text()
        assert re.fullmatch(r"cluster \d+|noise", cluster), cluster
        box = area.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=5)
        page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.8, steps=5)
        page.mouse.up()
        wait_until_idle(page)
        page.locator(".fa-map .fa-count", has_text="selected").wait_for(timeout=RENDER_TIMEOUT_S * 1000)
        in_browser = re.fullmatch(r"([\d,]+) selected", page.locator(".fa-map .fa-count").inner_text().strip())
        assert in_browser, page.locator(".fa-map .fa-count").inner_text()
        count = int(in_browser.group(1).replace(",", ""))
        text = main_text(page)
        assert 0 < count < n
        assert re.search(rf"\b{count:,} faces? selected", text), text[-800:]
        shown = [image_id for image_id, _ in re.findall(r"(\S+) · cluster (\S+)", text)]
        assert len(shown) == min(count, 24) and all(demo_dataset.row_of(i) is not None for i in shown), shown


def test_zooming_in_shows_faces_and_a_lasso_lists_exactly_the_faces_inside(browser, server, demo_dataset):
    """The WebGL map of faces: zoomed out, points; zoomed in on a crowded spot, faces (the atlas job the page starts
    by itself, sent tile by tile); a lasso drawn there lists in the faces panel exactly the faces whose coordinates
    lie inside the polygon, computed here from the map's coordinates. The view is in the page's link."""
    with browser_page(browser, ARTIFACTS / "Clustering-lasso.png") as page:
        page.goto(f"{server}/Clustering?dataset=demo&draw=webgl&sel=lasso", timeout=RENDER_TIMEOUT_S * 1000)
        page.locator("h1").filter(has_text="Clustering").first.wait_for(timeout=RENDER_TIMEOUT_S * 1000)
        drawn = page.locator(".fa-map[data-drawn]")
        drawn.wait_for(timeout=RENDER_TIMEOUT_S * 1000)
        wait_until_idle(page)
        assert drawn.get_attribute("data-lod") == "dots"  # the whole map: points in colour
        area = page.locator(".fa-map canvas.fa-overlay")
        area.scroll_into_view_if_needed()
        box = area.bounding_box()
        # Zoom in at the point drawn last (a crowded place: the largest groups are drawn on top) until faces show.
        px, py = drawn.evaluate(
            "(el) => { const m = el.parentNode.__faMap, i = m.a.order[m.n - 1]; return m.toPixel(m.a.x[i], m.a.y[i]); }"
        )
        page.mouse.move(box["x"] + px, box["y"] + py)
        deadline = time.monotonic() + 180  # the atlas job (400 faces) runs while we zoom
        while time.monotonic() < deadline and int(drawn.get_attribute("data-faces") or 0) == 0:
            if drawn.evaluate("(el) => el.parentNode.__faMap.displayDepth()") < 1:
                page.mouse.wheel(0, -250)
            page.wait_for_timeout(400)
        faces = int(drawn.get_attribute("data-faces"))
        assert faces > 0 and drawn.get_attribute("data-lod") in ("cells", "every")
        page.screenshot(path=str(ARTIFACTS / "Clustering-faces.png"))
        # A lasso around that crowded place: a circle of corners, as wide as leaves one page of faces inside.
        coords = drawn.evaluate(
            """(el) => { const m = el.parentNode.__faMap, ids = [];
               for (let i = 0; i < m.n; i++) ids.push(m.describe(i).split("\\n")[0]);
               return { x: [...m.a.x], y: [...m.a.y], ids, view: m.state.view, w: m.width, h: m.height }; }"""
        )
        view = coords["view"]

        def to_data(x: float, y: float) -> list[float]:  # page pixels -> map units (the map's own view)
            return [(x - box["x"] - coords["w"] / 2) / view["sx"] + view["cx"],
                    (coords["h"] / 2 - (y - box["y"])) / view["sy"] + view["cy"]]  # fmt: skip

        def inside(corners: list) -> list[int]:
            polygon = [to_data(x, y) for x, y in corners]
            return [i for i, xy in enumerate(zip(coords["x"], coords["y"])) if inside_polygon(*xy, polygon)]

        centre = (box["x"] + px, box["y"] + py)
        for share in (0.3, 0.2, 0.12, 0.07, 0.04, 0.02):
            radius = box["height"] * share
            corners = [
                (centre[0] + radius * math.cos(a), centre[1] + radius * math.sin(a)) for a in np.linspace(0, 6.2, 24)
            ]
            if 0 < len(inside(corners)) <= 24:
                break
        page.mouse.move(*corners[0])
        page.mouse.down()
        for x, y in corners[1:]:
            page.mouse.move(x, y)
        page.mouse.up()
        wait_until_idle(page)
        polygon = drawn.evaluate("(el) => el.parentNode.__faMap.state.selection.polygon")  # what the browser sent
        expected = [
            coords["ids"][i] for i, xy in enumerate(zip(coords["x"], coords["y"])) if inside_polygon(*xy, polygon)
        ]
        assert 0 < len(expected) <= 24, len(expected)  # one page of the faces panel: every face listed
        page.get_by_text(re.compile(r"[\d,]+ faces? selected")).first.wait_for(timeout=RENDER_TIMEOUT_S * 1000)
        text = main_text(page)
        assert re.search(rf"\b{len(expected):,} faces? selected", text), text[-800:]
        panel = re.split(r"faces? selected", text)[-1].split("\nClusters\n")[0]  # the faces panel, below the map
        listed = [image_id for image_id, _ in re.findall(r"(\S+) · cluster (\S+)", panel)]
        assert sorted(listed) == sorted(expected)
        assert "mview=" in page.url  # the view zoomed into is in the page's link
