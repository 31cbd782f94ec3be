"""The browser's Back and Forward buttons in headless Chromium (issue 26 item 6): each press shows the page and the
view its address holds, exactly as the user left it, one press per page visited.

Dataset (bars split by partition, a Bald donut, one person) -> Attribute relations (lift) -> Face search, then
Back three times (Relations with lift, Dataset with its three choices, Home) and Forward three times; then another
dataset picked on Face search, and Back shows Relations on the demo again (the address, not the session's last pick).
"""

from __future__ import annotations

import pytest

from core.stats.intervals import Rate
from tests.browser_support import (
    ARTIFACTS,
    browser_page,
    log_tail,
    main_text,
    open_page,
    served,
    wait_for_page,
    wait_until_idle,
)
from tests.support import copy_home
from ui.relations_views import HEATMAP_COLOUR

pytestmark = pytest.mark.browser

DONUT = "Bald"
OTHER = "annotations_only"  # made by the demo_home fixture: the demo's labels without images


@pytest.fixture(scope="module")
def server(browser, demo_home, tmp_path_factory):
    home = copy_home(demo_home, tmp_path_factory.mktemp("history-home"), ("demo", OTHER))
    with served(home, ARTIFACTS / "history-streamlit.log") as url:
        yield url


def widget(page, key: str):
    return page.locator(f".st-key-{key}")


def chosen(page, key: str) -> str:
    """The option shown as chosen in radio or segmented control `key`."""
    return page.evaluate(
        """(key) => { const box = document.querySelector('.st-key-' + key);
             const on = box && box.querySelector('input:checked, button[kind$="Active"], [aria-checked="true"]');
             return on ? (on.closest('label') || on).innerText.trim() : ''; }""",
        key,
    )


def open_from_sidebar(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    wait_for_page(page, title)


def press(page, button: str, title: str) -> None:
    """Back or Forward; waits for the page titled `title` to settle."""
    (page.go_back if button == "back" else page.go_forward)(wait_until="commit")
    wait_for_page(page, title)


def pick(page, key: str, option: str) -> None:
    """Type into the selectbox or multiselect `key` and click `option`; the list is closed again."""
    box = widget(page, key).locator("input")
    box.scroll_into_view_if_needed()
    box.click()
    box.fill(option.split(" ")[0])
    page.get_by_role("option", name=option, exact=True).click()
    wait_until_idle(page)
    if page.get_by_role("option").count():  # a multiselect stays open
        page.keyboard.press("Escape")
        wait_until_idle(page)


def dataset_view(page, donut: str, person: str) -> dict:
    """What the Dataset page shows of the three choices: the split, the donut's count, the person explored."""
    text = main_text(page)
    return {"split": chosen(page, "prev-split"), "donut shown": donut in text, "person shown": person in text}


def relations_view(page) -> dict:
    return {"measure": chosen(page, "measure"), "lift colours": HEATMAP_COLOUR["lift"] in main_text(page)}


def test_back_and_forward_restore_each_pages_view(browser, server, demo_dataset):
    ds = demo_dataset
    person = str(ds.table["identity"].value_counts(sort=True)["identity"][0])
    images = int((ds.table["identity"] == person).sum())
    with browser_page(browser, ARTIFACTS / "history.png") as page:
        try:
            open_page(page, f"{server}/?dataset=demo", "FaceAtlas")
            open_from_sidebar(page, "Dataset")
            widget(page, "prev-split").get_by_text("partition", exact=True).click()
            wait_until_idle(page)
            pick(page, "donut-attrs", DONUT)
            pick(page, "identity", f"{person} ({images} images)")
            donut = f"{DONUT}: yes in {Rate(int(ds.table[DONUT].sum()), ds.n_images).describe()}"
            shown = (donut, f"Identity {person}: {images} images")
            dataset = dataset_view(page, *shown)
            assert dataset == {"split": "partition", "donut shown": True, "person shown": True}, dataset
            dataset_address = page.url
            open_from_sidebar(page, "Attribute relations")
            widget(page, "measure").get_by_text("lift", exact=True).click()
            wait_until_idle(page)
            relations = relations_view(page)
            assert relations == {"measure": "lift", "lift colours": True}, relations
            relations_address = page.url
            open_from_sidebar(page, "Face search")
            search_address = page.url

            press(page, "back", "Attribute relations")
            assert (page.url, relations_view(page)) == (relations_address, relations)
            press(page, "back", "Dataset")
            assert (page.url, dataset_view(page, *shown)) == (dataset_address, dataset)
            press(page, "back", "FaceAtlas")
            assert "/?dataset=demo" in page.url

            press(page, "forward", "Dataset")
            assert (page.url, dataset_view(page, *shown)) == (dataset_address, dataset)
            press(page, "forward", "Attribute relations")
            assert (page.url, relations_view(page)) == (relations_address, relations)
            press(page, "forward", "Face search")
            assert page.url == search_address

            pick(page, "dataset_picker", OTHER)
            assert f"dataset={OTHER}" in page.url
            press(page, "back", "Attribute relations")
            assert (page.url, relations_view(page)) == (relations_address, relations)
            assert widget(page, "dataset_picker").locator("input").input_value() == "demo"
        except AssertionError:
            print(log_tail(ARTIFACTS / "history-streamlit.log"))
            raise
