"""Background jobs in a page: the one launcher widget every page uses, and the live panel it shows."""

from __future__ import annotations

import time

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import format as fmt
from core.cli.embed import embed_job_spec
from core.data.dataset import Dataset
from core.errors import FaceAtlasError, QueueFullError
from core.jobs import JobSpec, JobStatus, cancel_job, job_status, start_job
from ui import state
from ui.demo_drawing import images_missing_text, is_drawing

# Embedding throughput at 2 workers on 2 cores (docs/bench/faces.md): aligned crops 39/s, wild photos 11/s.
EMBED_RATE_ALIGNED = 39.0
EMBED_RATE_PHOTOS = 11.0
EMBED_START_SECONDS = 10.0  # loading the face models in each worker


def session_owner() -> str | None:
    """The browser session asking for a job (what the per-visitor bound of the job queue counts)."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def queue_job(job: JobSpec) -> str | None:
    """Start the job (or join it, when it runs or waits already): its id; when the queue is full, a warning saying
    when to try again, and None; when the server cannot record it (a full disk), an error saying so, and None."""
    try:
        return start_job(job.kind, list(job.argv), owner=session_owner())
    except QueueFullError as exc:
        st.warning(str(exc))
    except FaceAtlasError as exc:  # the server cannot record the job (a full disk)
        st.error(str(exc))
    return None


def failure_text(status: JobStatus | None) -> str:
    """Why a job did not finish, in one plain sentence, and where its full log is (never the log itself)."""
    if status is None:
        return "it did not start."
    if status.state == "cancelled":
        return "it was cancelled."
    reason = (status.error or "it stopped").rstrip(". ")
    return f"{reason}. The full log is in cache/jobs/{status.job_id}/log.txt on the server."


def run_end(status: JobStatus) -> str:
    """How one run of a job ended: the same work started again reuses its job id, so a run is told apart by when it
    started, and the page reruns once for each run's end (a re-trained model appears at once)."""
    return f"{status.state}@{status.started}"


def job_progress_line(job_id: str, label: str) -> None:
    """A compact, self-refreshing progress bar (no buttons: it can sit beside the job's full panel)."""

    @st.fragment(run_every=2.0)
    def _line() -> None:
        status = job_status(job_id)
        if status is None or status.finished:
            if status is not None and st.session_state.get(state.job_line_seen(job_id)) != run_end(status):
                st.session_state[state.job_line_seen(job_id)] = run_end(status)
                st.rerun()  # the whole page: what waited for the job becomes available
            return
        left = status.eta_seconds
        when = f" · about {fmt.duration(left)} left" if left is not None else ""
        counts = f"{fmt.count(status.done)} / {fmt.count(status.total)}" if status.total else status.message
        st.progress(status.fraction, text=f"{label}: {counts}{when}")

    _line()


def embedding_seconds(ds: Dataset) -> float:
    """Expected wall time of embedding every image of a dataset on this kind of machine."""
    rate = EMBED_RATE_ALIGNED if ds.aligned else EMBED_RATE_PHOTOS
    return EMBED_START_SECONDS + ds.n_images / rate


def progress_text(status: JobStatus, label: str, expected: float | None, now: float | None = None) -> str:
    """One line: done / total, rate and time left; before the first item is done, the estimate made beforehand."""
    now = time.time() if now is None else now
    elapsed = max(0.0, now - status.started)
    measured = status.done > status.done_at_start and status.total and elapsed >= 1
    if measured:
        return (
            f"{label}: {fmt.count(status.done)} / {fmt.count(status.total)} · {fmt.decimal(status.rate, 1)}/s · "
            f"{fmt.duration(status.eta_seconds)} left"
        )
    what = status.message or "starting…"
    left = ""
    if expected and elapsed <= expected:
        left = f" · about {fmt.duration(max(expected - elapsed, 1))} left (estimate)"
    elif expected:
        left = f" · longer than the {fmt.duration(expected)} expected: the machine is busy"
    return f"{label}: {what} · {fmt.duration(elapsed)} so far{left}"


def job_panel(job_id: str, label: str, expected: float | None = None) -> None:
    """Refreshes every second while the job runs; reruns the page once when it ends.

    expected: seconds the whole job should take, shown until the job has measured its own rate.
    """

    @st.fragment(run_every=1.0)
    def _panel() -> None:
        status = job_status(job_id)
        if status is None:
            return
        if status.finished:
            if status.state == "failed":
                st.error(f"{label} failed: {failure_text(status)}")
            elif status.state == "cancelled":
                st.warning(f"{label} was cancelled; what it finished is kept and it resumes from there.")
            if st.session_state.get(state.job_seen(job_id)) != run_end(status):
                st.session_state[state.job_seen(job_id)] = run_end(status)
                st.rerun()
            return
        fraction = status.fraction
        if not status.done and expected:  # an honest bar from the first second: elapsed over expected, capped
            fraction = min(0.95, (time.time() - status.started) / expected)
        st.progress(fraction, text=progress_text(status, label, expected))
        if status.message and status.done:
            st.caption(status.message)
        if st.button("Cancel", key=f"cancel-{job_id}"):
            cancel_job(job_id)
            st.rerun()

    _panel()


def job_launcher(
    job: JobSpec | None,
    label: str,
    button: str,
    *,
    key: str,
    help: str | None = None,
    disabled: bool = False,
    remember: str | None = None,
    panel: bool = True,
    expected: float | None = None,
    auto_start: bool = False,
) -> JobStatus | None:
    """While the job (or, with `remember`, the job this session last started) runs: its live panel.

    Otherwise why its last run failed, if it did, and a button that starts it. `remember` names a session
    key that keeps the started job's id, so its panel stays while the user changes the choices behind
    `job`; panel=False shows one line instead of a second panel for a job shown elsewhere on the page.
    With job None (the choices cannot be run), only the remembered job's panel is shown. expected: seconds the
    job should take (shown on the button's help and in the panel until the job measures its own rate).
    auto_start: start the job without a click when it never ran (what the user chose needs it; a failed run
    waits for the button, so a failing job is never restarted in a loop).
    Returns the status of the job shown (None before any run).
    """
    status = job_status(job.job_id) if job is not None else None
    if auto_start and job is not None and status is None and queue_job(job) is not None:
        if remember:
            st.session_state[remember] = job.job_id
        status = job_status(job.job_id)
    remembered = st.session_state.get(remember) if remember else None
    running = status if status is not None and not status.finished else None
    if running is None and remembered:
        other = job_status(remembered)
        running = other if other is not None and not other.finished else None
    if running is not None:
        if panel:
            job_panel(running.job_id, label, expected)
        else:
            st.caption(f"{label} is running (progress shown above).")
        return running
    if job is None:
        return None
    if status is not None and status.state == "failed":
        st.error(f"The last run failed: {failure_text(status)}")
    if expected and help is None:
        help = f"Takes about {fmt.duration(expected)}; runs in the background, survives page changes, can be cancelled."
    if st.button(button, key=key, type="primary", disabled=disabled, help=help):
        job_id = queue_job(job)
        if job_id is not None:
            if remember:
                st.session_state[remember] = job_id
            st.rerun()
    return status


def embeddings_prerequisite(ds: Dataset, unlocks: str, key: str) -> None:
    """What face embeddings unlock here, how long they take, and the button that computes them (or its progress)."""
    expected = embedding_seconds(ds)
    job = embed_job_spec(ds)
    status = job_status(job.job_id)
    if is_drawing(ds):
        st.info(f"{images_missing_text(ds)} Face embeddings are computed from them, so {unlocks} comes after that.")
        return
    if not ds.has_images:
        st.info(
            f"**{ds.name} has no face embeddings** and no image files to compute them from, so {unlocks} is not "
            "available. Pick a dataset with images (or one whose CSV carries embeddings)."
        )
        return
    if status is None or status.finished:
        st.info(
            f"**{ds.name} has no face embeddings yet.** They unlock {unlocks}. Computing them takes about "
            f"{fmt.duration(expected)} for {fmt.count(ds.n_images)} images; the job runs in the background, survives "
            "page changes, can be cancelled and resumes where it stopped."
        )
    job_launcher(job, "Computing face embeddings", "Compute face embeddings", key=key, expected=expected)
