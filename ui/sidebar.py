"""The sidebar dataset picker every page starts with."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import streamlit as st

from core import cached
from core import format as fmt
from core.cli.demo import demo_job_spec
from core.cli.embed import embed_job_spec
from core.data import ingest
from core.data.artifacts import recent_notices
from core.data.dataset import Dataset
from core.data.embeddings import list_embeddings
from core.data.paths import demo_dir
from core.demo import demo_exists, demo_size, labels_ready, write_labels
from core.demo.estimate import expected_plan_seconds
from core.errors import FaceAtlasError, QueueFullError
from core.jobs import job_status, start_job
from core.processes import usable_cores
from ui import links, state
from ui.demo_drawing import drawing_panel, is_drawing, is_first_start_demo, labels_wait_text
from ui.jobs import job_progress_line

log = logging.getLogger(__name__)


DEMO_BANNER = (
    "**Synthetic demo data.** These cartoon faces and their labels were drawn by FaceAtlas itself "
    "so that every page works offline. To explore the real CelebA, put its files in `data/celeba/` "
    "(see the README) and pick it here."
)


def ensure_demo() -> None:
    """On a fresh home, write the demo's labels (seconds, in this process) and start drawing its faces (a job).

    The labels are planned here, not in the background job, so the first visitor waits only for them, at full
    priority, also on a busy or small machine; a second visitor arriving meanwhile waits on the same lock and
    reads them back. The faces are drawn by a background job (`python -m core demo`, whose worker processes never
    import a page; start_job is locked, so one job serves every visitor) while every page's counts and charts
    already work (the demo banner shows how far it is). A drawing that stopped (a crash, a server restart) is
    started again once per session and resumes where it stopped; a failing one is never restarted in a loop.
    """
    out = demo_dir()
    if demo_exists(out):
        return
    if not labels_ready(out):
        _write_labels_waiting(out)
        cached.dataset_refs.clear()
    job = demo_job_spec(out)
    status = job_status(job.job_id)
    restarted = st.session_state.setdefault(state.DEMO_RESTARTED, set())
    if status is None or (status.finished and job.job_id not in restarted):
        if status is not None:
            restarted.add(job.job_id)
        try:
            start_job(job.kind, list(job.argv))
        except QueueFullError as exc:
            st.info(f"The demo's faces are drawn by a background job, which could not be queued yet. {exc}")
        except FaceAtlasError as exc:  # the server cannot record the job (a full disk)
            st.error(str(exc))


def _write_labels_waiting(out: Path, poll_s: float = 0.25) -> None:
    """Write the demo's labels while a progress bar says how long they and then the faces take."""
    n_images, workers = demo_size(), usable_cores()
    failed: list[BaseException] = []

    def work() -> None:
        try:
            write_labels(out, n_images)
        except Exception as exc:  # said on the page below, in one sentence; the details go to the log
            log.exception("writing the demo's labels into %s failed", out)
            failed.append(exc)

    bar = st.progress(0.0, text=labels_wait_text(n_images, workers, 0.0))
    worker = threading.Thread(target=work, name="demo-labels", daemon=True)  # finishes even if the visitor leaves
    started = time.monotonic()
    worker.start()
    while worker.is_alive():
        worker.join(poll_s)
        elapsed = time.monotonic() - started
        bar.progress(
            min(0.95, elapsed / expected_plan_seconds(n_images)), text=labels_wait_text(n_images, workers, elapsed)
        )
    bar.empty()
    if failed or not labels_ready(out):
        st.error(
            "Preparing the demo dataset failed: the server could not write its labels into data/demo (the details "
            "are in the server's log). Reload the page to try again."
        )
        st.stop()


def start_demo_embeddings(ds: Dataset) -> None:
    """The demo's face embeddings are computed without a click, once, right after it is drawn (a background job)."""
    if not (is_first_start_demo(ds) and ds.has_images and demo_exists(ds.root) and auto_embed_enabled()):
        return  # the first-start demo only, once every face is drawn (a demo drawn at CelebA's size waits for a click)
    if list_embeddings(ds):
        return
    job = embed_job_spec(ds)
    status = job_status(job.job_id)
    if status is None:  # never tried: a failure or cancellation is left for the user to retry, not looped
        try:
            start_job(job.kind, list(job.argv))
        except QueueFullError:  # tried again on the next visit: the embeddings are not needed to see the demo
            return
        except FaceAtlasError as exc:  # the server cannot record the job (a full disk)
            st.error(str(exc))
            return
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
    """Sidebar selectbox over the datasets found; the choice lives in session state and the URL.

    Every page calls it first, so it also keeps the browser's Back and Forward on the views of their addresses.
    """
    links.install_history()
    links.follow_history()
    ensure_demo()
    refs = cached.dataset_refs()
    if not refs:
        st.info("No datasets found under data/. Run `make run` to draw the demo, or add a dataset folder.")
        st.stop()
    names = [r.name for r in refs]
    if state.SELECTED_DATASET not in st.session_state or st.session_state[state.SELECTED_DATASET] not in names:
        wanted = st.query_params.get("dataset")
        st.session_state[state.SELECTED_DATASET] = wanted if wanted in names else names[0]
        if wanted is not None and wanted not in names:
            st.warning(unknown_dataset_text(wanted, names[0], names))
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
    except FaceAtlasError as exc:  # a file that cannot be read, a disk too full to save its parsed copy
        st.error(f"Cannot open {name}: {exc}")
        st.stop()
    for notice in recent_notices(ds.key, ds.images_key):
        if st.session_state.setdefault(state.REPAIR_NOTICES_SHOWN, set()).isdisjoint({notice}):
            st.session_state[state.REPAIR_NOTICES_SHOWN].add(notice)
            st.sidebar.info(notice, icon=":material/build:")
    start_demo_embeddings(ds)
    if ds.is_demo:
        st.sidebar.caption("Synthetic demo dataset")
    return ds


def unknown_dataset_text(wanted: str, shown: str, names: list[str]) -> str:
    """What a link whose `dataset=` names no dataset here opens instead, and why (the name shown as text only)."""
    quoted = "`" + " ".join(wanted.replace("`", "").split())[:80] + "`"  # a code span: never a link or an image
    if ingest.folder_without_dataset(wanted) is not None:
        return (
            f"{quoted} is a folder under data/, but FaceAtlas found no dataset in it (CelebA annotation files, an "
            f"embedding CSV, one folder of photos per person, or images), so {shown} is shown instead."
        )
    listed = ", ".join(names[:12]) + (f" and {fmt.count(len(names) - 12)} more" if len(names) > 12 else "")
    return (
        f"There is no dataset called {quoted} on this server (the link may be from another one), so {shown} is "
        f"shown instead. Datasets here: {listed}."
    )


def demo_banner(ds: Dataset) -> None:
    """On a demo: while its faces are drawn, how far and what works meanwhile; then that it is synthetic."""
    if ds.is_demo:
        if is_drawing(ds):
            drawing_panel(ds)
        st.info(DEMO_BANNER, icon=":material/science:")
