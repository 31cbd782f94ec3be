"""Altair charts for the Generated faces page (no Streamlit here)."""

from __future__ import annotations

import itertools

import altair as alt
import numpy as np
import pandas as pd

from core.generate.audit import Prevalence
from core.stats.intervals import wilson_interval

ACCENT = "#e4572e"
BLUE = "#4c78a8"
GREY = "#888"
MOST_POINTS = 600  # per curve: a long training's steps are averaged in runs down to this many


def thin(steps: np.ndarray, most: int = MOST_POINTS) -> np.ndarray:
    """(k, C) means of consecutive runs of (n, C) step records, k <= most (the first column stays the run's end)."""
    steps = np.asarray(steps, np.float64)
    if len(steps) <= most:
        return steps
    edges = np.linspace(0, len(steps), most + 1).astype(int)
    out = np.array([steps[a:b].mean(axis=0) for a, b in itertools.pairwise(edges)])
    out[:, 0] = steps[edges[1:] - 1, 0]
    return out


def _long(steps: np.ndarray, columns: dict[int, str]) -> pd.DataFrame:
    steps = thin(steps)
    return pd.concat(
        [pd.DataFrame({"epoch": steps[:, 0], "value": steps[:, c], "series": name}) for c, name in columns.items()]
    )


def loss_chart(steps: np.ndarray) -> alt.Chart:
    """Discriminator and generator loss per training step (x: epochs, fractional)."""
    frame = _long(steps, {1: "discriminator loss", 2: "generator loss"})
    return (
        alt.Chart(frame)
        .mark_line(strokeWidth=1.5)
        .encode(
            x=alt.X("epoch:Q", title="epoch"),
            y=alt.Y("value:Q", title="loss (binary cross-entropy)"),
            color=alt.Color("series:N", title=None, scale=alt.Scale(range=[BLUE, ACCENT])),
            tooltip=[alt.Tooltip("epoch:Q", format=".2f"), "series:N", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=260)
    )


def belief_chart(steps: np.ndarray) -> alt.Chart:
    """The discriminator's mean belief that real faces are real (D(real)) and that generated ones are (D(fake)),
    with 0.5, where it cannot tell them apart."""
    frame = _long(steps, {3: "D(real)", 4: "D(fake)"})
    lines = (
        alt.Chart(frame)
        .mark_line(strokeWidth=1.5)
        .encode(
            x=alt.X("epoch:Q", title="epoch"),
            y=alt.Y("value:Q", title="mean probability of 'real'", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("series:N", title=None, scale=alt.Scale(range=[BLUE, ACCENT])),
            tooltip=[alt.Tooltip("epoch:Q", format=".2f"), "series:N", alt.Tooltip("value:Q", format=".3f")],
        )
    )
    half = alt.Chart(pd.DataFrame({"y": [0.5]})).mark_rule(strokeDash=[4, 3], color=GREY).encode(y="y:Q")
    return (lines + half).properties(height=260)


def prevalence_frame(prevalence: tuple[Prevalence, ...]) -> pd.DataFrame:
    """One row per scored attribute: real and generated shares with their 95 % Wilson intervals."""
    rows = []
    for p in prevalence:
        real_low, real_high = wilson_interval(p.real, p.real_n)
        gen_low, gen_high = wilson_interval(p.generated, p.generated_n)
        rows.append(
            {
                "attribute": p.attribute,
                "real": p.real_share,
                "real_low": float(real_low),
                "real_high": float(real_high),
                "generated": p.generated_share,
                "generated_low": float(gen_low),
                "generated_high": float(gen_high),
                "change": p.generated_share - p.real_share,
            }
        )
    return pd.DataFrame(rows)


def prevalence_chart(prevalence: tuple[Prevalence, ...]) -> alt.Chart:
    """Generated vs real prevalence per attribute, with 95 % intervals and the diagonal: an attribute above it is
    more common among generated faces than in the training data, below it rarer."""
    frame = prevalence_frame(prevalence)
    top = float(max(frame[["real_high", "generated_high"]].max().max(), 0.05)) if len(frame) else 1.0
    scale = alt.Scale(domain=[0, min(1.0, top * 1.05)])
    base = alt.Chart(frame)
    diagonal = (
        alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 3], color=GREY, clip=True)
        .encode(x=alt.X("x:Q", scale=scale), y=alt.Y("y:Q", scale=scale))
    )
    bars = base.mark_rule(color=BLUE, opacity=0.6).encode(
        x=alt.X("real:Q", scale=scale), y=alt.Y("generated_low:Q", scale=scale), y2="generated_high:Q"
    )
    points = base.mark_circle(size=70, color=ACCENT).encode(
        x=alt.X("real:Q", title="share of training faces (labels)", axis=alt.Axis(format="%"), scale=scale),
        y=alt.Y("generated:Q", title="share of generated faces (classifier)", axis=alt.Axis(format="%"), scale=scale),
        tooltip=[
            "attribute:N",
            alt.Tooltip("real:Q", format=".1%", title="training faces"),
            alt.Tooltip("generated:Q", format=".1%", title="generated faces"),
            alt.Tooltip("generated_low:Q", format=".1%", title="95% interval from"),
            alt.Tooltip("generated_high:Q", format=".1%", title="95% interval to"),
        ],
    )
    labels = base.mark_text(align="left", dx=6, dy=-6, fontSize=11).encode(
        x=alt.X("real:Q", scale=scale), y=alt.Y("generated:Q", scale=scale), text="attribute:N"
    )
    return (diagonal + bars + points + labels).properties(height=380)


def distance_chart(generated: np.ndarray, real: np.ndarray, threshold: float | None, space: str) -> alt.Chart:
    """How far each face is from its nearest training face: generated faces beside real ones measured the same way,
    with the same-person distance as a line (left of it: as close as two photos of one person)."""
    values = np.concatenate([generated, real])
    edges = np.linspace(0.0, float(values.max()) * 1.02 if len(values) else 1.0, 31)
    rows = []
    for name, distances in (("generated faces", generated), ("real faces", real)):
        counts, _ = np.histogram(distances, edges)
        shares = counts / max(len(distances), 1)
        rows += [{"from": a, "to": b, "share": s, "faces": name} for a, b, s in zip(edges[:-1], edges[1:], shares)]
    frame = pd.DataFrame(rows)
    title = "distance to the nearest training face" + (" (pixels, RMS)" if space == "pixels" else "")
    bars = (
        alt.Chart(frame)
        .mark_bar(opacity=0.55)
        .encode(
            x=alt.X("from:Q", title=title, bin="binned"),
            x2="to:Q",
            y=alt.Y("share:Q", title="share of faces", axis=alt.Axis(format="%"), stack=None),
            color=alt.Color("faces:N", title=None, scale=alt.Scale(range=[ACCENT, BLUE])),
            tooltip=["faces:N", alt.Tooltip("from:Q", format=".3f"), alt.Tooltip("share:Q", format=".1%")],
        )
    )
    if threshold is None:
        return bars.properties(height=240)
    rule = alt.Chart(pd.DataFrame({"x": [threshold]})).mark_rule(strokeDash=[4, 3], color="#333").encode(x="x:Q")
    return (bars + rule).properties(height=240)


def identity_chart(generated: list[int], real: list[int]) -> alt.Chart:
    """Faces per nearest identity, most first: a generator that makes few people puts many faces on a few ranks."""
    rows = [
        {"rank": k + 1, "faces": n, "group": name}
        for name, counts in (("generated faces", generated), ("real faces", real))
        for k, n in enumerate(sorted(counts, reverse=True))
    ]
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_line(point=True, strokeWidth=1.5)
        .encode(
            x=alt.X("rank:Q", title="identities, from the one with most faces"),
            y=alt.Y("faces:Q", title="faces whose nearest training face is theirs"),
            color=alt.Color("group:N", title=None, scale=alt.Scale(range=[ACCENT, BLUE])),
            tooltip=["group:N", "rank:Q", "faces:Q"],
        )
        .properties(height=240)
    )
