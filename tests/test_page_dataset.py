"""AppTests of the Dataset page: the numbers it shows match the table, computed here independently."""

from __future__ import annotations

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from core.stats.intervals import Rate
from core.stats.relations import images_per_identity
from tests.support import PROJECT
from ui import long_lists

PAGE = str(PROJECT / "pages" / "1_Dataset.py")


def _page(dataset: str = "demo") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["dataset"] = dataset
    at.run()
    assert not at.exception, at.exception
    return at


def _captions(at) -> list[str]:
    return [c.value for c in at.caption]


def _metric(at, label):
    return next(m for m in at.metric if m.label == label).value


@pytest.fixture
def table(demo_dataset) -> pl.DataFrame:
    return demo_dataset.table


def test_prevalence_caption_and_donuts(demo_home, demo_dataset, table):
    at = _page()
    shares = table.select(demo_dataset.attributes).mean().row(0)
    low, high = sum(s < 0.1 for s in shares), sum(s > 0.7 for s in shares)
    assert any(
        c.startswith(f"{low} of 40 attributes are present in under 10% of images and {high} in over 70%")
        for c in _captions(at)
    )
    at.multiselect(key="donut-attrs").set_value(["Bald", "Young"]).run()
    n = table.height
    for attribute in ("Bald", "Young"):
        present = int(table[attribute].sum())
        assert f"{attribute}: yes in {Rate(present, n).describe()}" in _captions(at)
    assert not any(c.startswith("Male:") for c in _captions(at))
    assert Rate(3, 8).describe().startswith("3 of 8 images (37.5%; 95% interval")  # n < 1,000: with its interval


def test_prevalence_split_by_partition_and_attribute(demo_home):
    at = _page()
    at.radio(key="prev-split").set_value("partition").run()
    assert not at.exception
    at.radio(key="prev-split").set_value("an attribute").run()
    at.selectbox(key="prev-split-attr").select("Smiling").run()
    assert not at.exception


def test_identity_picker_shows_its_images_and_variation(demo_home, demo_dataset, table):
    at = _page()
    counts = table["identity"].value_counts(sort=True)
    identity, n_images = counts.row(0)
    at.selectbox(key="identity").select(identity).run()
    assert not at.exception, at.exception
    assert any(s.value == f"Identity {identity}: {n_images} images" for s in at.subheader)
    theirs = table.filter(pl.col("identity") == identity).select(demo_dataset.attributes)
    means = theirs.mean().row(0)
    varies = [a for a, m in zip(demo_dataset.attributes, means) if 0 < m < 1]
    assert any(
        m.value.startswith(f"**Changes within this person ({len(varies)}):** {', '.join(varies)}") for m in at.markdown
    )
    gallery_page = 24
    assert len(at.image) == min(n_images, 60) + gallery_page


def test_gallery_filters_count_and_pages(demo_home, table):
    at = _page()
    at.multiselect(key="gallery-attrs").set_value(["Male"]).run()
    at.radio(key="gallery-Male").set_value("absent").run()
    at.selectbox(key="gallery-partition").select("train").run()
    want = table.filter((pl.col("Male") == 0) & (pl.col("partition") == "train"))
    assert _metric(at, "Matching images") == f"{want.height:,}"
    at.number_input(key="gallery-page").set_value(2).run()
    assert not at.exception, at.exception
    second_page_first = want["image_id"][24]
    shown = [caption for image in at.image for caption in image.captions]
    assert shown[0].startswith(f"{second_page_first} · id {want['identity'][24]} · ")
    present = [a for a in ("Smiling", "Young", "Eyeglasses") if want[a][24]]
    assert all(a in shown[0] for a in present)
    assert len(shown) == min(24, want.height - 24)


def test_gallery_with_no_match_says_so(demo_home, table):
    at = _page()
    train_identity = table.filter(pl.col("partition") == "train")["identity"][0]
    at.multiselect(key="gallery-identities").set_value([train_identity]).run()
    at.selectbox(key="gallery-partition").select("test").run()
    assert not at.exception
    assert _metric(at, "Matching images") == "0"
    assert any("No images match" in i.value for i in at.info)


def test_annotation_only_dataset_works_without_images(demo_home, table):
    at = _page("annotations_only")
    assert any("Images are not available" in i.value for i in at.info)
    identity = table["identity"][0]
    at.selectbox(key="identity").select(identity).run()
    assert not at.exception, at.exception
    assert any("Images are not available" in c for c in _captions(at))
    assert len(at.image) == 0


def test_identity_from_shared_link(demo_home, table):
    identity = table["identity"][5]
    n_images = int((table["identity"] == identity).sum())
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["dataset"] = "demo"
    at.query_params["identity"] = identity
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="identity").value == identity
    assert any(s.value == f"Identity {identity}: {n_images} images" for s in at.subheader)


def test_many_identities_are_found_by_search_not_all_sent(demo_home, table, monkeypatch):
    """Above LISTED identities the picker lists the first LISTED (most images first) and a search box finds any
    other; the person stays picked whatever is searched next, and a link opens one beyond the listed ones."""
    monkeypatch.setattr(long_lists, "LISTED", 5)
    order = images_per_identity(table)
    last, its_images = order["identity"].to_list()[-1], int(order["images"].to_list()[-1])
    at = _page()
    assert [o.split(" ")[0] for o in at.selectbox(key="identity").options] == order["identity"].to_list()[:5]
    assert f"Listing the first 5 of {len(order)} identities (most images first): type above to find any other." in (
        _captions(at)
    )
    at.text_input(key="identity-search").input(f" {last} ").run()
    matches = [i for i in order["identity"].to_list() if last in i]
    assert [o.split(" ")[0] for o in at.selectbox(key="identity").options] == matches[:5]
    at.selectbox(key="identity").select(last).run()
    assert any(s.value == f"Identity {last}: {its_images} images" for s in at.subheader)
    assert at.query_params["identity"] == last
    at.text_input(key="identity-search").input("no such person").run()
    assert "No identities contain “no such person”." in _captions(at)
    assert at.selectbox(key="identity").value == last  # still picked, still an option
    assert any(s.value == f"Identity {last}: {its_images} images" for s in at.subheader)

    linked = AppTest.from_file(PAGE, default_timeout=60)
    linked.query_params["dataset"] = "demo"
    linked.query_params["identity"] = last
    linked.run()
    assert linked.selectbox(key="identity").value == last
    assert len(linked.selectbox(key="identity").options) == 6


def test_many_identities_in_the_gallery_filter_are_found_by_search(demo_home, table, monkeypatch):
    monkeypatch.setattr(long_lists, "LISTED", 5)
    people = sorted(table["identity"].unique().to_list())
    far = people[-1]
    at = _page()
    assert at.multiselect(key="gallery-identities").options == people[:5]
    at.text_input(key="gallery-identities-search").input(far).run()
    assert far in at.multiselect(key="gallery-identities").options
    at.multiselect(key="gallery-identities").set_value([far]).run()
    at.text_input(key="gallery-identities-search").input("").run()
    assert at.multiselect(key="gallery-identities").options == [*people[:5], far]  # the chosen one stays listed
    assert _metric(at, "Matching images") == f"{int((table['identity'] == far).sum()):,}"


def test_dataset_without_attributes_still_shows_identities(people_home):
    at = _page("people")
    assert any("no attribute annotations" in i.value for i in at.info)
    at.selectbox(key="identity").select("Person_1").run()
    assert not at.exception, at.exception
    assert any(s.value == "Identity Person_1: 3 images" for s in at.subheader)
    assert _metric(at, "Matching images") == "6"
