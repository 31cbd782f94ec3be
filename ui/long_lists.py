"""Pickers for lists too long to send whole: CelebA's 10,177 identities, a classifier's 20,323 test faces.

Every option of a selectbox travels to the browser on every rerun of its page and is filtered there as one types (a
10,177-identity selectbox was a 180 kB message; picking one took 1.8 s). Above LISTED choices a search box comes
first: the picker lists the first LISTED choices that contain what was typed, plus whatever is already chosen (a
shared link may open any).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import streamlit as st

from core import format as fmt

LISTED = 500  # options sent to the browser at most (plus the chosen ones)


def listed_choices(
    choices: Sequence[str], chosen: Iterable[str | None], limit: int | None = None, among: Sequence[str] | None = None
) -> list[str]:
    """The first `limit` choices, then each chosen one not among them that is one of `among` (default: the
    choices), in the order chosen: a picker's current value must stay an option, whatever a search lists."""
    limit = LISTED if limit is None else limit
    listed = list(choices[:limit])
    valid = set(choices if among is None else among)
    shown = set(listed)
    for value in chosen:
        if value is not None and value in valid and value not in shown:
            listed.append(value)
            shown.add(value)
    return listed


def matching(choices: Sequence[str], query: str) -> list[str]:
    """The choices that contain `query` (case and surrounding spaces ignored), in their order."""
    needle = query.strip().casefold()
    return list(choices) if not needle else [c for c in choices if needle in str(c).casefold()]


def searchable_options(
    choices: Sequence[str], chosen: Iterable[str | None], noun: str, search_key: str, order: str
) -> list[str]:
    """The options for a picker of `choices`: all of them when they are few; else a search box above the picker,
    and the first LISTED matches plus the chosen ones, with a caption saying what is listed.

    noun: plural, lower case ("identities"); order: how the choices are ordered ("most images first")."""
    if len(choices) <= LISTED:
        return list(choices)
    query = st.text_input(
        f"Find {noun}", key=search_key, placeholder="type part of one", help=f"{fmt.count(len(choices))} {noun}"
    )
    found = matching(choices, query)
    if not query.strip():
        st.caption(
            f"Listing the first {fmt.count(LISTED)} of {fmt.count(len(choices))} {noun} ({order}): type above to find any other."
        )
    elif not found:
        st.caption(f"No {noun} contain “{query.strip()}”.")
    elif len(found) > LISTED:
        st.caption(
            f"Listing the first {fmt.count(LISTED)} of {fmt.count(len(found))} {noun} that contain “{query.strip()}” ({order})."
        )
    else:
        st.caption(f"{fmt.count(len(found))} {noun} contain “{query.strip()}”.")
    return listed_choices(found, chosen, among=choices)
