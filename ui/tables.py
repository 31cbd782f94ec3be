"""Lists shown in the browser: at most MAX_ROWS rows of any of them, whatever the size of the dataset.

At CelebA's size a list of suspects, faces or clusters can hold tens of thousands of rows; a browser table of them
is slow to send and to scroll and nobody reads it. The page shows the first MAX_ROWS (in the list's own order, most
relevant first) and says where the rest are (a CSV download, a count).
"""

from __future__ import annotations

import streamlit as st

from core import format as fmt

MAX_ROWS = 1_000


def first_rows(frame, what: str, rest: str, verb: str = "Listing"):
    """The first MAX_ROWS rows of a polars or pandas frame; when there are more, a caption says so ("Listing 1,000
    of the 12,345 suspects, likeliest first; the CSV download lists them all.")."""
    if len(frame) <= MAX_ROWS:
        return frame
    st.caption(f"{verb} {fmt.count(MAX_ROWS)} of the {fmt.count(len(frame))} {what}; {rest}.")
    return frame.head(MAX_ROWS)
