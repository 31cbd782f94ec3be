"""Charts of the Face search page."""

from __future__ import annotations

import altair as alt
import numpy as np
import polars as pl

HISTOGRAM_BINS = 60


def distance_bins(distances: np.ndarray, bins: int = HISTOGRAM_BINS) -> pl.DataFrame:
    """(start, end, faces) per bin of a histogram of the distances: at most `bins` rows whatever their number, so
    the browser gets the bars, never one row per dataset face."""
    distances = np.asarray(distances, dtype=np.float64)
    if not len(distances):
        return pl.DataFrame({"start": [], "end": [], "faces": []}, schema={"start": float, "end": float, "faces": int})
    counts, edges = np.histogram(distances, bins=bins)
    return pl.DataFrame({"start": edges[:-1], "end": edges[1:], "faces": counts.astype(np.int64)})


def distance_histogram(distances: np.ndarray, threshold: float | None = None) -> alt.Chart:
    """Histogram of the distances (binned here: HISTOGRAM_BINS rows), with a rule at the same-person threshold."""
    bars = (
        alt.Chart(distance_bins(distances))
        .mark_bar()
        .encode(
            x=alt.X("start:Q", title="distance to the chosen face"),
            x2="end:Q",
            y=alt.Y("faces:Q", title="faces"),
            tooltip=[
                alt.Tooltip("start:Q", format=".3f", title="from"),
                alt.Tooltip("end:Q", format=".3f", title="to"),
                alt.Tooltip("faces:Q", format=",", title="faces"),
            ],
        )
    )
    if threshold is None:
        return bars.properties(height=220)
    rule = alt.Chart(pl.DataFrame({"t": [threshold]})).mark_rule(color="#e4572e").encode(x="t:Q")
    return (bars + rule).properties(height=220)
