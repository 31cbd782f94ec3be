"""The WebGL map widget: every point drawn by the browser's GPU (ui/scatter_gl.js, a Streamlit components-v2 module
shipped with the app, so it works offline), with pan, zoom, hover and click/box/lasso selection."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st

SCRIPT = Path(__file__).with_name("scatter_gl.js")


@cache
def _component():
    return st.components.v2.component("faceatlas_scatter_gl", js=SCRIPT.read_text())


def scatter_gl(blob: bytes, key: str) -> dict | None:
    """Draw a core.charts.cluster.webgl_map blob; returns the selection's shape ({version, kind, ...}) or None."""
    result = _component()(key=key, data=blob, default={"selection": None}, on_selection_change=lambda: None)
    selection = result.get("selection") if result is not None else None
    return selection if isinstance(selection, dict) else None
