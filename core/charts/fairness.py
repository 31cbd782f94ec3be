"""Altair chart of the fairness audit: accuracy against the true-positive-rate gap, one threshold vs one per group."""

from __future__ import annotations

import altair as alt
import pandas as pd

from core.classify.fairness import Tradeoff, TradeoffPoint

KINDS = {"one threshold": "#4c78a8", "per-group thresholds": "#f58518"}


def _row(point: TradeoffPoint, marked: str = "") -> dict:
    return {
        "kind": point.kind,
        "accuracy": point.accuracy,
        "tpr_gap": point.tpr_gap,
        "thresholds": ", ".join(f"{t:.2f}" for t in point.thresholds),
        "target_tpr": point.target_tpr,
        "marked": marked,
    }


def tradeoff_frame(tradeoff: Tradeoff) -> pd.DataFrame:
    """One row per trade-off point (kind, accuracy, tpr_gap, thresholds, target_tpr, marked)."""
    rows = [_row(p) for p in (*tradeoff.shared, *tradeoff.per_group)]
    rows.append(_row(tradeoff.model, "the model's threshold"))
    if tradeoff.equalised is not None:
        rows.append(_row(tradeoff.equalised, "equal true-positive rates"))
    return pd.DataFrame(rows).dropna(subset=["accuracy", "tpr_gap"])


def tradeoff_chart(tradeoff: Tradeoff) -> alt.LayerChart:
    """Accuracy (y) against the gap between the groups' true-positive rates (x), both in %; the model's own
    threshold and the equalised thresholds ringed and named."""
    frame = tradeoff_frame(tradeoff)
    frame["accuracy"] *= 100
    frame["tpr_gap"] *= 100
    base = alt.Chart(frame).encode(
        x=alt.X("tpr_gap:Q", title="gap between the groups' true-positive rates (percentage points)"),
        y=alt.Y("accuracy:Q", title="accuracy on all test images (%)", scale=alt.Scale(zero=False)),
    )
    points = base.mark_circle(size=45, opacity=0.75).encode(
        color=alt.Color(
            "kind:N",
            title=None,
            scale=alt.Scale(domain=list(KINDS), range=list(KINDS.values())),
            legend=alt.Legend(orient="bottom"),
        ),
        tooltip=[
            "kind",
            alt.Tooltip("thresholds:N", title="threshold(s)"),
            alt.Tooltip("accuracy:Q", format=".1f", title="accuracy (%)"),
            alt.Tooltip("tpr_gap:Q", format=".1f", title="gap (pp)"),
            alt.Tooltip("target_tpr:Q", format=".0%", title="true-positive rate brought to"),
        ],
    )
    marked = frame[frame["marked"] != ""]
    rings = alt.Chart(marked).mark_point(size=220, strokeWidth=2, color="black").encode(x="tpr_gap:Q", y="accuracy:Q")
    names = (
        alt.Chart(marked)
        .mark_text(align="left", dx=10, dy=-8, fontSize=12)
        .encode(x="tpr_gap:Q", y="accuracy:Q", text="marked:N")
    )
    return (points + rings + names).properties(height=320)
