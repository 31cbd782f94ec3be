"""While a demo's faces are drawn: how far it is, how long it takes, and what works meanwhile.

A demo's labels are written before its faces (core.demo), so every count, chart and relation works within
seconds of a first start; the pages that need faces say that they are being drawn, with the time left, and fill
in when the drawing ends (the panel reruns the page then).
"""

from __future__ import annotations

import time

import streamlit as st

from core import format as fmt
from core.cli.demo import demo_job_spec
from core.data.dataset import Dataset
from core.data.paths import demo_dir
from core.demo import DrawingProgress, demo_stage, drawing_progress
from core.demo.estimate import START_SECONDS, expected_draw_seconds, expected_plan_seconds
from core.jobs import JobStatus, job_status
from core.processes import usable_cores
from ui import state

DRAWING_STAGES = ("labels", "images")
WHAT_NEXT = (
    "FaceAtlas shows what is in a face-attribute dataset, how its labels relate, how well they can be predicted "
    "and how faces group. The demo's labels are ready: **Dataset** and **Attribute relations** work now. "
    "Galleries, face search and clustering by face fill in when its faces are drawn; {embeddings}"
)
EMBEDDINGS_FOLLOW = "its face embeddings are then computed by themselves."
EMBEDDINGS_BUTTON = "its face embeddings can then be computed (a button on Face search and Clustering)."


def is_first_start_demo(ds: Dataset) -> bool:
    """Whether ds is the demo a fresh home draws by itself (data/demo), not one drawn by hand at another size."""
    return ds.is_demo and ds.root.resolve() == demo_dir().resolve()


def is_drawing(ds: Dataset) -> bool:
    """Whether ds is a demo whose faces are still being drawn (its labels are there)."""
    return ds.is_demo and demo_stage(ds.root) in DRAWING_STAGES


def labels_wait_text(n_images: int, workers: int, elapsed: float) -> str:
    """What the first visitor reads while the demo's labels are planned: both steps, each with its time."""
    labels = expected_plan_seconds(n_images)
    faces = START_SECONDS + expected_draw_seconds(n_images, workers)
    if elapsed <= labels:
        first = f"its labels in {fmt.about(labels - elapsed)}"
    else:  # a busy or small machine: say so, and scale the faces' time by how far behind it is
        first = f"its labels take longer than the {fmt.duration(labels)} expected (the machine is busy)"
        faces *= elapsed / labels
    return (
        f"Preparing the demo dataset (first start only): {first}; then its {fmt.count(n_images)} faces are drawn "
        f"while you look around ({fmt.about(faces)})."
    )


def progress_text(progress: DrawingProgress, now: float | None = None) -> str:
    """'Drawing the demo's faces: 1,234 / 6,000 · about 1 minute left'."""
    if progress.stage == "labels":
        return f"Writing the demo's labels, then drawing its faces · {fmt.about(progress.left_now(now))} left"
    counts = f"{fmt.count(progress.done)} / {fmt.count(progress.total)}"
    return f"Drawing the demo's faces: {counts} · {fmt.about(progress.left_now(now))} left"


def _stopped_text(ds: Dataset, progress: DrawingProgress | None) -> str:
    where = f" at {fmt.count(progress.done)} of {fmt.count(progress.total)}" if progress is not None else ""
    if is_first_start_demo(ds):
        return f"Drawing the demo's faces stopped{where}. Reload the page to resume it where it stopped."
    return (
        f"Drawing {ds.name}'s faces stopped{where}. Run the same `python -m core demo` command again to resume it "
        "where it stopped."
    )


def _drawing_job(ds: Dataset) -> JobStatus | None:
    """The first-start demo's drawing job while it runs or waits for a slot (None otherwise)."""
    status = job_status(demo_job_spec(demo_dir()).job_id) if is_first_start_demo(ds) else None
    return status if status is not None and not status.finished else None


def _expected_left(ds: Dataset) -> float | None:
    """Before the drawing job reports: the time expected beforehand, counted down since the job started."""
    status = _drawing_job(ds)
    if status is None:
        return None
    elapsed = max(0.0, time.time() - status.started)  # later than its start should take: as far behind
    return max(START_SECONDS - elapsed, 1.0) + expected_draw_seconds(ds.n_images, usable_cores()) * max(
        1.0, elapsed / START_SECONDS
    )


def time_left(ds: Dataset, progress: DrawingProgress | None) -> float | None:
    """Seconds until ds's faces are drawn: the drawer's own estimate, else the one made beforehand; None if stopped."""
    if progress is not None and progress.alive:
        return progress.left_now()
    return _expected_left(ds)


def images_missing_text(ds: Dataset) -> str:
    """Why a panel of faces is empty: the demo's faces are still being drawn (and for how long), or there are none."""
    if is_drawing(ds):
        left = time_left(ds, drawing_progress(ds.root))
        when = f" ({fmt.about(left)} left)" if left is not None else ""
        return f"The faces are still being drawn{when}; they appear here when the drawing ends."
    return "Images are not available for this dataset (annotations only)."


def drawing_panel(ds: Dataset) -> None:
    """How far the drawing of ds's faces is, refreshed every 2 s; the page reruns once when it ends."""

    @st.fragment(run_every=2.0)
    def _panel() -> None:
        if not is_drawing(ds):
            if st.session_state.get(state.DEMO_DRAWN_SEEN) != str(ds.root):
                st.session_state[state.DEMO_DRAWN_SEEN] = str(ds.root)
                st.rerun()  # the whole page: its galleries and face panels now have faces
            return
        progress = drawing_progress(ds.root)
        left = time_left(ds, progress)
        if left is None:
            st.warning(_stopped_text(ds, progress))
            return
        job = _drawing_job(ds)
        if job is not None and job.message.startswith("queued"):  # the server's job slots are all taken
            st.progress(0.0, text=f"Drawing the demo's faces: {job.message}")
        elif progress is None or not progress.alive:  # the job has not reported yet: the estimate made beforehand
            st.progress(0.0, text=f"Drawing the demo's faces · {fmt.about(left)} left (estimate)")
        else:
            st.progress(min(progress.done / max(progress.total, 1), 1.0), text=progress_text(progress, time.time()))
        st.caption(WHAT_NEXT.format(embeddings=EMBEDDINGS_FOLLOW if is_first_start_demo(ds) else EMBEDDINGS_BUTTON))

    _panel()
