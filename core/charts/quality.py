"""Altair chart builders for the Data quality page (no Streamlit here)."""

from __future__ import annotations

import altair as alt
import polars as pl

ACCENT = "#e4572e"
BLUE = "#4c78a8"
WHOLE = alt.Axis(tickMinStep=1, format=",d")  # an axis of counts: whole images or groups, never 0.5


def label_error_bars(summary: pl.DataFrame, highlight: str | None = None) -> alt.Chart:
    """Horizontal bars of each attribute's estimated label-error rate, highest on top; `highlight` drawn in accent."""
    frame = summary.select(
        "attribute", "estimated_errors", "error_rate", "images", "model_accuracy", "model_balanced_accuracy"
    ).with_columns((pl.col("attribute") == (highlight or "")).alias("chosen"))
    order = frame.sort("error_rate", descending=True)["attribute"].to_list()
    return (
        alt.Chart(frame.to_pandas())
        .mark_bar()
        .encode(
            y=alt.Y("attribute:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=200)),
            x=alt.X("error_rate:Q", axis=alt.Axis(format="%"), title="estimated share of wrong labels"),
            color=alt.condition("datum.chosen", alt.value(ACCENT), alt.value(BLUE)),
            tooltip=[
                alt.Tooltip("attribute:N"),
                alt.Tooltip("estimated_errors:Q", format=",", title="estimated wrong labels"),
                alt.Tooltip("error_rate:Q", format=".2%", title="share of images"),
                alt.Tooltip("images:Q", format=",", title="images scored"),
                alt.Tooltip("model_balanced_accuracy:Q", format=".3f", title="model balanced accuracy"),
            ],
        )
        .properties(height=max(200, 18 * len(order)))
    )


def identity_distance_scatter(suspects: pl.DataFrame, threshold: float) -> alt.Chart:
    """Photos far from their own identity: distance to their own photos (x) vs to the closest other identity (y)."""
    frame = suspects.select(
        "image_id", "identity", "kind", "own_median", "match_identity", pl.col("match_median").fill_nan(None)
    ).to_pandas()
    points = (
        alt.Chart(frame)
        .mark_circle(size=60, opacity=0.8)
        .encode(
            x=alt.X("own_median:Q", title="median distance to its own identity's photos", scale=alt.Scale(zero=False)),
            y=alt.Y("match_median:Q", title="median distance to the nearest identity", scale=alt.Scale(zero=False)),
            color=alt.Color("kind:N", title=None, scale=alt.Scale(range=[ACCENT, "#999"])),
            tooltip=[
                "image_id:N",
                "identity:N",
                "match_identity:N",
                alt.Tooltip("own_median:Q", format=".3f"),
                alt.Tooltip("match_median:Q", format=".3f"),
            ],
        )
    )
    rule = alt.Chart(pl.DataFrame({"t": [threshold]}).to_pandas()).mark_rule(strokeDash=[4, 3], color="#666")
    return (points + rule.encode(y="t:Q")).properties(height=300)


def duplicate_group_sizes(groups: pl.DataFrame) -> alt.Chart:
    """Number of duplicate groups of each size, stacked by scope (within one identity, across identities)."""
    counts = groups.group_by(["size", "scope", "kind"]).len().rename({"len": "groups"}).to_pandas()
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("size:O", title="images in the group"),
            y=alt.Y("groups:Q", title="groups", axis=WHOLE),
            color=alt.Color("scope:N", title=None),
            tooltip=["kind:N", "scope:N", "size:O", alt.Tooltip("groups:Q", format=",")],
        )
        .properties(height=220)
    )


def problem_bars(counts: dict[str, int]) -> alt.Chart:
    """Images per problem (unreadable, no face, blurry...), in the order given."""
    frame = pl.DataFrame({"problem": list(counts), "images": list(counts.values())}).to_pandas()
    return (
        alt.Chart(frame)
        .mark_bar(color=BLUE)
        .encode(
            y=alt.Y("problem:N", sort=list(counts), title=None, axis=alt.Axis(labelOverlap=False, labelLimit=200)),
            x=alt.X("images:Q", title="images", axis=WHOLE),
            tooltip=["problem:N", alt.Tooltip("images:Q", format=",")],
        )
        .properties(height=max(120, 30 * len(counts)))
    )
