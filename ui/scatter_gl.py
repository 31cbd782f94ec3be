"""The WebGL map widget: every point drawn by the browser's GPU (ui/scatter_gl.js, a Streamlit components-v2 module
shipped with the app, so it works offline), with pan, zoom, hover and click/box/lasso selection.

The map's blob (megabytes at CelebA's size) is sent whole once; later runs of the page send its header alone, which
the browser matches by digest against the map it holds: Streamlit copies and hashes a component's data on every run
(~50 ms for 2.8 MB on 2 busy cores), and a selection reruns the map. A browser that no longer holds it (the map drawn
anew elsewhere, its memory gone) asks for it again ("need")."""

from __future__ import annotations

import json
import struct
from functools import cache
from pathlib import Path

import streamlit as st

from ui import state as keys

SCRIPT = Path(__file__).with_name("scatter_gl.js")


@cache
def _component():
    return st.components.v2.component("faceatlas_scatter_gl", js=SCRIPT.read_text())


def scatter_gl(blob: bytes, key: str) -> dict | None:
    """Draw a core.charts.cluster.webgl_map blob; returns the selection's shape ({version, kind, ...}) or None."""
    (length,) = struct.unpack_from("<I", blob)
    digest = json.loads(blob[4 : 4 + length])["digest"]
    asked = st.session_state.get(key)
    need = asked.get("need") if hasattr(asked, "get") else None
    held = st.session_state.setdefault(keys.MAP_GL_SENT, {})
    whole = held.get(key) != (digest, need)  # a new map, or the browser asked for this one again
    held[key] = (digest, need)
    result = _component()(
        key=key,
        data=blob if whole else blob[: 4 + length],
        default={"selection": None, "need": None},
        on_selection_change=lambda: None,
        on_need_change=lambda: None,
    )
    selection = result.get("selection") if result is not None else None
    return selection if isinstance(selection, dict) else None
