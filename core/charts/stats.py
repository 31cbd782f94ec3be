"""Altair chart builders for the Dataset and Attribute-relations pages (no Streamlit here)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core import format as fmt

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
        alt.Chart(pd.DataFrame({"x": [0.1, 0.7], "label": [fmt.percent(0.1, 0), fmt.percent(0.7, 0)]}))
        .mark_rule(strokeDash=[4, 3], color="#999")
        .encode(x="x:Q")
    )
    return (bars + rules).properties(height=height)


def donut(attribute: str, present: int, total: int) -> alt.Chart:
    """Present (blue) vs absent (grey) donut of one attribute; the page titles it and writes the colour key."""
    absent = total - present
    yes, no = f"{attribute}: yes", f"{attribute}: no"
    frame = pd.DataFrame(
        {
            "value": [yes, no],
            "images": [present, absent],
            "percent": [present / total if total else np.nan, absent / total if total else np.nan],
        }
    )
    return (
        alt.Chart(frame)
        .mark_arc(innerRadius=38, outerRadius=70)
        .encode(
            theta=alt.Theta("images:Q", stack=True),
            color=alt.Color(
                "value:N",
                scale=alt.Scale(domain=[yes, no], range=PRESENT_COLOURS),
                legend=None,  # the page writes the colour key below (a legend inside overflowed the chart)
            ),
            tooltip=[
                alt.Tooltip("value:N", title="label"),
                alt.Tooltip("images:Q", format=","),
                alt.Tooltip("percent:Q", format=".1%"),
            ],
        )
        .properties(width=160, height=160)
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


FEW_COLOUR = "#d4d4d4"  # cells whose condition has too few images to read
LIFT_DOMAIN = (1 / 8, 8)  # log scale; beyond, the strongest colour (a lift of 0 is the strongest "never together")


def relation_heatmap(frame: pd.DataFrame, measure: str, order: list[str], selectable: bool = True) -> alt.Chart:
    """Heatmap of a pairwise measure (rows A, columns B) coloured by its conservative strength; click picks a pair.

    frame: core.stats.relations.heatmap_frame. Cells whose condition B has too few images are grey; the tooltip
    gives the value, the counts behind it and its 95 % interval.
    """
    if measure == "phi":
        scale = alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True)
    elif measure == "lift":
        scale = alt.Scale(type="log", scheme="redblue", domain=list(LIFT_DOMAIN), clamp=True, reverse=True)
    else:
        scale = alt.Scale(scheme="blues", domain=[0, 1])
    digits = 2 if measure == "lift" else 3
    same = frame["A"] == frame["B"]  # self-pairs (always 1) would swamp the colour scale: leave them blank
    frame = frame.assign(
        shown=[
            "same attribute" if s else fmt.decimal(v, digits, missing="undefined") for s, v in zip(same, frame["value"])
        ],
        interval=[
            "–" if pd.isna(lo) else f"{fmt.decimal(lo, digits)} to {fmt.decimal(hi, digits)}"
            for lo, hi in zip(frame["low"], frame["high"])
        ],
        strength=frame["strength"].where(~same),
        counts=[
            f"{fmt.count(b)} of {fmt.count(n)} images with B also have A" for b, n in zip(frame["both"], frame["n_b"])
        ],
    )
    if measure == "lift":  # a log scale cannot place 0: the smallest lift shown is the scale's end
        frame = frame.assign(strength=frame["strength"].clip(lower=LIFT_DOMAIN[0]))
    colour = alt.condition(
        "datum.few", alt.value(FEW_COLOUR), alt.Color("strength:Q", scale=scale, title=f"{measure} (strength)")
    )
    chart = (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("B:N", sort=order, title="B (condition)", axis=alt.Axis(labelOverlap=False, labelLimit=200)),
            y=alt.Y("A:N", sort=order, title="A (outcome)", axis=alt.Axis(labelOverlap=False, labelLimit=200)),
            color=colour,
            tooltip=[
                alt.Tooltip("A:N"),
                alt.Tooltip("B:N"),
                alt.Tooltip("shown:N", title=measure),
                alt.Tooltip("counts:N", title="counts"),
                alt.Tooltip("interval:N", title="95% interval"),
            ],
        )
        .transform_filter("datum.A != datum.B")
        .properties(height=max(300, 19 * len(order)))
    )
    if selectable:
        chart = chart.add_params(alt.selection_point(name="pair", fields=["A", "B"], on="click"))
    return chart


def contingency_chart(pair: dict) -> alt.Chart:
    """2x2 table of counts as a small annotated heatmap, labelled 'Male: yes' / 'Male: no'."""
    a, b = pair["A"], pair["B"]
    ay, an, by, bn = f"{a}: yes", f"{a}: no", f"{b}: yes", f"{b}: no"
    frame = pd.DataFrame(
        {
            "A": [ay, ay, an, an],
            "B": [by, bn, by, bn],
            "images": [pair["n11"], pair["n10"], pair["n01"], pair["n00"]],
        }
    )
    base = alt.Chart(frame).encode(
        x=alt.X("B:N", title=None, sort=[by, bn], axis=alt.Axis(labelAngle=0, orient="top", labelLimit=180)),
        y=alt.Y("A:N", title=None, sort=[ay, an], axis=alt.Axis(labelLimit=180)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("images:Q", scale=alt.Scale(scheme="greens"), legend=None),
        tooltip=[alt.Tooltip("A:N", title=a), alt.Tooltip("B:N", title=b), alt.Tooltip("images:Q", format=",")],
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
            x=alt.X("coefficient:Q", title="pushes the answer towards yes (right) or no (left)"),
            color=alt.condition("datum.coefficient > 0", alt.value("#4c78a8"), alt.value("#e45756")),
            tooltip=[
                "attribute:N",
                alt.Tooltip("coefficient:Q", format="+.3f", title="coefficient (change in log-odds when present)"),
            ],
        )
        .properties(height=max(200, 24 * len(head)))
    )
