"""Background jobs in a page: the one launcher widget every page uses, and the live panel it shows."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from core.data.paths import PROJECT_ROOT
from core.jobs import JobSpec, JobStatus, cancel_job, job_status, start_job


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"


def failure_text(status: JobStatus | None) -> str:
    """Why a job did not finish, in one plain sentence, and where its full log is (never the log itself)."""
    if status is None:
        return "it did not start."
    if status.state == "cancelled":
        return "it was cancelled."
    return f"{status.error or 'it stopped'}. The full log is in {_shown_path(status.log_path)}."


def _shown_path(path: str) -> str:
    """A log path relative to the project (what a person running the server can open)."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return path


def wait_for(job_id: str, label: str, estimate_s: float, poll_s: float = 0.5) -> JobStatus | None:
    """Block this script run until the job ends, with a progress bar that says what happens and how long it takes."""
    bar = st.progress(0.0, text=f"{label}: starting (about {_fmt_seconds(estimate_s)})…")
    started = time.monotonic()
    while True:
        status = job_status(job_id)
        if status is None or status.finished:
            bar.empty()
            return status
        if status.total and status.done:
            left = status.eta_seconds
        else:
            left = max(estimate_s - (time.monotonic() - started), 5)
        counts = f"{status.done:,} / {status.total:,} · " if status.total else ""
        detail = status.message if status.state == "queued" else f"about {_fmt_seconds(left)} left"
        bar.progress(status.fraction, text=f"{label}: {counts}{detail}")
        time.sleep(poll_s)


def job_progress_line(job_id: str, label: str) -> None:
    """A compact, self-refreshing progress bar (no buttons: it can sit beside the job's full panel)."""

    @st.fragment(run_every=2.0)
    def _line() -> None:
        status = job_status(job_id)
        if status is None or status.finished:
            if status is not None and st.session_state.get(f"line-seen-{job_id}") != status.state:
                st.session_state[f"line-seen-{job_id}"] = status.state
                st.rerun()  # the whole page: what waited for the job becomes available
            return
        left = status.eta_seconds
        when = f" · about {_fmt_seconds(left)} left" if left is not None else ""
        counts = f"{status.done:,} / {status.total:,}" if status.total else status.message
        st.progress(status.fraction, text=f"{label}: {counts}{when}")

    _line()


def job_panel(job_id: str, label: str) -> None:
    """Refreshes every second while the job runs; reruns the page once when it ends."""

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
            if st.session_state.get(f"seen-{job_id}") != status.state:
                st.session_state[f"seen-{job_id}"] = status.state
                st.rerun()
            return
        text = f"{label}: {status.done:,} / {status.total:,} · {status.rate:.1f}/s · {_fmt_seconds(status.eta_seconds)} left"
        st.progress(status.fraction, text=text if status.total else f"{label}: {status.message}")
        if status.message:
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
) -> JobStatus | None:
    """While the job (or, with `remember`, the job this session last started) runs: its live panel.

    Otherwise why its last run failed, if it did, and a button that starts it. `remember` names a session
    key that keeps the started job's id, so its panel stays while the user changes the choices behind
    `job`; panel=False shows one line instead of a second panel for a job shown elsewhere on the page.
    With job None (the choices cannot be run), only the remembered job's panel is shown.
    Returns the status of the job shown (None before any run).
    """
    status = job_status(job.job_id) if job is not None else None
    remembered = st.session_state.get(remember) if remember else None
    running = status if status is not None and not status.finished else None
    if running is None and remembered:
        other = job_status(remembered)
        running = other if other is not None and not other.finished else None
    if running is not None:
        if panel:
            job_panel(running.job_id, label)
        else:
            st.caption(f"{label} is running (progress shown above).")
        return running
    if job is None:
        return None
    if status is not None and status.state == "failed":
        st.error(f"The last run failed: {failure_text(status)}")
    if st.button(button, key=key, type="primary", disabled=disabled, help=help):
        job_id = start_job(job.kind, list(job.argv))
        if remember:
            st.session_state[remember] = job_id
        st.rerun()
    return status
