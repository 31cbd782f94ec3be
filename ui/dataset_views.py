"""Sections of the Dataset page: prevalence, donuts, identities, gallery."""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from core import cached
from core import format as fmt
from core.charts import stats as stats_charts
from core.data.celeba import judgement_note
from core.data.dataset import Dataset
from core.data.subset import Subset
from core.stats import relations as stats
from core.stats.intervals import Rate
from ui import links, long_lists, state
from ui.demo_drawing import images_missing_text
from ui.filters import subset_ui
from ui.gallery import image_grid

DEFAULT_DONUTS = ("Male", "Smiling", "Eyeglasses")
GALLERY_PAGE_SIZE = 24
GALLERY_COLUMNS = 6
NO_SPLIT = "nothing"
NO_ATTRIBUTES = (
    "This dataset has no attribute annotations, so there is nothing to count here. Identities and the "
    "gallery below still work; for attributes, use CelebA (or add an attributes CSV beside the images)."
)


def prevalence_section(ds: Dataset) -> None:
    """Sorted prevalence bars (optionally split) and the class-imbalance caption."""
    st.header("Attribute prevalence")
    if not ds.attributes:
        st.info(NO_ATTRIBUTES)
        return
    options = [NO_SPLIT] + (["partition"] if ds.has_partition else []) + ["an attribute"]
    _restore_split(ds, options)
    split = st.radio("Split bars by", options, horizontal=True, key=state.PREVALENCE_SPLIT)
    split_by = None
    if split == "partition":
        split_by = "partition"
    elif split == "an attribute":
        default = ds.attributes.index("Male") if "Male" in ds.attributes else 0
        split_by = st.selectbox(
            "Attribute to split by", ds.attributes, index=default, key=state.PREVALENCE_SPLIT_ATTRIBUTE
        )
    links.remember("split", split_by)
    everything = cached.relation_stats(ds, Subset())
    overall = everything.prevalence
    low, high = stats.imbalance_counts(overall)
    rarest = np.argsort(overall)[:3]
    st.caption(
        f"{low} of {len(ds.attributes)} attributes are present in under 10% of images and {high} in over 70%: for "
        "those, always answering the majority class is already right over 90% (or 70%) of the time. Rarest: "
        + ", ".join(
            f"{ds.attributes[k]} ({fmt.percent(overall[k])}, {fmt.count(everything.counts[k])} images)" for k in rarest
        )
        + "."
    )
    frame = cached.prevalence_frame(ds, split_by)
    st.altair_chart(stats_charts.prevalence_bars(frame, split_by), width="stretch")
    note = judgement_note(sorted(ds.attributes, key=lambda a: a not in ("Attractive", "Male", "Young", "Pale_Skin")))
    st.caption(
        "Dashed lines at 10% and 70%; hover a bar for its count. Every label was given by annotators looking at "
        "each image. " + (note or "")
    )


def _restore_split(ds: Dataset, options: list[str]) -> None:
    """split=partition or split=<attribute> opens the bars split that way."""
    wanted = st.query_params.get("split")
    if state.PREVALENCE_SPLIT in st.session_state or wanted is None:
        return
    if wanted in options:
        st.session_state[state.PREVALENCE_SPLIT] = wanted
    elif wanted in ds.attributes:
        st.session_state[state.PREVALENCE_SPLIT] = "an attribute"
        st.session_state[state.PREVALENCE_SPLIT_ATTRIBUTE] = wanted


def donut_section(ds: Dataset) -> None:
    """A present/absent donut for every picked attribute, side by side."""
    st.header("Present vs absent")
    if not ds.attributes:
        st.caption(NO_ATTRIBUTES)
        return
    default = [a for a in DEFAULT_DONUTS if a in ds.attributes] or list(ds.attributes[:3])
    picked = links.synced_multiselect("donuts", state.DONUT_ATTRIBUTES, "Attributes", ds.attributes, default)
    if not picked:
        st.caption("Pick attributes to see their share of images.")
        return
    rel = cached.relation_stats(ds, Subset())
    per_row = 4
    for start in range(0, len(picked), per_row):
        cols = st.columns(per_row)
        for col, attribute in zip(cols, picked[start : start + per_row]):
            present = int(rel.counts[rel.index(attribute)])
            with col:
                st.markdown(f"**{attribute.replace('_', ' ')}**")
                st.altair_chart(stats_charts.donut(attribute, present, rel.n), width="content")
                st.caption(f"{attribute}: yes in {Rate(present, rel.n).describe()}")
                st.markdown(":blue[■] yes (present) · :gray[■] no")
    note = judgement_note(picked)
    if note:
        st.caption(f"**About these labels.** {note}")


def _identity_label(counts: dict[str, int]):
    return lambda identity: f"{identity} ({counts.get(identity, 0)} images)"


def identity_section(ds: Dataset) -> None:
    """Images-per-identity histogram; one picked identity's images and how its attributes vary."""
    st.header("Identities")
    if not ds.has_identity:
        st.info("This dataset has no identity labels.")
        return
    counts = cached.identity_counts(ds)
    st.caption(
        f"{fmt.count(len(counts))} identities; images per identity: median "
        f"{fmt.decimal(counts['images'].median(), 0)}, min {counts['images'].min()}, max {counts['images'].max()}."
    )
    st.altair_chart(stats_charts.identity_histogram(counts), width="stretch")
    by_id = dict(zip(counts["identity"], counts["images"]))
    links.restore(state.IDENTITY, "identity", valid=by_id.__contains__)  # a shared link opens on that person
    options = long_lists.searchable_options(
        counts["identity"].tolist(),
        [st.session_state.get(state.IDENTITY)],
        "identities",
        state.IDENTITY_SEARCH,
        "most images first",
    )
    identity = st.selectbox(
        "Identity",
        options,
        index=None,
        key=state.IDENTITY,
        format_func=_identity_label(by_id),
        placeholder="Pick an identity",
    )
    links.remember("identity", identity)
    if identity is None:
        return
    subset = Subset(identities=(identity,))
    rows = cached.subset_rows(ds, subset)
    profile = stats.identity_profile(cached.subset_matrix(ds, subset), ds.attributes)
    varies = profile.loc[profile["kind"] == "varies", "attribute"].tolist()
    st.subheader(f"Identity {identity}: {len(rows)} images")
    st.markdown(f"**Changes within this person ({len(varies)}):** {', '.join(varies) or 'none'}")
    always = profile.loc[profile["kind"] == "always", "attribute"].tolist()
    st.markdown(f"**Always present ({len(always)}):** {', '.join(always) or 'none'}")
    st.caption(f"Never present: {int((profile['kind'] == 'never').sum())} attributes.")
    left, right = st.columns([1, 1])
    with left:
        image_grid(ds, ds.table["image_id"].gather(rows[:60]).to_list(), columns=5)
        if len(rows) > 60:
            st.caption(f"Showing 60 of {len(rows)} images.")
    with right:
        st.altair_chart(stats_charts.identity_profile_bars(profile), width="stretch")


def _captions(ds: Dataset, rows: np.ndarray) -> list[str]:
    part = ds.table[rows]
    attrs = cached.attribute_matrix(ds)[rows]
    captions = []
    for k, (image_id, identity) in enumerate(zip(part["image_id"], part["identity"])):
        present = ", ".join(a for a, v in zip(ds.attributes, attrs[k]) if v)
        who = f" · id {identity}" if identity is not None else ""
        captions.append(f"{image_id}{who} · {present or 'no attributes'}")
    return captions


def gallery_section(ds: Dataset) -> None:
    """Filtered, paged thumbnail grid with the count of matching images."""
    st.header("Gallery")
    with st.expander("Filters", expanded=True):
        subset = subset_ui(ds, key=state.GALLERY_FILTER, identities=True)
    rows = cached.subset_rows(ds, subset)
    st.metric("Matching images", fmt.count(len(rows)), help=f"Images that pass every filter ({subset.describe()}).")
    if not len(rows):
        st.info("No images match these filters. Remove a condition or pick another partition.")
        return
    if not ds.has_images:
        st.info(f"{images_missing_text(ds)} The count above already applies.")
        return
    pages = max(1, math.ceil(len(rows) / GALLERY_PAGE_SIZE))
    links.restore(state.GALLERY_PAGE, "page", int, links.between(1, pages))
    if st.session_state.get(state.GALLERY_PAGE, 1) > pages:  # the filter shrank the result
        st.session_state[state.GALLERY_PAGE] = 1
    page = int(st.number_input(f"Page (of {fmt.count(pages)})", 1, pages, 1, key=state.GALLERY_PAGE))
    links.remember("page", page, 1)
    shown = rows[(page - 1) * GALLERY_PAGE_SIZE : page * GALLERY_PAGE_SIZE]
    ids, captions = ds.table["image_id"].gather(shown).to_list(), _captions(ds, shown)
    for start in range(0, len(ids), GALLERY_COLUMNS):  # one grid per row keeps rows aligned under long captions
        image_grid(ds, ids[start : start + GALLERY_COLUMNS], captions[start : start + GALLERY_COLUMNS], GALLERY_COLUMNS)
