"""The map's faces channel: a small components-v2 module (ui/map_faces.js, shipped with the app) beside the WebGL map
that asks for the faces of the tiles the map needs and reports the view the map shows.

Faces travel here rather than with the map: the map's blob (megabytes) is sent once and reused by reference on every
rerun, while each answer here is a few hundred kilobytes for the tiles in view only, built from the sprite atlas in
milliseconds (core/charts/cluster.py faces_message), in a fragment of its own so neither a request nor a moving view
reruns the map and its faces panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import streamlit as st

SCRIPT = Path(__file__).with_name("map_faces.js")


@dataclass(frozen=True)
class ChannelState:
    """What the browser last said: the tiles it wants (request number seq) and the view it shows, for one map."""

    version: str  # the map (core/charts/cluster.py map_version) both are about
    seq: int = 0
    tiles: tuple[int, ...] = ()
    view: tuple[float, float, float] | None = None  # centre x, y (data units), zoom over the whole map


@cache
def _component():
    return st.components.v2.component("faceatlas_map_faces", js=SCRIPT.read_text())


def read_channel(raw, version: str) -> ChannelState:
    """The channel's state as the browser set it (st.session_state[key]), for map `version`; anything malformed or
    about another map reads as nothing asked."""
    state = ChannelState(version)
    if not hasattr(raw, "get"):
        return state
    want, view = raw.get("want"), raw.get("view")
    try:
        if isinstance(want, dict) and want.get("version") == version:
            tiles = tuple(int(t) for t in want.get("tiles", ())[:100_000])
            state = ChannelState(version, int(want.get("seq", 0)), tiles)
        if isinstance(view, dict) and view.get("version") == version:
            values = tuple(float(v) for v in view.get("view", ()))
            if len(values) == 3 and all(abs(v) < 1e12 for v in values) and values[2] > 0:
                state = ChannelState(version, state.seq, state.tiles, values)
    except (TypeError, ValueError):
        return ChannelState(version)
    return state


def faces_channel(message: bytes, key: str) -> None:
    """Send `message` (a faces message, or the channel's header alone) to the browser's channel."""
    _component()(
        key=key,
        data=message,
        default={"want": None, "view": None},
        on_want_change=lambda: None,
        on_view_change=lambda: None,
    )
