"""A private FaceAtlas cache root for a block of code: used by the test fixtures and by the benches that must not
be helped by results stored earlier."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def clear_streamlit_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


@contextmanager
def private_cache(path: Path) -> Iterator[Path]:
    """FACEATLAS_CACHE points at `path` inside the block (Streamlit's in-memory caches emptied on the way in and
    out, so nothing computed under one root is served under the other); the old value is restored after."""
    old = os.environ.get("FACEATLAS_CACHE")
    os.environ["FACEATLAS_CACHE"] = str(path)
    clear_streamlit_caches()
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("FACEATLAS_CACHE", None)
        else:
            os.environ["FACEATLAS_CACHE"] = old
        clear_streamlit_caches()
