"""Every choice that shapes a page's view, mirrored in the URL (st.query_params), so a shared link reopens it.

A widget keeps its own session key; `restore` seeds that key from the URL parameter the first time the widget
appears in a session (a link opened in a new tab), `remember` writes the widget's value back after it is drawn
and drops it when it is the default, so links stay short. Names are listed in README ("Links to a view").

Written by the page rather than with `bind="query-params"`: a bound widget's URL is updated by the browser only,
so a test could not read it, and bound names cannot be set from code (a chart click choosing a pair, a choice
that is invalid for the data switching back to a default).

Back and Forward (`follow_history`): the browser keeps one entry per page visited (ui/history.js turns Streamlit's
push of every address change into a replace of the page's own entry), and a run that Back or Forward started takes
its view from the address restored: every view key of the session is dropped first, so each widget is seeded from
the address again (or starts at its default when the address leaves it out) instead of keeping the value it had
on the page the user left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.data.dataset import Dataset
from core.data.subset import Subset, parse_where, where_text
from ui import state

NO_PHOTOS = "Uploaded or camera photos are never put in a link: whoever opens it chooses their own photo."
HISTORY_SCRIPT = Path(__file__).with_name("history.js")
HISTORY_CONTAINER = "faceatlas-history"  # the hidden sidebar container holding the script


def _text(value: Any) -> str:
    """A value as the URL shows it: booleans 1/0, whole floats without '.0', lists comma-separated."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    return str(value)


def as_bool(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(text)
    return text == "1"


def as_list(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


@cache
def _history_script() -> str:
    return f"<script>{HISTORY_SCRIPT.read_text()}</script>"


def install_history() -> None:
    """Once per browser tab (every page calls it first): one history entry per page visited (ui/history.js)."""
    with st.sidebar.container(key=HISTORY_CONTAINER):
        st.html(_history_script(), unsafe_allow_javascript=True)
    st.html(f"<style>.st-key-{HISTORY_CONTAINER} {{ display: none; }}</style>")  # style alone takes no space


def from_history() -> bool:
    """True in a run the browser's Back or Forward button started (Streamlit's script-run context says so)."""
    ctx = get_script_run_ctx()
    return bool(getattr(ctx, "is_history_navigation", False))


def follow_history() -> None:
    """In a run Back or Forward started, drop every view key of the session (ui/state.is_view_key) before any
    widget is drawn: the address restored is the view, so each widget is seeded from it again, not from the value
    it had when the user left that page or changed it since."""
    if not from_history():
        return
    for key in [k for k in st.session_state if state.is_view_key(str(k))]:
        del st.session_state[key]


def restore(key: str, name: str, parse: Callable[[str], Any] = str, valid: Callable[[Any], bool] | None = None) -> None:
    """Before a widget is drawn: seed its session key from URL parameter `name` when the session has no value yet.

    A value the data cannot take (an attribute this dataset lacks, a number out of range) is ignored, and a
    value kept from another dataset that is no longer valid is dropped, so the widget falls back to its default.
    """
    if key in st.session_state:
        if valid is not None and not valid(st.session_state[key]):
            del st.session_state[key]
        return
    raw = st.query_params.get(name)
    if raw is None:
        return
    try:
        value = parse(raw)
    except (ValueError, TypeError, LookupError, StopIteration):  # a value the parser cannot map: the default stays
        return
    if valid is None or valid(value):
        st.session_state[key] = value


def remember(name: str, value: Any, default: Any = None) -> None:
    """After a widget is drawn: put its value in the URL, or take the parameter out when it is the default."""
    if value is None or value == default or (isinstance(value, list | tuple) and list(value) == list(default or [])):
        forget(name)
        return
    text = _text(value)
    if st.query_params.get(name) != text:  # every write sends the browser a message: only on change
        st.query_params[name] = text


def forget(*names: str) -> None:
    """Take parameters out of the URL (a widget that is not shown any more)."""
    for name in names:
        if name in st.query_params:
            del st.query_params[name]


def synced(
    name: str,
    key: str,
    default: Any,
    draw: Callable[[], Any],
    parse: Callable[[str], Any] = str,
    valid: Callable[[Any], bool] | None = None,
) -> Any:
    """restore, draw the widget, remember: the usual three steps around one widget; returns its value."""
    restore(key, name, parse, valid)
    value = draw()
    remember(name, value, default)
    return value


def synced_multiselect(
    name: str,
    key: str,
    label: str,
    options: list,
    default: list | None = None,
    valid: Callable[[Any], bool] | None = None,
    **widget_args: Any,
) -> list:
    """A multiselect kept in the link as name=a,b (restore, draw, remember): it starts at `default` until the session
    or the link holds a choice; `valid` (all_of the options unless given) judges a value from the link."""
    default = list(default or [])

    def draw() -> list:
        start = None if key in st.session_state else default  # a widget seeded by its key takes no default too
        return st.multiselect(label, options, default=start, key=key, **widget_args)

    return synced(name, key, default, draw, as_list, valid or all_of(options))


def one_of(options: Iterable) -> Callable[[Any], bool]:
    allowed = set(options)
    return lambda value: value in allowed


def all_of(options: Iterable) -> Callable[[Any], bool]:
    allowed = set(options)
    return lambda values: isinstance(values, list | tuple) and all(v in allowed for v in values)


def between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int | float) and low <= value <= high


# ---- the Subset filter: where=Attr:1,Attr:0  part=train  ids=a,b  top=N


def restore_conditions(ds: Dataset, key: str) -> None:
    """Seed the attribute filter's multiselect and its present/absent radios from `where`."""
    if state.filter_attributes(key) in st.session_state:
        return
    try:
        conditions = parse_where(st.query_params.get("where", ""))
    except ValueError:
        return
    conditions = tuple((a, v) for a, v in conditions if a in ds.attributes)
    if conditions:
        st.session_state[state.filter_attributes(key)] = [a for a, _ in conditions]
        for attribute, value in conditions:
            st.session_state[state.filter_value(key, attribute)] = "present" if value else "absent"


def remember_subset(subset: Subset) -> None:
    """where, part, ids and top of a Subset filter."""
    remember("where", where_text(subset.conditions), "")
    remember("part", subset.partition)
    remember("ids", list(subset.identities), [])
    remember("top", subset.top_identities, 0)


# ---- the "Copy link to this view" control


def current_link() -> str:
    """This page's address with the current parameters (relative when the browser's address is not known)."""
    base = st.context.url or ""
    query = urlencode(st.query_params.to_dict(), safe=",:")  # Male:1,Smiling:0 stays readable
    return f"{base}?{query}" if query else base or "?"


def link_control(photos: bool = False):
    """A 'Copy link to this view' popover near the title; fill it with `share(slot)` once the page is drawn.

    Drawn first so it sits at the top; its content is written at the end, when every widget has put its
    choice in the URL. Returns the slot (already showing the link so far, in case the page stops early).
    """
    pop = st.popover("Copy link to this view", icon=":material/link:")
    with pop:
        st.caption(
            "Anyone who opens this link sees this page with the same dataset and choices (on this server). "
            + (NO_PHOTOS if photos else "")
        )
        slot = st.empty()
    slot.code(current_link(), language=None, wrap_lines=True)
    return slot


def share(slot) -> None:
    """Write the final link of this view into the slot link_control made."""
    slot.code(current_link(), language=None, wrap_lines=True)
