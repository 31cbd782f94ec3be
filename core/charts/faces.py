"""Charts of the Face search page."""

from __future__ import annotations

import altair as alt
import polars as pl


def distance_histogram(frame: pl.DataFrame, threshold: float | None = None) -> alt.Chart:
    """Histogram of the `distance` column, with a rule at the same-person threshold when given."""
    base = alt.Chart(frame.select("distance"))
    bars = base.mark_bar().encode(
        x=alt.X("distance:Q", bin=alt.Bin(maxbins=60), title="distance to the chosen face"),
        y=alt.Y("count():Q", title="faces"),
    )
    if threshold is None:
        return bars.properties(height=220)
    rule = alt.Chart(pl.DataFrame({"t": [threshold]})).mark_rule(color="#e4572e").encode(x="t:Q")
    return (bars + rule).properties(height=220)
