"""At most one heavy query (face detection on a photo, a prediction) per session at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from ui import state


@contextmanager
def one_heavy_query(what: str) -> Iterator[None]:
    """Run the block unless this session's previous heavy query still runs; then say so and stop the page."""
    lock = st.session_state.setdefault(state.HEAVY_QUERY_LOCK, threading.Lock())
    if not lock.acquire(blocking=False):
        st.info(f"Still working on your previous {what}: this one starts when it is done. Wait a moment and retry.")
        st.stop()
    try:
        yield
    finally:
        lock.release()
