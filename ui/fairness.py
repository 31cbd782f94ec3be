"""The Attribute classifiers page's fairness section: a worst-group audit of the model inspected.

It audits the attribute chosen in the page's threshold section (`attr`). Its own choices (in the URL): one or two
attributes to group the faces by (`fby`), whether a face's group follows its own label or its person's usual one
(`fsrc`), the figure the worst group is found by (`fworst`) and the face compared with its nearest face answered the
other way (`fface`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core import cached
from core import format as fmt
from core.charts.fairness import tradeoff_chart
from core.classify.fairness import (
    GROUP_SOURCES,
    MAX_GROUP_ATTRIBUTES,
    WORST_BY,
    FairnessAudit,
    GroupFigures,
    audit_model,
    nearest_answered_otherwise,
    threshold_tradeoff,
    tradeoff_sentence,
    worst_sentence,
)
from core.classify.store import ClassifierMeta
from core.data.dataset import Dataset
from core.stats.intervals import MIN_MODEL_IMAGES, MIN_MODEL_POSITIVES
from ui import links, long_lists
from ui.state import FAIR_DEFAULTS, FAIR_FACE, FAIR_FACE_SEARCH, FAIR_GROUPS, FAIR_SOURCE, FAIR_WORST_BY

DEFAULT_GROUPS = ("Male", "Young", "Pale_Skin")
RATE_COLUMNS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "tpr": "true-positive rate",
    "fpr": "false-positive rate",
}
SMALL_STYLE = "color: #9e9e9e; font-style: italic"
SEARCH_ORDER = "the worst group's mistakes first"  # how the test-face picker orders its faces (ui.long_lists)


@dataclass(frozen=True)
class AuditChoices:
    """What the fairness section audits."""

    target: str
    groups_by: tuple[str, ...]
    source: str
    worst_by: str


def follow_default(key: str, default) -> None:
    """A widget left at its default follows the default when that changes (another attribute, another audit); a
    value chosen by hand stays. Call before the widget is drawn."""
    defaults = st.session_state.setdefault(FAIR_DEFAULTS, {})
    before = defaults.get(key)
    if before is not None and before != default and st.session_state.get(key) == before:
        del st.session_state[key]
    defaults[key] = default


def audit_choices(ds: Dataset, meta: ClassifierMeta, attribute: str) -> AuditChoices | None:
    """The section's widgets (synced with the URL); None, with what to do, when nothing can be grouped."""
    target = attribute  # the attribute chosen above: threshold, subgroups, this audit and the errors show one
    options = [a for a in ds.attributes if a != target]
    default = [next((a for a in DEFAULT_GROUPS if a in options), options[0])] if options else []
    follow_default(FAIR_GROUPS, default)  # Male's default is Young
    c2, c3 = st.columns([2, 1])
    with c2:
        groups_by = links.synced_multiselect(
            "fby",
            FAIR_GROUPS,
            f"Group the faces by (one or {MAX_GROUP_ATTRIBUTES} attributes)",
            options,
            default,
            valid=lambda v: links.all_of(options)(v) and len(v) <= 2,
            max_selections=MAX_GROUP_ATTRIBUTES,
        )
    with c3:
        sources = list(GROUP_SOURCES) if ds.has_identity else ["image"]
        source = links.synced(
            "fsrc",
            FAIR_SOURCE,
            "image",
            lambda: st.radio(
                "A face's group follows",
                sources,
                format_func=GROUP_SOURCES.get,
                key=FAIR_SOURCE,
                help="A person's usual label keeps all their photos in one group, however each photo was labelled.",
            ),
            valid=links.one_of(sources),
        )
        worst_by = links.synced(
            "fworst",
            FAIR_WORST_BY,
            "balanced_accuracy",
            lambda: st.selectbox("Worst group by", list(WORST_BY), format_func=WORST_BY.get, key=FAIR_WORST_BY),
            valid=links.one_of(WORST_BY),
        )
    if not groups_by:
        st.info("Choose an attribute to group the faces by.")
        return None
    return AuditChoices(target, tuple(groups_by), source, worst_by)


def fairness_section(ds: Dataset, meta: ClassifierMeta, attribute: str, preds: dict) -> None:
    """Per-group rates with intervals, the worst group, the parity differences, per-group thresholds, a face pair."""
    choices = audit_choices(ds, meta, attribute)
    if choices is None:
        return
    try:
        audit = audit_model(ds, meta, preds, choices.target, choices.groups_by, choices.source, choices.worst_by)
    except ValueError as exc:
        st.error(str(exc))
        return
    st.caption(
        f"The model's answers for {audit.target} (the attribute chosen above) on its {fmt.count(audit.overall.n)} "
        "test images, at its own "
        f"threshold {fmt.decimal(audit.threshold, 2)} (the results table's), grouped by {' and '.join(audit.groups_by)}"
        f" ({GROUP_SOURCES[audit.source]}). Every rate comes with its 95% interval."
    )
    headline(audit)
    st.dataframe(group_table(audit), hide_index=True, width="stretch", key="clf-fair-table")
    st.caption(
        f"Grey rows: fewer than {MIN_MODEL_IMAGES} images or fewer than {MIN_MODEL_POSITIVES} of either answer, so "
        "their rates rest on a handful of faces. True-positive rate: the share of faces labelled yes that the model "
        "finds; false-positive rate: the share labelled no that it answers yes."
    )
    st.subheader("A threshold per group")
    tradeoff_view(audit)
    st.subheader("The nearest face answered the other way")
    counterpart_view(ds, audit)


def headline(audit: FairnessAudit) -> None:
    """The worst group and its gap, and the two parity differences, as metrics with a sentence."""
    worst, label = audit.worst, WORST_BY[audit.worst_by]
    eo, dp = audit.equal_opportunity, audit.demographic_parity
    c = st.columns(4)
    c[0].metric(f"Worst group by {label}", worst.name if worst else fmt.MISSING)
    c[1].metric(
        f"Its {label}",
        fmt.percent(worst.value(audit.worst_by)) if worst else fmt.MISSING,
        delta=fmt.signed_points(audit.worst_gap) if worst else None,
        help=f"The worst group's {label} beside all test images' ({fmt.percent(audit.overall.value(audit.worst_by))}).",
    )
    c[2].metric(
        "Equal-opportunity difference",
        fmt.points(eo.value),
        help="Largest minus smallest true-positive rate over the groups: 0 when the model finds the attribute "
        "equally often in every group.",
    )
    c[3].metric(
        "Demographic-parity difference",
        fmt.points(dp.value),
        help="Largest minus smallest share of faces answered yes over the groups, whatever their labels say.",
    )
    sentence = worst_sentence(audit)
    if sentence is None:
        st.warning(
            f"No group has enough test images of both answers to rank by {label}: the figures below rest on a "
            "handful of faces.",
            icon=":material/warning:",
        )
    else:
        st.markdown(sentence)
    lower = audit.lower_small_groups
    if lower:
        st.caption(
            f"{', '.join(g.name for g in lower)} score{'s' if len(lower) == 1 else ''} lower still, on too few images "
            "to rank."
        )
    if eo.highest is not None:
        st.caption(
            f"True-positive rates run from {fmt.percent(eo.lowest.value('tpr'))} ({eo.lowest.name}) to "
            f"{fmt.percent(eo.highest.value('tpr'))} ({eo.highest.name}); the share answered yes from "
            f"{fmt.percent(dp.lowest.value('selection_rate'))} ({dp.lowest.name}) to "
            f"{fmt.percent(dp.highest.value('selection_rate'))} ({dp.highest.name})."
        )
    else:
        st.caption("Fewer than two groups have faces labelled yes: there is no true-positive rate to compare.")


def _with_interval(group: GroupFigures, metric: str) -> str:
    low, high = group.interval(metric)
    value = group.value(metric)
    if np.isnan(value):
        return fmt.MISSING
    return f"{fmt.percent(value)} ({fmt.percent(low)}–{fmt.percent(high)})"


def group_table(audit: FairnessAudit):
    """One row per group and one for all test images: counts, then each rate with its interval; small rows grey."""
    rows = [*audit.groups, audit.overall]
    frame = pd.DataFrame(
        {
            "group": [g.name for g in rows],
            "images": [fmt.count(g.n) for g in rows],
            f"labelled {audit.target}": [fmt.count(g.positives) for g in rows],
            **{title: [_with_interval(g, m) for g in rows] for m, title in RATE_COLUMNS.items()},
        }
    )
    small = [g.small and g is not audit.overall for g in rows]
    return frame.style.apply(lambda row: [SMALL_STYLE if small[row.name] else "" for _ in row], axis=1)


def tradeoff_view(audit: FairnessAudit) -> None:
    """Accuracy against the true-positive-rate gap: one shared threshold vs a threshold per group."""
    tradeoff = threshold_tradeoff(audit)
    if tradeoff is None:
        st.caption("Per-group thresholds need at least two groups with faces labelled yes.")
        return
    st.altair_chart(tradeoff_chart(tradeoff), width="stretch")
    st.markdown(tradeoff_sentence(audit, tradeoff))
    st.caption(
        "Each blue point is one shared threshold; each orange point brings every group to the same true-positive "
        "rate with its own threshold (the highest that reaches it, so the fewest faces wrongly answered yes). The "
        "thresholds are chosen on these same test images: a what-if, optimistic for new faces."
    )


def _face_label(audit: FairnessAudit, image_ids: np.ndarray, i: int) -> str:
    said = "yes" if audit.answers[i] else "no"
    truth = "yes" if audit.labels[i] else "no"
    return f"{image_ids[audit.rows[i]]} · {audit.names[audit.codes[i]]} · labelled {truth}, answered {said}"


def counterpart_view(ds: Dataset, audit: FairnessAudit) -> None:
    """A chosen test face beside its nearest face (by embedding) that the model answers the other way."""
    emb = cached.current_embeddings(ds)
    if emb is None:
        st.info("This comparison needs the dataset's face embeddings: compute them on the Face search page.")
        links.forget("fface")
        return
    image_ids = ds.table["image_id"].to_numpy()
    wrong = audit.answers != audit.labels.astype(bool)
    worst = audit.worst
    in_worst = audit.codes == audit.names.index(worst.name) if worst else np.zeros(len(wrong), bool)
    # the worst group's mistakes first, then the other mistakes, then the rest
    order = np.lexsort((np.arange(len(wrong)), ~in_worst, ~wrong))
    by_image = {str(image_ids[audit.rows[i]]): int(i) for i in order}
    default = next(iter(by_image))
    follow_default(FAIR_FACE, default)

    def face_picker() -> str:
        # After a link's value is restored: the default face when nothing else is chosen, so that it stays the
        # picker's value (and an option) whatever the search box lists.
        chosen = st.session_state.setdefault(FAIR_FACE, default)
        return st.selectbox(
            f"A test face ({SEARCH_ORDER})",
            long_lists.searchable_options(list(by_image), [chosen], "test faces", FAIR_FACE_SEARCH, SEARCH_ORDER),
            format_func=lambda name: _face_label(audit, image_ids, by_image[name]),
            key=FAIR_FACE,
        )

    image = links.synced("fface", FAIR_FACE, default, face_picker, valid=by_image.__contains__)
    query = by_image[image]
    found = nearest_answered_otherwise(emb.vectors[audit.rows], audit.answers, query, emb.has_face[audit.rows])
    if found is None:
        st.caption("No face was found in this image, or the model answers every test face the same way.")
        return
    identity = ds.table["identity"].to_numpy()
    same = ds.has_identity and identity[audit.rows[query]] == identity[audit.rows[found.index]]
    left, right = st.columns(2)
    for column, i, title in ((left, query, "This face"), (right, found.index, "Nearest face answered the other way")):
        with column:
            st.markdown(f"**{title}**")
            data = cached.thumbnail(ds, str(image_ids[audit.rows[i]]), 224)
            if data is not None:
                st.image(data, width=224)
            st.caption(
                f"{_face_label(audit, image_ids, i)}; probability {fmt.decimal(audit.probs[i], 2)} "
                f"(threshold {fmt.decimal(audit.threshold, 2)})"
            )
    who = "the same person" if same else "another person"
    st.caption(
        f"{fmt.decimal(found.distance, 3)} apart in the embedding space, {who}. Of all the test faces the model "
        f"answers the other way on {audit.target}, this one looks most alike: what differs between the two is worth "
        "a look."
    )
