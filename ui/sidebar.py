"""The sidebar dataset picker every page starts with."""

from __future__ import annotations

import os

import streamlit as st

from core import cached
from core.cli.demo import demo_job_spec
from core.cli.embed import embed_job_spec
from core.data.artifacts import recent_notices
from core.data.dataset import Dataset
from core.data.embeddings import list_embeddings
from core.data.paths import demo_dir
from core.demo import demo_exists
from core.errors import DatasetError
from core.jobs import job_status, start_job
from ui import state
from ui.jobs import failure_text, job_progress_line, wait_for

DEMO_DRAW_ESTIMATE_S = 75  # 6,000 demo faces on 2 cores (docs/bench/demo.md): said before the first progress

DEMO_BANNER = (
    "**Synthetic demo data.** These cartoon faces and their labels were drawn by FaceAtlas itself "
    "so that every page works offline. To explore the real CelebA, put its files in `data/celeba/` "
    "(see the README) and pick it here."
)


def ensure_demo() -> None:
    """On a fresh home, draw the demo once and wait for it with every visitor.

    The drawing is a background job (`python -m core demo`): its worker processes never import a page, and a
    second visitor arriving meanwhile follows the same job instead of starting another (start_job is locked).
    The demo's marker file is written last, so a drawing killed half-way is never taken for a finished one:
    the next visit starts it again.
    """
    out = demo_dir()
    if demo_exists(out):
        return
    job = demo_job_spec(out)
    status = job_status(job.job_id)
    if status is None or status.finished:
        start_job(job.kind, list(job.argv))
    status = wait_for(job.job_id, "Drawing the demo dataset (first start only)", DEMO_DRAW_ESTIMATE_S)
    if status is not None and status.state == "done" and demo_exists(out):
        cached.dataset_refs.clear()
        st.rerun()
    st.error(f"Drawing the demo dataset did not finish: {failure_text(status)} Reload the page to try again.")
    st.stop()


def start_demo_embeddings(ds: Dataset) -> None:
    """The demo's face embeddings are computed without a click, once, right after it is drawn (a background job)."""
    if not (ds.is_demo and auto_embed_enabled()) or list_embeddings(ds):
        return
    job = embed_job_spec(ds)
    status = job_status(job.job_id)
    if status is None:  # never tried: a failure or cancellation is left for the user to retry, not looped
        start_job(job.kind, list(job.argv))
        status = job_status(job.job_id)
    if status is not None and not status.finished:
        with st.sidebar:
            job_progress_line(job.job_id, "Computing the demo's face embeddings")
            st.caption("Face search and clustering by identity become available when it ends.")


def auto_embed_enabled() -> bool:
    """FACEATLAS_AUTO_EMBED=0 turns the automatic embedding of the demo off (the tests do)."""
    return os.environ.get("FACEATLAS_AUTO_EMBED", "1") != "0"


def _on_pick() -> None:
    st.session_state[state.SELECTED_DATASET] = st.session_state[state.DATASET_PICKER]


def dataset_picker() -> Dataset:
    """Sidebar selectbox over the datasets found; the choice lives in session state and the URL."""
    ensure_demo()
    refs = cached.dataset_refs()
    if not refs:
        st.info("No datasets found under data/. Run `make run` to draw the demo, or add a dataset folder.")
        st.stop()
    names = [r.name for r in refs]
    if state.SELECTED_DATASET not in st.session_state or st.session_state[state.SELECTED_DATASET] not in names:
        wanted = st.query_params.get("dataset")
        st.session_state[state.SELECTED_DATASET] = wanted if wanted in names else names[0]
    st.session_state[state.DATASET_PICKER] = st.session_state[state.SELECTED_DATASET]
    st.sidebar.selectbox(
        "Dataset",
        names,
        key=state.DATASET_PICKER,
        on_change=_on_pick,
        help="Folders under data/ (and FACEATLAS_DATA) that FaceAtlas recognises.",
    )
    name = st.session_state[state.SELECTED_DATASET]
    st.query_params["dataset"] = name
    try:
        ds = cached.dataset(name)
    except DatasetError as exc:
        st.error(f"Cannot open {name}: {exc}")
        st.stop()
    for notice in recent_notices(ds.key):
        if st.session_state.setdefault(state.REPAIR_NOTICES_SHOWN, set()).isdisjoint({notice}):
            st.session_state[state.REPAIR_NOTICES_SHOWN].add(notice)
            st.sidebar.info(notice, icon=":material/build:")
    start_demo_embeddings(ds)
    if ds.is_demo:
        st.sidebar.caption("Synthetic demo dataset")
    return ds


def demo_banner(ds: Dataset) -> None:
    if ds.is_demo:
        st.info(DEMO_BANNER, icon=":material/science:")
