"""Sections of the Attribute-relations page: filter, heatmap, pair drill-down, models."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core import cached
from core.charts import stats as stats_charts
from core.data.dataset import Dataset
from core.data.subset import Subset
from core.stats import relations as stats
from ui import links
from ui.filters import subset_ui
from ui.gallery import image_grid

HEATMAP_KEY = "rel-heatmap"
PAIR_A, PAIR_B = "pair_a", "pair_b"  # widget keys, also the URL's query parameter names
DEFAULT_PAIR = ("Male", "Goatee")
UNDEFINED = "undefined"


def fmt(value: float, spec: str = ".3f") -> str:
    """A number for display, or 'undefined' for NaN (a zero denominator)."""
    return UNDEFINED if value is None or math.isnan(value) else format(value, spec)


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
        return subset_ui(ds, key="rel")


def subset_size(ds: Dataset, rel: stats.RelationStats, subset: Subset) -> None:
    """Subset size, or a message and stop when nothing matches."""
    st.metric("Images in the subset", f"{rel.n:,}", help=f"{subset.describe()} · of {ds.n_images:,} in the dataset")
    if rel.n == 0:
        st.warning(f"No images match ({subset.describe()}). Remove a condition in the sidebar to see relations.")
        st.stop()
    if not subset.is_everything:
        st.caption(f"Every figure below is computed on the {rel.n:,} images with {subset.describe()}.")


def _pick_pair_from_chart() -> None:
    selection = st.session_state.get(HEATMAP_KEY, {}).get("selection", {}).get("pair") or []
    if selection:
        st.session_state[PAIR_A] = selection[0]["A"]
        st.session_state[PAIR_B] = selection[0]["B"]


def heatmap_section(ds: Dataset, subset: Subset, rel: stats.RelationStats) -> None:
    """Heatmap of P(A|B), phi or lift over all pairs; clicking a cell picks the drill-down pair."""
    st.header("All pairs")
    left, right = st.columns([2, 1])
    links.restore("measure", "measure", valid=links.one_of(stats.MEASURES))
    measure = left.segmented_control(
        "Measure",
        stats.MEASURES,
        default="P(A|B)",
        required=True,
        key="measure",
        help="P(A|B): share of images with B that also have A. phi: correlation of the two 0/1 attributes "
        "(-1..1). lift: P(A|B) / P(A), above 1 when B makes A more likely.",
    )
    links.remember("measure", measure, "P(A|B)")
    links.restore("rel-cluster", "sort", links.as_bool)
    clustered = right.toggle("Sort by clustering", value=True, key="rel-cluster")
    links.remember("sort", clustered, True)
    order = cached.cluster_order(ds.key, subset, measure, ds) if clustered else list(ds.attributes)
    matrix = rel.measure(measure)
    undefined = int(pd.isna(matrix).sum())
    if undefined:
        st.caption(
            f"{undefined} cells are undefined (blank): an attribute is absent (or always present) in this subset."
        )
    frame = stats.matrix_frame(matrix, ds.attributes)
    st.altair_chart(
        stats_charts.relation_heatmap(frame, measure, order),
        width="stretch",
        key=HEATMAP_KEY,
        on_select=_pick_pair_from_chart,
        selection_mode="pair",
    )
    st.caption("Rows are A (the outcome), columns B (the condition). Hover for the value; click a cell to drill in.")
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
    for key in (PAIR_A, PAIR_B):
        links.restore(key, key, valid=links.one_of(ds.attributes))
    a = left.selectbox("A (outcome)", ds.attributes, index=ds.attributes.index(a_default), key=PAIR_A)
    b = right.selectbox("B (condition)", ds.attributes, index=ds.attributes.index(b_default), key=PAIR_B)
    links.remember(PAIR_A, a, a_default)
    links.remember(PAIR_B, b, b_default)
    return a, b


def pair_section(ds: Dataset, subset: Subset, rel: stats.RelationStats) -> None:
    """2x2 counts, conditional probabilities, lift, phi and example images of one pair."""
    st.header("One pair")
    a, b = _pair_pickers(ds)
    pair = stats.pair_summary(rel, a, b)
    cols = st.columns(5)
    cols[0].metric(f"P({a} | {b})", fmt(pair["P(A|B)"]))
    cols[1].metric(f"P({a} | not {b})", fmt(pair["P(A|not B)"]))
    cols[2].metric(f"P({b} | {a})", fmt(pair["P(B|A)"]))
    cols[3].metric("lift", fmt(pair["lift"]))
    cols[4].metric("phi", fmt(pair["phi"]))
    if any(math.isnan(pair[k]) for k in ("P(A|B)", "P(A|not B)", "P(B|A)", "lift", "phi")):
        st.caption(f"'{UNDEFINED}' means the denominator is zero: no image in this subset has (or lacks) {a} or {b}.")
    left, right = st.columns([1, 2])
    with left:
        st.altair_chart(stats_charts.contingency_chart(pair), width="stretch")
        st.caption(
            f"{pair['n11']:,} images have both; {pair['n10']:,} only {a}; {pair['n01']:,} only {b}; "
            f"{pair['n00']:,} neither."
        )
    with right:
        _cell_examples(ds, subset, rel, a, b)


def _cell_examples(ds: Dataset, subset: Subset, rel: stats.RelationStats, a: str, b: str) -> None:
    if not ds.has_images:
        st.caption("Images are not available for this dataset (annotations only).")
        return
    rows = cached.subset_rows(ds.key, subset, ds)
    cells = stats.cell_examples(cached.subset_matrix(ds, subset), rel.index(a), rel.index(b))
    for (va, vb), positions in cells.items():
        st.caption(f"{a}={va}, {b}={vb}")
        image_grid(ds, ds.table["image_id"].gather(rows[positions]).to_list(), columns=6, size=96)


def model_section(ds: Dataset, subset: Subset) -> None:
    """Predict one attribute from the others; optionally all of them into one table."""
    st.header("Predict an attribute from the others")
    default = ds.attributes.index("Male") if "Male" in ds.attributes else 0
    links.restore("model-target", "target", valid=links.one_of(ds.attributes))
    target = st.selectbox("Attribute to predict", ds.attributes, index=default, key="model-target")
    links.remember("target", target, ds.attributes[default])
    result = cached.attribute_model(ds.key, subset, target, ds)
    st.caption(
        f"Logistic regression: {result['train_rows']:,} training images"
        f"{' (a seeded sample)' if result['sampled'] else ''}, {result['test_rows']:,} test images; split: {result['split']}."
    )
    if result["note"]:
        st.info(result["note"])
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
        col.metric(label, fmt(result[key]))
    with st.expander("Strongest coefficients", expanded=True):
        st.altair_chart(stats_charts.coefficient_bars(result["coefficients"]), width="stretch")
    shared = st.query_params.get("all") == "1"  # a shared link that showed the table shows it again
    if (
        st.button("Compute for all attributes", key="model-all")
        or shared
        or st.session_state.get("model-all-done") == (ds.key, subset)
    ):
        st.session_state["model-all-done"] = (ds.key, subset)
        links.remember("all", True, False)
        _all_models_table(ds, subset)
    else:
        links.forget("all")


def _all_models_table(ds: Dataset, subset: Subset) -> None:
    table = cached.all_attribute_models(ds.key, subset, ds)
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
