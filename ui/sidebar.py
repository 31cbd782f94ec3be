"""The sidebar dataset picker every page starts with."""

from __future__ import annotations

import streamlit as st

from core import cached
from core.data.dataset import Dataset
from core.data.paths import demo_dir
from core.demo import DEFAULT_IMAGES, demo_exists, generate_demo
from core.errors import DatasetError

SELECTED = "selected_dataset"  # session key that survives page switches
PICKER = "dataset_picker"  # the selectbox's widget key

DEMO_BANNER = (
    "**Synthetic demo data.** These cartoon faces and their labels were drawn by FaceAtlas itself "
    "so that every page works offline. To explore the real CelebA, put its files in `data/celeba/` "
    "(see the README) and pick it here."
)


def ensure_demo() -> None:
    """Draw the demo dataset on first start, with a progress bar."""
    out = demo_dir()
    if demo_exists(out):
        return
    bar = st.progress(0.0, text="Drawing the demo dataset (first start only)…")

    def show(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Drawing the demo dataset: {done:,} / {total:,} faces")

    generate_demo(out, n_images=DEFAULT_IMAGES, progress=show)
    bar.empty()
    cached.dataset_refs.clear()


def _on_pick() -> None:
    st.session_state[SELECTED] = st.session_state[PICKER]


def dataset_picker() -> Dataset:
    """Sidebar selectbox over the datasets found; the choice lives in session state and the URL."""
    ensure_demo()
    refs = cached.dataset_refs()
    if not refs:
        st.info("No datasets found under data/. Run `make run` to draw the demo, or add a dataset folder.")
        st.stop()
    names = [r.name for r in refs]
    if SELECTED not in st.session_state or st.session_state[SELECTED] not in names:
        wanted = st.query_params.get("dataset")
        st.session_state[SELECTED] = wanted if wanted in names else names[0]
    st.session_state[PICKER] = st.session_state[SELECTED]
    st.sidebar.selectbox(
        "Dataset",
        names,
        key=PICKER,
        on_change=_on_pick,
        help="Folders under data/ (and FACEATLAS_DATA) that FaceAtlas recognises.",
    )
    name = st.session_state[SELECTED]
    st.query_params["dataset"] = name
    try:
        ds = cached.dataset(name)
    except DatasetError as exc:
        st.error(f"Cannot open {name}: {exc}")
        st.stop()
    if ds.is_demo:
        st.sidebar.caption("Synthetic demo dataset")
    return ds


def demo_banner(ds: Dataset) -> None:
    if ds.is_demo:
        st.info(DEMO_BANNER, icon=":material/science:")
