"""Sections of the Attribute-relations page: filter, heatmap, pair drill-down, models."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core import cached
from core import format as fmt
from core.charts import stats as stats_charts
from core.data.celeba import judgement_note
from core.data.dataset import Dataset
from core.data.subset import Subset
from core.stats import relations as stats
from core.stats.intervals import FEW_IMAGES, MIN_MODEL_IMAGES, MIN_MODEL_POSITIVES, Rate
from ui import links, state
from ui.demo_drawing import images_missing_text
from ui.filters import subset_ui
from ui.gallery import image_grid

HEATMAP_COLOUR = {
    "P(A|B)": "Colour: P(A|B) as far from P(A) as the counts support with 95% confidence, so a share seen in a "
    "handful of images does not look certain.",
    "lift": "Colour: lift as far from 1 as the counts support with 95% confidence (blue: together less often "
    "than chance, red: more often). A lift of 0 (never together) among many images is the deepest blue.",
    "phi": "Colour: phi as far from 0 as the counts support with 95% confidence (red: together, blue: apart).",
}
DEFAULT_PAIR = ("Male", "Goatee")
UNDEFINED = "undefined"
YES_NO = {1: "yes", 0: "no"}


def require_attributes(ds: Dataset) -> None:
    """Stop with a message when the dataset has fewer than two attributes to relate."""
    if len(ds.attributes) < 2:
        st.info(
            f"{ds.name} has {len(ds.attributes)} attribute annotations; relations need at least two. "
            "Pick a dataset with attributes (the demo, CelebA) in the sidebar."
        )
        st.stop()


def filter_sidebar(ds: Dataset) -> Subset:
    """Sidebar filter every figure on the page is computed on."""
    with st.sidebar:
        st.subheader("Condition on")
        return subset_ui(ds, key=state.RELATIONS_FILTER)


def subset_size(ds: Dataset, rel: stats.RelationStats, subset: Subset) -> None:
    """Subset size, or a message and stop when nothing matches."""
    st.metric(
        "Images in the subset",
        fmt.count(rel.n),
        help=f"{subset.describe()} · of {fmt.count(ds.n_images)} in the dataset",
    )
    if rel.n == 0:
        st.warning(f"No images match ({subset.describe()}). Remove a condition in the sidebar to see relations.")
        st.stop()
    if not subset.is_everything:
        st.caption(f"Every figure below is computed on the {fmt.count(rel.n)} images with {subset.describe()}.")


def _pick_pair_from_chart() -> None:
    selection = st.session_state.get(state.HEATMAP, {}).get("selection", {}).get("pair") or []
    if selection:
        st.session_state[state.PAIR_A] = selection[0]["A"]
        st.session_state[state.PAIR_B] = selection[0]["B"]


def heatmap_section(ds: Dataset, subset: Subset, rel: stats.RelationStats) -> None:
    """Heatmap of P(A|B), phi or lift over all pairs; clicking a cell picks the drill-down pair."""
    st.header("All pairs")
    left, right = st.columns([2, 1])
    links.restore(state.MEASURE, "measure", valid=links.one_of(stats.MEASURES))
    measure = left.segmented_control(
        "Measure",
        stats.MEASURES,
        default="P(A|B)",
        required=True,
        key=state.MEASURE,
        help="P(A|B): share of images with B that also have A. phi: correlation of the two 0/1 attributes "
        "(-1..1). lift: P(A|B) / P(A), above 1 when B makes A more likely.",
    )
    links.remember("measure", measure, "P(A|B)")
    links.restore(state.CLUSTER_ORDER, "sort", links.as_bool)
    clustered = right.toggle("Sort by clustering", value=True, key=state.CLUSTER_ORDER)
    links.remember("sort", clustered, True)
    order = cached.cluster_order(ds, subset, measure) if clustered else list(ds.attributes)
    matrix = rel.measure(measure)
    undefined = int(pd.isna(matrix).sum())
    if undefined:
        st.caption(
            f"{undefined} cells are undefined (blank): an attribute is absent (or always present) in this subset."
        )
    frame = stats.heatmap_frame(rel, measure)
    st.altair_chart(
        stats_charts.relation_heatmap(frame, measure, order),
        width="stretch",
        key=state.HEATMAP,
        on_select=_pick_pair_from_chart,
        selection_mode="pair",
    )
    few = sorted({b for b, f in zip(frame["B"], frame["few"]) if f})
    st.caption(
        "Rows are A (the outcome), columns B (the condition). Hover for the value, the counts behind it and its 95% "
        "interval; click a cell to drill in. "
        + HEATMAP_COLOUR[measure]
        + (
            f" Grey columns ({', '.join(few)}): fewer than {FEW_IMAGES} images have that condition here, "
            "too few to read."
            if few
            else ""
        )
    )
    st.download_button(
        "Download all pairs (CSV)",
        stats.pairs_table(rel).to_csv(index=False).encode(),
        file_name=f"{ds.name}-pairs.csv",
        mime="text/csv",
        key="download-pairs",
        help="One row per (A, B): counts, P(A|B), P(A|not B), lift, phi, on the current subset.",
    )


def _pair_pickers(ds: Dataset) -> tuple[str, str]:
    a_default, b_default = (a if a in ds.attributes else ds.attributes[k] for k, a in enumerate(DEFAULT_PAIR))
    left, right = st.columns(2)
    for key in (state.PAIR_A, state.PAIR_B):
        links.restore(key, key, valid=links.one_of(ds.attributes))
    a = left.selectbox("A (outcome)", ds.attributes, index=ds.attributes.index(a_default), key=state.PAIR_A)
    b = right.selectbox("B (condition)", ds.attributes, index=ds.attributes.index(b_default), key=state.PAIR_B)
    links.remember(state.PAIR_A, a, a_default)
    links.remember(state.PAIR_B, b, b_default)
    return a, b


METRIC_HELP = {
    "P(A|B)": "Of the images with B, the share that also have A.",
    "P(A|not B)": "Of the images without B, the share that have A: compare it with P(A|B).",
    "P(B|A)": "Of the images with A, the share that also have B (not the same as P(A|B)).",
    "lift": "How many times more often A and B appear together than if they were unrelated: 1 = unrelated, "
    "above 1 = together more often, 0 = never together.",
    "phi": "Correlation of the two yes/no attributes, from -1 (never together) through 0 (unrelated) to 1 "
    "(always together).",
}


def pair_section(ds: Dataset, subset: Subset, rel: stats.RelationStats) -> None:
    """2x2 counts, conditional probabilities with their counts and intervals, observed vs expected, examples."""
    st.header("One pair")
    a, b = _pair_pickers(ds)
    pair = stats.pair_summary(rel, a, b)
    n, n11, n10, n01 = pair["n"], pair["n11"], pair["n10"], pair["n01"]
    n_a, n_b = n11 + n10, n11 + n01
    rates = {
        "P(A|B)": Rate(n11, n_b),
        "P(A|not B)": Rate(n10, n - n_b),
        "P(B|A)": Rate(n11, n_a),
    }
    labels = {"P(A|B)": f"P({a} | {b})", "P(A|not B)": f"P({a} | not {b})", "P(B|A)": f"P({b} | {a})"}
    cols = st.columns(5)
    for col, key in zip(cols, rates):
        col.metric(labels[key], fmt.decimal(pair[key], missing=UNDEFINED), help=METRIC_HELP[key])
        col.caption(rates[key].describe())
    cols[3].metric("lift", fmt.decimal(pair["lift"], missing=UNDEFINED), help=METRIC_HELP["lift"])
    cols[4].metric("phi", fmt.decimal(pair["phi"], missing=UNDEFINED), help=METRIC_HELP["phi"])
    low, high = (float(x[rel.index(a), rel.index(b)]) for x in rel.interval("phi"))
    if not math.isnan(low):
        cols[4].caption(f"95% interval {fmt.decimal(low)} to {fmt.decimal(high)}")
    expected = n_a * n_b / n if n else float("nan")
    if n and expected > 0:
        cols[3].caption(f"{fmt.count(n11)} together, {fmt.decimal(expected, 1)} expected if unrelated")
        st.markdown(
            f"**{fmt.count(n11)} images have both; {fmt.decimal(expected, 0)} would be expected if {a} and {b} were "
            f"unrelated: {fmt.decimal(n11 / expected, 2)}× "
            f"{'as many' if n11 >= expected else 'as many (fewer than chance)'}.**"
        )
    st.caption(read_aloud(a, b, rates))
    note = judgement_note((a, b))
    if note:
        st.caption(f"**About these labels.** {note}")
    if any(math.isnan(pair[k]) for k in ("P(A|B)", "P(A|not B)", "P(B|A)", "lift", "phi")):
        st.caption(f"'{UNDEFINED}' means the denominator is zero: no image in this subset has (or lacks) {a} or {b}.")
    if 0 < n_b < FEW_IMAGES:
        low, high = rates["P(A|B)"].interval
        st.warning(
            f"Only {fmt.count(n_b)} images have {b} here: P({a} | {b}) could be anywhere from {fmt.percent(low, 0)} to "
            f"{fmt.percent(high, 0)} with 95% confidence. Widen the filter before drawing conclusions.",
            icon=":material/warning:",
        )
    left, right = st.columns([1, 2])
    with left:
        st.altair_chart(stats_charts.contingency_chart(pair), width="stretch")
        st.caption(
            f"{fmt.count(n11)} images have both; {fmt.count(n10)} only {a}; {fmt.count(n01)} only {b}; "
            f"{fmt.count(pair['n00'])} neither."
        )
    with right:
        _cell_examples(ds, subset, rel, a, b)


def read_aloud(a: str, b: str, rates: dict) -> str:
    """'Among the 2,539 images with Goatee, 100.0% are labelled Male; among the other 3,461, 39.1%.'"""
    with_b, without_b = rates["P(A|B)"], rates["P(A|not B)"]
    if not with_b.n:
        return f"No image in this subset is labelled {b}."
    text = f"Among the {fmt.count(with_b.n)} images labelled {b}, {fmt.percent(with_b.share)} are labelled {a}"
    if without_b.n:
        text += f"; among the other {fmt.count(without_b.n)}, {fmt.percent(without_b.share)}"
    return text + "."


def _cell_examples(ds: Dataset, subset: Subset, rel: stats.RelationStats, a: str, b: str) -> None:
    if not ds.has_images:
        st.caption(images_missing_text(ds))
        return
    rows = cached.subset_rows(ds, subset)
    cells = stats.cell_examples(cached.subset_matrix(ds, subset), rel.index(a), rel.index(b))
    for (va, vb), positions in cells.items():
        st.caption(f"{a}: {YES_NO[va]} · {b}: {YES_NO[vb]}")
        image_grid(ds, ds.table["image_id"].gather(rows[positions]).to_list(), columns=6, size=96)


MODEL_HELP = {
    "accuracy": "Share of test images where the model's yes/no matches the label.",
    "majority_accuracy": "Accuracy of always giving the most common answer: the score to beat.",
    "precision": "Of the images the model says 'yes' to, the share that really are labelled yes.",
    "recall": "Of the images labelled yes, the share the model finds.",
    "f1": "Harmonic mean of precision and recall (1 = perfect, 0 = finds none).",
}


def model_section(ds: Dataset, subset: Subset) -> None:
    """Predict one attribute from the others; optionally all of them into one table."""
    st.header("Predict an attribute from the others")
    default = ds.attributes.index("Male") if "Male" in ds.attributes else 0
    links.restore(state.MODEL_TARGET, "target", valid=links.one_of(ds.attributes))
    target = st.selectbox("Attribute to predict", ds.attributes, index=default, key=state.MODEL_TARGET)
    links.remember("target", target, ds.attributes[default])
    result = cached.attribute_model(ds, subset, target)
    st.caption(
        f"Logistic regression: {fmt.count(result['train_rows'])} training "
        f"images{' (a seeded sample)' if result['sampled'] else ''}, {fmt.count(result['test_rows'])} test images; "
        f"split: {result['split']}."
    )
    if result["note"]:
        st.info(result["note"])
    c = result["counts"]
    n = result["test_rows"]
    rates = {
        "accuracy": Rate(c["tp"] + c["tn"], n),
        "majority_accuracy": Rate(c["majority_right"], n),
        "precision": Rate(c["tp"], c["tp"] + c["fp"]),
        "recall": Rate(c["tp"], c["tp"] + c["fn"]),
    }
    if stats.too_few(result):
        st.warning(
            f"**Too few images to judge this model.** It was trained on {fmt.count(result['train_rows'])} images "
            f"({fmt.count(result['train_positives'])} labelled {target}) and tested on {fmt.count(n)} "
            f"({fmt.count(result['test_positives'])} labelled {target}); scores need at least {MIN_MODEL_IMAGES} "
            f"images and {MIN_MODEL_POSITIVES} of each answer on both sides to mean anything. Widen the filter in the "
            "sidebar.",
            icon=":material/warning:",
        )
        st.caption(
            f"For the record: right on {rates['accuracy'].describe('test images')}; always answering the majority "
            f"would be right on {fmt.count(rates['majority_accuracy'].k)}."
        )
    else:
        cols = st.columns(5)
        for col, (label, key) in zip(
            cols,
            [
                ("accuracy", "accuracy"),
                ("majority-class accuracy", "majority_accuracy"),
                ("precision", "precision"),
                ("recall", "recall"),
                ("F1", "f1"),
            ],
        ):
            col.metric(label, fmt.decimal(result[key], missing=UNDEFINED), help=MODEL_HELP[key])
            if key in rates:
                col.caption(rates[key].describe("test images" if key in ("accuracy", "majority_accuracy") else ""))
        st.caption(
            f"The model is right on {fmt.percent(rates['accuracy'].share)} of the {fmt.count(n)} test images; always "
            f"answering '{YES_NO[c['majority']]}' would be right on {fmt.percent(rates['majority_accuracy'].share)}. "
            f"Balanced accuracy: {fmt.percent(result['balanced_accuracy'])} (the mean of the shares it gets right "
            f"among images with and without {target}; 50% is no better than one answer for all)."
        )
    with st.expander("Which attributes push the answer (strongest first)", expanded=True):
        st.altair_chart(stats_charts.coefficient_bars(result["coefficients"]), width="stretch")
        top = result["coefficients"].head(3)
        strongest = ", ".join(f"{a} ({fmt.signed(c)})" for a, c in zip(top["attribute"], top["coefficient"]))
        st.caption(
            (f"Strongest: {strongest}. " if strongest else "")
            + f"Blue bars: an image with that attribute is more likely to be labelled {target}; red: less likely. "
            "Length is the logistic regression's coefficient (the change in log-odds), comparable across attributes."
        )
    note = judgement_note((target,))
    if note:
        st.caption(f"**About this label.** {note}")
    shared = st.query_params.get("all") == "1"  # a shared link that showed the table shows it again
    if (
        st.button("Compute for all attributes", key="model-all")
        or shared
        or st.session_state.get(state.ALL_MODELS_DONE) == (ds.key, subset)
    ):
        st.session_state[state.ALL_MODELS_DONE] = (ds.key, subset)
        links.remember("all", True, False)
        _all_models_table(ds, subset)
    else:
        links.forget("all")


def _all_models_table(ds: Dataset, subset: Subset) -> None:
    table = cached.all_attribute_models(ds, subset)
    st.dataframe(
        table,
        hide_index=True,
        key="model-table",
        column_config={
            c: st.column_config.NumberColumn(format="%.3f")
            for c in ("accuracy", "majority_accuracy", "gain_over_majority", "precision", "recall", "f1")
        },
    )
    st.download_button(
        "Download the model table (CSV)",
        table.to_csv(index=False).encode(),
        file_name=f"{ds.name}-attribute-models.csv",
        mime="text/csv",
        key="download-models",
    )
