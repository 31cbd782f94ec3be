"""Altair charts and tables for the Attribute classifiers page (built here, drawn by the page)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core import format as fmt
from core.classify.published import published_accuracy
from core.classify.store import ClassifierMeta
from core.data.celeba import CELEBA_ATTRIBUTES

CURVE_STEPS = 250  # a curve's resolution on screen: a 280-px chart cannot show a step of 1/250 of its axis

TABLE_COLUMNS = (
    "accuracy",
    "balanced_accuracy",
    "majority_accuracy",
    "precision",
    "recall",
    "f1",
    "auc",
    "positive_rate",
    "predicted_positive_rate",
)


def is_celeba_like(attributes) -> bool:
    """True when every attribute is a CelebA attribute name (published figures then apply)."""
    return all(a in CELEBA_ATTRIBUTES for a in attributes)


def results_frame(meta: ClassifierMeta, with_published: bool) -> pd.DataFrame:
    """One row per attribute: the model's test metrics (+ published CelebA accuracies when asked)."""
    rows = []
    for attribute, m in meta.metrics.items():
        row = {"attribute": attribute, **{k: m.get(k) for k in TABLE_COLUMNS}}
        if with_published:
            row |= {f"published: {k}": v for k, v in published_accuracy(attribute).items()}
        rows.append(row)
    return pd.DataFrame(rows).astype(dict.fromkeys(TABLE_COLUMNS, float))


def accuracy_bars(frame: pd.DataFrame) -> alt.Chart:
    """Grouped bars per attribute: model accuracy, balanced accuracy, majority baseline, published figures."""
    measures = ["accuracy", "balanced_accuracy", "majority_accuracy"]
    measures += [c for c in frame.columns if c.startswith("published: ")]
    long = frame.melt(id_vars="attribute", value_vars=measures, var_name="measure", value_name="value").dropna()
    long["measure"] = long["measure"].str.replace("_", " ")
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("attribute:N", sort=list(frame["attribute"]), title=None),
            xOffset="measure:N",
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="test accuracy"),
            color=alt.Color("measure:N", legend=alt.Legend(orient="bottom", columns=3)),
            tooltip=["attribute", "measure", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=320)
    )


def history_chart(history: list[dict]) -> alt.Chart:
    """Loss and accuracy per epoch, train (running and end of epoch) vs validation."""
    frame = pd.DataFrame(history)
    long = frame.melt(id_vars=["epoch", "split"], value_vars=["loss", "accuracy"], var_name="metric").dropna()
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q"),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            color=alt.Color("split:N", legend=alt.Legend(orient="bottom")),
            tooltip=["epoch", "split", "metric", alt.Tooltip("value:Q", format=".4f")],
        )
        .properties(height=200, width=320)
        .facet(column=alt.Column("metric:N", title=None))
        .resolve_scale(y="independent")
    )


def curve_points(curve: pd.DataFrame, axes: tuple[str, ...], steps: int = CURVE_STEPS) -> pd.DataFrame:
    """The points of a curve worth drawing: the first, the last, and each where one of the monotone `axes` (values
    in [0, 1]) enters a new 1/steps band. At most len(axes) * steps + 2 rows whatever the number of test images
    (one point per distinct score at CelebA's size is 20,000 rows a browser would get), and the same picture."""
    if len(curve) <= 2:
        return curve
    keep = np.zeros(len(curve), bool)
    keep[[0, -1]] = True
    for axis in axes:
        band = np.floor(np.clip(curve[axis].to_numpy(dtype=np.float64), 0.0, 1.0) * steps)
        keep[1:] |= band[1:] != band[:-1]
    return curve[keep].reset_index(drop=True)


def roc_chart(roc: pd.DataFrame, point: tuple[float, float], auc: float | None) -> alt.Chart:
    """ROC curve with the diagonal and the current threshold's point."""
    title = f"ROC (AUC {fmt.decimal(auc)})" if auc is not None and not np.isnan(auc) else "ROC"
    curve = (
        alt.Chart(curve_points(roc, ("false_positive_rate", "true_positive_rate")))
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("false_positive_rate:Q", title="false positive rate"),
            y=alt.Y("true_positive_rate:Q", title="true positive rate"),
            tooltip=[alt.Tooltip("threshold:Q", format=".3f")],
        )
    )
    diagonal = (
        alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x="x", y="y")
    )
    return (diagonal + curve + _point(point, "false_positive_rate", "true_positive_rate")).properties(
        title=title, height=280
    )


def pr_chart(pr: pd.DataFrame, point: tuple[float, float], positive_rate: float) -> alt.Chart:
    """Precision-recall curve with the chance level (positive rate) and the current threshold's point."""
    curve = (
        alt.Chart(curve_points(pr, ("recall",)))  # recall is monotone; precision's tail of spikes is not drawable
        .mark_line(interpolate="step-before")
        .encode(
            x=alt.X("recall:Q", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("precision:Q", scale=alt.Scale(domain=[0, 1])),
            tooltip=[alt.Tooltip("threshold:Q", format=".3f")],
        )
    )
    chance = (
        alt.Chart(pd.DataFrame({"precision": [positive_rate]}))
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(y="precision:Q")
    )
    return (chance + curve + _point(point, "recall", "precision")).properties(title="Precision-recall", height=280)


def _point(point: tuple[float, float], x: str, y: str) -> alt.Chart:
    return (
        alt.Chart(pd.DataFrame({x: [point[0]], y: [point[1]]}))
        .mark_point(size=120, filled=True, color="red")
        .encode(x=x, y=y)
    )


def confusion_chart(counts: dict[str, int]) -> alt.Chart:
    """2x2 heatmap of the confusion matrix with the counts written in."""
    frame = pd.DataFrame(
        [
            {"actual": "positive", "predicted": "positive", "count": counts["tp"]},
            {"actual": "positive", "predicted": "negative", "count": counts["fn"]},
            {"actual": "negative", "predicted": "positive", "count": counts["fp"]},
            {"actual": "negative", "predicted": "negative", "count": counts["tn"]},
        ]
    )
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=["positive", "negative"]), y=alt.Y("actual:N", sort=["positive", "negative"])
    )
    cells = base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None))
    text = base.mark_text(fontSize=18).encode(text="count:Q")
    return (cells + text).properties(title="Confusion matrix", height=220, width=260)


ROW_STEP = 34  # pixels per attribute row of the try-it chart: a 20 px bar, its label, and air between rows
ANSWER_COLOURS = {"yes": "#2e7d32", "no": "#9e9e9e", "unsure": "#e0a030"}


def probability_bars(
    probabilities: dict[str, float], thresholds: dict[str, float] | None = None, unsure: bool = False
) -> alt.Chart:
    """One readable bar per attribute: the model's probability of 'yes', its decision threshold as a black tick.

    Bars are green where the probability reaches the attribute's threshold (the model says yes), grey otherwise;
    with `unsure` (a photo unlike the model's training faces) every answer is 'unsure', in amber. The height grows
    with the attributes (ROW_STEP each), so every name is shown however many there are.
    """
    thresholds = thresholds or {}
    frame = pd.DataFrame(
        {
            "attribute": list(probabilities),
            "probability": [float(p) for p in probabilities.values()],
            "threshold": [float(thresholds.get(a, 0.5)) for a in probabilities],
        }
    )
    frame["answer"] = np.where(frame["probability"] >= frame["threshold"], "yes", "no")
    if unsure:
        frame["answer"] = "unsure"
    frame["label"] = [f"{fmt.percent(p, 0)} → {a}" for p, a in zip(frame["probability"], frame["answer"])]
    order = frame.sort_values("probability", ascending=False)["attribute"].tolist()
    y = alt.Y("attribute:N", sort=order, title=None, axis=alt.Axis(labelLimit=260, labelFontSize=13, labelPadding=6))
    tooltip = [
        "attribute",
        alt.Tooltip("probability:Q", format=".1%", title="probability of yes"),
        alt.Tooltip("threshold:Q", format=".2f", title="says yes from"),
        alt.Tooltip("answer:N", title="answer"),
    ]
    answers = ["unsure"] if unsure else ["yes", "no"]
    base = alt.Chart(frame).encode(y=y, tooltip=tooltip)
    bars = base.mark_bar(height=20).encode(
        x=alt.X(
            "probability:Q",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%", tickCount=5),
            title="how sure the model is that the answer is yes",
        ),
        color=alt.Color(
            "answer:N",
            scale=alt.Scale(domain=answers, range=[ANSWER_COLOURS[a] for a in answers]),
            legend=alt.Legend(title="model's answer", orient="top"),
        ),
    )
    ticks = base.mark_tick(color="black", thickness=3, size=26).encode(x="threshold:Q")
    text = base.mark_text(align="left", dx=6, fontSize=13).encode(x="probability:Q", text="label:N")
    # A step per row rather than a fixed height: Streamlit fits a fixed-height layered chart into less room,
    # squeezing its rows until the axis drops every other name (3 of 6 shown).
    return (bars + ticks + text).properties(height=alt.Step(ROW_STEP), padding={"right": 70})


def lesson_frame(meta_a: ClassifierMeta, meta_b: ClassifierMeta, label_a: str, label_b: str) -> pd.DataFrame:
    """Side by side per attribute: accuracy, balanced accuracy and predicted positive rate of two models."""
    rows = []
    for attribute in meta_a.metrics:
        if attribute not in meta_b.metrics:
            continue
        a, b = meta_a.metrics[attribute], meta_b.metrics[attribute]
        rows.append(
            {
                "attribute": attribute,
                "majority accuracy": a["majority_accuracy"],
                "positive rate": a["positive_rate"],
                f"accuracy · {label_a}": a["accuracy"],
                f"accuracy · {label_b}": b["accuracy"],
                f"balanced accuracy · {label_a}": a["balanced_accuracy"],
                f"balanced accuracy · {label_b}": b["balanced_accuracy"],
                f"predicted positive rate · {label_a}": a["predicted_positive_rate"],
                f"predicted positive rate · {label_b}": b["predicted_positive_rate"],
            }
        )
    return pd.DataFrame(rows)
