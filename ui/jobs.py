"""A live panel for a background job: progress, rate, time left, cancel."""

from __future__ import annotations

import streamlit as st

from core.jobs import cancel_job, job_status


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"


def job_panel(job_id: str, label: str) -> None:
    """Refreshes every second while the job runs; reruns the page once when it ends."""

    @st.fragment(run_every=1.0)
    def _panel() -> None:
        status = job_status(job_id)
        if status is None:
            return
        if status.finished:
            if status.state == "failed":
                st.error(f"{label} failed: {status.error}")
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
