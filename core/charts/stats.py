"""Altair chart builders for the Dataset and Attribute-relations pages (no Streamlit here)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

PRESENT_COLOURS = ["#4c78a8", "#d8d8d8"]


def prevalence_bars(frame: pd.DataFrame, group: str | None = None) -> alt.Chart:
    """Horizontal bars of `share` per attribute, rarest at the bottom; `group` splits bars side by side."""
    order = (
        (frame.groupby("attribute")["count"].sum() / frame.groupby("attribute")["rows"].sum())
        .sort_values(ascending=False)
        .index.tolist()
    )
    tooltip = [
        alt.Tooltip("attribute:N"),
        alt.Tooltip("share:Q", format=".1%", title="share"),
        alt.Tooltip("count:Q", format=",", title="images with it"),
        alt.Tooltip("rows:Q", format=",", title="images"),
    ]
    base = alt.Chart(frame).encode(
        y=alt.Y("attribute:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=200)),
        x=alt.X("share:Q", axis=alt.Axis(format="%"), title="share of images with the attribute"),
    )
    if group:
        bars = base.mark_bar().encode(
            color=alt.Color(f"{group}:N", title=group),
            yOffset=alt.YOffset(f"{group}:N"),
            tooltip=[alt.Tooltip(f"{group}:N"), *tooltip],
        )
        height = max(300, 10 * len(order) * frame[group].nunique() + 6 * len(order))
    else:
        bars = base.mark_bar(color="#4c78a8").encode(tooltip=tooltip)
        height = max(300, 18 * len(order))
    rules = (
        alt.Chart(pd.DataFrame({"x": [0.1, 0.7], "label": ["10 %", "70 %"]}))
        .mark_rule(strokeDash=[4, 3], color="#999")
        .encode(x="x:Q")
    )
    return (bars + rules).properties(height=height)


def donut(attribute: str, present: int, total: int) -> alt.Chart:
    """Present vs absent donut of one attribute, count and percent in the tooltip."""
    absent = total - present
    frame = pd.DataFrame(
        {
            "value": ["present", "absent"],
            "images": [present, absent],
            "percent": [present / total if total else np.nan, absent / total if total else np.nan],
        }
    )
    return (
        alt.Chart(frame, title=attribute)
        .mark_arc(innerRadius=45, outerRadius=80)
        .encode(
            theta=alt.Theta("images:Q", stack=True),
            color=alt.Color(
                "value:N", scale=alt.Scale(domain=["present", "absent"], range=PRESENT_COLOURS), legend=None
            ),
            tooltip=[
                alt.Tooltip("value:N", title=attribute),
                alt.Tooltip("images:Q", format=","),
                alt.Tooltip("percent:Q", format=".1%"),
            ],
        )
        .properties(width=180, height=180)
    )


def identity_histogram(counts: pd.DataFrame) -> alt.Chart:
    """Histogram of images per identity (how many people have k images)."""
    hist = counts.groupby("images").size().rename("identities").reset_index()
    return (
        alt.Chart(hist)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("images:O", title="images per identity"),
            y=alt.Y("identities:Q", title="identities"),
            tooltip=[alt.Tooltip("images:O", title="images"), alt.Tooltip("identities:Q", format=",")],
        )
        .properties(height=260)
    )


def identity_profile_bars(profile: pd.DataFrame) -> alt.Chart:
    """Share of one person's images showing each attribute, coloured by always / never / varies."""
    return (
        alt.Chart(profile)
        .mark_bar()
        .encode(
            y=alt.Y("attribute:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)),
            x=alt.X(
                "share:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]), title="share of their images"
            ),
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(domain=["always", "varies", "never"], range=["#4c78a8", "#f58518", "#d8d8d8"]),
                title="across their images",
                legend=alt.Legend(orient="top"),
            ),
            tooltip=["attribute:N", alt.Tooltip("share:Q", format=".0%"), "kind:N"],
        )
        .properties(height=max(300, 18 * len(profile)))
    )


def relation_heatmap(frame: pd.DataFrame, measure: str, order: list[str], selectable: bool = True) -> alt.Chart:
    """Heatmap of a pairwise measure (rows A, columns B) with the value on hover; click picks a pair."""
    if measure == "phi":
        scale = alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True)
    elif measure == "lift":
        scale = alt.Scale(type="log", scheme="redblue", domainMid=1, reverse=True)
    else:
        scale = alt.Scale(scheme="blues", domain=[0, 1])
    frame = frame.assign(shown=frame["value"].map(lambda v: "undefined" if pd.isna(v) else f"{v:.3f}"))
    same = frame["A"] == frame["B"]  # self-pairs (always 1) would swamp the colour scale: leave them blank
    frame = frame.assign(value=frame["value"].where(~same), shown=frame["shown"].where(~same, "same attribute"))
    if measure == "lift":  # a log scale cannot show 0; those cells stay blank with their value on hover
        frame = frame.assign(value=frame["value"].where(frame["value"] > 0))
    chart = (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("B:N", sort=order, title="B (condition)", axis=alt.Axis(labelOverlap=False, labelLimit=200)),
            y=alt.Y("A:N", sort=order, title="A (outcome)", axis=alt.Axis(labelOverlap=False, labelLimit=200)),
            color=alt.Color("value:Q", scale=scale, title=measure),
            tooltip=[alt.Tooltip("A:N"), alt.Tooltip("B:N"), alt.Tooltip("shown:N", title=measure)],
        )
        .properties(height=max(300, 19 * len(order)))
    )
    if selectable:
        chart = chart.add_params(alt.selection_point(name="pair", fields=["A", "B"], on="click"))
    return chart


def contingency_chart(pair: dict) -> alt.Chart:
    """2x2 table of counts as a small annotated heatmap."""
    a, b = pair["A"], pair["B"]
    frame = pd.DataFrame(
        {
            a: [f"{a}=1", f"{a}=1", f"{a}=0", f"{a}=0"],
            b: [f"{b}=1", f"{b}=0", f"{b}=1", f"{b}=0"],
            "images": [pair["n11"], pair["n10"], pair["n01"], pair["n00"]],
        }
    )
    base = alt.Chart(frame).encode(
        x=alt.X(f"{b}:N", title=None, sort=[f"{b}=1", f"{b}=0"], axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y(f"{a}:N", title=None, sort=[f"{a}=1", f"{a}=0"]),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("images:Q", scale=alt.Scale(scheme="greens"), legend=None), tooltip=[a, b, "images:Q"]
    )
    text = base.mark_text(fontSize=16).encode(text=alt.Text("images:Q", format=","))
    return (cells + text).properties(height=160)


def coefficient_bars(coefficients: pd.DataFrame, top: int = 15) -> alt.Chart:
    """Strongest logistic-regression coefficients, positive and negative."""
    head = coefficients.head(top)
    return (
        alt.Chart(head)
        .mark_bar()
        .encode(
            y=alt.Y("attribute:N", sort=head["attribute"].tolist(), title=None, axis=alt.Axis(labelOverlap=False)),
            x=alt.X("coefficient:Q", title="coefficient (log-odds per attribute present)"),
            color=alt.condition("datum.coefficient > 0", alt.value("#4c78a8"), alt.value("#e45756")),
            tooltip=["attribute:N", alt.Tooltip("coefficient:Q", format="+.3f")],
        )
        .properties(height=max(200, 24 * len(head)))
    )
