"""Sections of the Data quality page (layout only; the work is in core.quality)."""

from __future__ import annotations

from urllib.parse import urlencode

import polars as pl
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core import cached
from core import format as fmt
from core.charts import quality as charts
from core.cli.audit import audit_job_spec
from core.data.dataset import Dataset
from core.data.subset import Subset
from core.quality import CHECK_TITLES, CHECKS, StoredResult
from core.quality.audit import estimated_seconds
from core.quality.identities import MATCH_QUANTILE
from core.quality.images import PROBLEMS
from core.quality.labels import MIN_IDENTITIES_PER_FOLD, WEAK_AUC
from core.quality.store import quality_dir, was_set_aside
from core.quality.tables import (
    DUPLICATE_GROUPS,
    IDENTITY_SUSPECTS,
    LABEL_SUMMARY,
    LABEL_SUSPECTS,
    VALUE_WORDS,
    problems_table,
    readable,
)
from ui import links, state
from ui.gallery import image_grid
from ui.jobs import job_launcher
from ui.tables import first_rows

DATASET_PAGE = "pages/1_Dataset.py"
GALLERY = 24  # suspects shown per attribute
SIDE_BY_SIDE = 4  # suspect photos / identity pairs shown side by side with their photos
PHOTOS_PER_IDENTITY = 4
GROUPS_SHOWN = 12
ALL_IN_CSV = "the CSV download below lists them all"
YES_NO = {1: "yes", 0: "no"}


def audit_panel(ds: Dataset) -> dict[str, StoredResult | None]:
    """Which checks have results for the current data, and the button that runs the missing ones in the background."""
    results = cached.quality_results(ds)
    missing = cached.quality_missing(ds)
    todo = tuple(c for c in CHECKS if results[c] is None and missing[c] is None)
    done = [CHECK_TITLES[c].lower() for c in CHECKS if results[c] is not None]
    if done:
        st.caption("Results for the current data: " + ", ".join(done) + ".")
    damaged = [c for c in todo if was_set_aside(quality_dir(ds), c)]
    if damaged:
        st.warning(
            f"The stored results for {_listed(damaged)} could not be read (a file was damaged) and were set aside: "
            "run the audit to compute them again."
        )
    job = audit_job_spec(ds, todo) if todo else None
    if todo:
        fresh = [c for c in todo if c not in damaged]
        st.info(
            (f"Not yet run on {ds.name}: {_listed(fresh)}. " if fresh else "")
            + f"The audit runs in the background ({fmt.about(estimated_seconds(ds, todo))} for "
            f"{fmt.count(ds.n_images)} images on this server), survives page changes and keeps its results for the "
            "next visit."
        )
    job_launcher(job, "Auditing the data", "Run the audit", key="dq-run", remember=state.DQ_JOB)
    return results


def _listed(checks: list[str]) -> str:
    return ", ".join(CHECK_TITLES[c].lower() for c in checks)


def check_picker() -> str:
    """Which check to show (in the URL as ?check=, so the options are the URL's names)."""
    check = links.synced(
        "check",
        state.DQ_CHECK,
        CHECKS[0],
        lambda: st.segmented_control(
            "Check",
            CHECKS,
            default=CHECKS[0],
            required=True,
            key=state.DQ_CHECK,
            help=" · ".join(f"{c}: {CHECK_TITLES[c].lower()}" for c in CHECKS),
        ),
        valid=links.one_of(CHECKS),
    )
    if check != "labels":
        links.forget("attr")  # the attribute picker is not shown
    return check


def _not_available(ds: Dataset, check: str, result: StoredResult | None) -> bool:
    """Say why a check has nothing to show; True when it has nothing."""
    reason = cached.quality_missing(ds)[check]
    if reason:
        st.info(reason)
        return True
    if result is None and was_set_aside(quality_dir(ds), check):
        st.caption(f"The stored results for {CHECK_TITLES[check].lower()} could not be read: run the audit above.")
        return True
    if result is None:
        st.caption(f"{CHECK_TITLES[check]} have not been looked for yet: run the audit above.")
        return True
    return False


def _download(frame: pl.DataFrame, ds: Dataset, name: str, label: str, key: str) -> None:
    """The CSV is written when the button is pressed: at CelebA's size a list can be megabytes, which every rerun
    would otherwise write and keep in the server's memory per visitor."""
    st.download_button(
        label,
        lambda: frame.write_csv().encode(),
        file_name=f"{ds.name}-{name}.csv",
        mime="text/csv",
        key=key,
        on_click="ignore",
    )


def _dataset_link(ds: Dataset, label: str, key: str, value: str) -> None:
    """A link that opens the Dataset page showing these images (?dataset=...&where=... or &identity=...)."""
    params = {"dataset": ds.name, key: value}
    try:
        st.page_link(DATASET_PAGE, label=label, icon=":material/open_in_new:", query_params=params)
    except StreamlitPageNotFoundError:  # this page run on its own (tests): no page registry to resolve it in
        st.markdown(f"[{label}](/Dataset?{urlencode(params)})")


# ---- suspect attribute labels ----


def labels_section(ds: Dataset, result: StoredResult | None) -> None:
    """Per attribute: estimated wrong labels, and a gallery of the likeliest ones with what the model says."""
    if _not_available(ds, "labels", result):
        return
    summary, suspects = result.tables["summary"], result.tables["suspects"]
    info = result.summary
    st.caption(
        f"A logistic regression per attribute scored every image out of fold ({info['folds']} folds; with at least "
        f"{MIN_IDENTITIES_PER_FOLD * info['folds']} people each fold holds out whole people, so no person's photos "
        "are scored by a model that saw that person; with fewer, folds split the images) from "
        f"{' and '.join(info['features'])}; confident learning (cleanlab) estimated how many labels disagree with "
        "what the images show and ranked the likeliest."
    )
    if info.get("skipped_attributes"):
        st.caption("Too few images of one value to check: " + ", ".join(info["skipped_attributes"]) + ".")
    if info.get("unseen_attributes"):
        st.caption(unseen_sentence(info["unseen_attributes"], info["min_auc"]))
    weak = summary.filter(pl.col("model_auc") < WEAK_AUC)["attribute"].to_list() if "model_auc" in summary else []
    if weak:
        st.caption(
            f"Seen poorly by the model (ROC AUC below {fmt.decimal(WEAK_AUC, 2)}), so their suspects are weaker "
            f"evidence: {', '.join(weak)}."
        )
    if summary.is_empty():
        st.info(
            "No attribute that the model can see has enough images of both values to be checked."
            if info.get("unseen_attributes")
            else "No attribute has enough images of both values to be checked."
        )
        return
    cols = st.columns(3)
    cols[0].metric("Attributes checked", fmt.count(summary.height))
    cols[1].metric("Estimated wrong labels", fmt.count(int(summary["estimated_errors"].sum())))
    cols[2].metric("Images scored", fmt.count(info["images"]))
    ranked = summary.sort("estimated_errors", descending=True)["attribute"].to_list()
    attribute = links.synced(
        "attr",
        state.DQ_ATTRIBUTE,
        ranked[0],
        lambda: st.selectbox(
            "Attribute", ranked, key=state.DQ_ATTRIBUTE, help="Ordered by estimated wrong labels, most first."
        ),
        valid=links.one_of(ranked),
    )
    st.altair_chart(charts.label_error_bars(summary, attribute), width="stretch")
    _attribute_detail(ds, summary.filter(pl.col("attribute") == attribute).row(0, named=True), suspects)
    st.dataframe(readable(summary, LABEL_SUMMARY), hide_index=True, width="stretch")
    _download(summary, ds, "label-error-estimates", "Download the estimates per attribute (CSV)", "dq-labels-summary")
    _download(suspects, ds, "suspect-labels", "Download every suspect label (CSV)", "dq-labels-all")


def _attribute_detail(ds: Dataset, row: dict, suspects: pl.DataFrame) -> None:
    attribute = row["attribute"]
    mine = suspects.filter(pl.col("attribute") == attribute).sort("rank")
    cols = st.columns(3)
    cols[0].metric(
        f"Estimated wrong {attribute} labels",
        fmt.count(row["estimated_errors"]),
        help="cleanlab's calibrated estimate of how many annotations disagree with the images.",
    )
    cols[1].metric("Share of images", fmt.percent(row["error_rate"], 2))
    cols[2].metric(
        "Model ROC AUC",
        fmt.decimal(row["model_auc"]) if "model_auc" in row else fmt.decimal(None),
        help="Out of fold, against the annotations: how often the model ranks an image labelled yes above one "
        "labelled no (1 = always, 0.5 = chance). A weak model finds few errors and more false ones.",
    )
    if mine.is_empty():
        st.success(f"No {attribute} label stands out as wrong.")
        return
    shown = mine.head(GALLERY)
    likely = int(mine["likely"].sum())
    st.markdown(
        f"**The likeliest wrong {attribute} labels**: cleanlab counts {fmt.count(likely)} as likely errors (marked ●); "
        f"the {fmt.count(mine.height - likely)} other images where the model disagrees with the annotation follow them."
    )
    captions = [
        f"{'● ' if r['likely'] else ''}#{r['rank']} · labelled {YES_NO[r['annotated']]} · model says "
        f"{YES_NO[r['predicted']]} ({fmt.percent(r['confidence'], 0)})"
        for r in shown.iter_rows(named=True)
    ]
    image_grid(ds, shown["image_id"].to_list(), captions=captions, columns=8, size=128)
    for value in (1, 0):
        _dataset_link(
            ds, f"Images labelled {attribute}: {YES_NO[value]} on the Dataset page", "where", f"{attribute}:{value}"
        )
    listed = first_rows(mine, f"suspect {attribute} labels, likeliest first", ALL_IN_CSV)
    st.dataframe(readable(listed, LABEL_SUSPECTS, drop=("row",)), hide_index=True, width="stretch")
    _download(mine, ds, f"suspect-{attribute}", f"Download the {attribute} suspects (CSV)", "dq-labels-attr")


def unseen_sentence(unseen: list[dict], min_auc: float) -> str:
    """'Not checked, because the images do not show them: Attractive (not drawn on the demo), Bald (…).'"""
    parts = [
        f"{u['attribute']} ({u['reason']}" + (f": ROC AUC {fmt.decimal(u['auc'], 2)})" if u["auc"] is not None else ")")
        for u in unseen
    ]
    return (
        f"Not checked, because the images do not show them: {', '.join(parts)}. A model that cannot see an attribute "
        "disagrees with right labels as often as with wrong ones, so an attribute is checked only where the model "
        f"ranks an image labelled yes above one labelled no at least {fmt.percent(min_auc, 0)} of the time "
        f"(ROC AUC {fmt.decimal(min_auc, 2)})."
    )


def demo_note(ds: Dataset) -> None:
    """On the demo, say that its labels and identities are right by construction: every suspect is a model error."""
    if ds.is_demo:
        st.info(
            "The demo's labels and identities are drawn into its pictures by the program that made them, so none "
            "of them is wrong: every suspect listed here is a mistake of the models that look for errors. On real "
            "data the same lists mix such mistakes with real errors."
        )


# ---- suspect identity labels ----


def identities_section(ds: Dataset, result: StoredResult | None) -> None:
    """Photos filed under the wrong person and people filed twice, each beside the photos it is compared with."""
    if _not_available(ds, "identities", result):
        return
    info, suspects, twins = result.summary, result.tables["suspects"], result.tables["twins"]
    match_cut = info.get("match_cut", info["threshold"])
    st.caption(
        f"Same person means closer than {fmt.decimal(info['threshold'])} (the cut between distances of same- and "
        f"different-identity pairs of this dataset's faces: balanced accuracy {fmt.decimal(info['accuracy'])}, ROC AUC "
        f"{fmt.decimal(info['auc'])}). A photo is compared with its identity's other photos and with its nearest "
        "identities: it is unlike its own when its median distance to their photos is above the cut, and it looks "
        f"like another identity when its median distance to that one's photos is below {fmt.decimal(match_cut)}, "
        f"as close as {fmt.percent(MATCH_QUANTILE, 0)} of the photos are to their own identity's."
    )
    if not info["trustworthy"]:
        st.warning(
            f"Face distances separate this dataset's identities poorly (ROC AUC {fmt.decimal(info['auc'], 2)}), so "
            "these suspects are weak evidence. On drawn faces the descriptor is not made for, expect many."
        )
    cols = st.columns(4)
    cols[0].metric("Photos judged", fmt.count(info["judged"]), help="Photos whose identity has 2 or more other photos.")
    cols[1].metric("Look like another identity", fmt.count(info["misfiled"]))
    cols[2].metric("Unlike their own identity", fmt.count(info["unlike"]))
    cols[3].metric("Identities filed twice?", fmt.count(info["twins"]))
    if not suspects.is_empty():
        drawn = first_rows(suspects, "suspect photos, most suspect first", ALL_IN_CSV, verb="Drawing")
        st.altair_chart(charts.identity_distance_scatter(drawn, info["threshold"]), width="stretch")
    misfiled = suspects.filter(pl.col("kind") == "another identity's face")
    st.markdown("**Photos that look like another identity** (largest difference first)")
    for r in _side_by_side(misfiled, "photos", "the CSV download below lists every suspect photo"):
        _suspect_row(ds, r)
    st.markdown("**Identities that look like one person filed twice**")
    for r in _side_by_side(twins, "pairs", "the CSV download below lists every pair"):
        _twin_row(ds, r)
    listed = first_rows(suspects, "suspect photos, most suspect first", ALL_IN_CSV)
    st.dataframe(readable(listed, IDENTITY_SUSPECTS, drop=("row",)), hide_index=True, width="stretch")
    _download(suspects, ds, "suspect-identities", "Download the suspect photos (CSV)", "dq-id-suspects")
    _download(twins, ds, "twin-identities", "Download the identity pairs (CSV)", "dq-id-twins")


def _side_by_side(frame: pl.DataFrame, what: str, where_all: str) -> list[dict]:
    """The first SIDE_BY_SIDE rows to show with their photos, saying so when there are more (each row is up to 9
    thumbnails: all of a CelebA-size set's made this view a second slower than the demo's)."""
    if frame.is_empty():
        st.caption("None.")
    elif frame.height > SIDE_BY_SIDE:
        st.caption(f"The first {SIDE_BY_SIDE} of {fmt.count(frame.height)} {what}; {where_all}.")
    return list(frame.head(SIDE_BY_SIDE).iter_rows(named=True))


def _identity_photos(ds: Dataset, identity: str, leave_out: str | None = None) -> list[str]:
    rows = cached.subset_rows(ds, Subset(identities=(identity,)))  # cached: not a scan of every row per person
    ids = ds.table["image_id"].gather(rows[: PHOTOS_PER_IDENTITY + 1]).to_list()
    return [i for i in ids if i != leave_out][:PHOTOS_PER_IDENTITY]


def _suspect_row(ds: Dataset, r: dict) -> None:
    photo, own, other = st.columns([1, 4, 4])
    with photo:
        image_grid(ds, [r["image_id"]], captions=[f"{r['image_id']}"], columns=1)
    with own:
        st.caption(f"Filed under {r['identity']} (median distance {fmt.decimal(r['own_median'])})")
        image_grid(ds, _identity_photos(ds, r["identity"], r["image_id"]), columns=PHOTOS_PER_IDENTITY)
        _dataset_link(ds, f"Identity {r['identity']}", "identity", r["identity"])
    with other:
        st.caption(f"Looks like {r['match_identity']} (median distance {fmt.decimal(r['match_median'])})")
        image_grid(ds, _identity_photos(ds, r["match_identity"]), columns=PHOTOS_PER_IDENTITY)
        _dataset_link(ds, f"Identity {r['match_identity']}", "identity", r["match_identity"])


def _twin_row(ds: Dataset, r: dict) -> None:
    left, right = st.columns(2)
    for col, side in ((left, "a"), (right, "b")):
        with col:
            identity = r[f"identity_{side}"]
            st.caption(
                f"{identity}: {r[f'photos_{side}']} photos, median distance {fmt.decimal(r[f'within_{side}'])} among "
                f"them, {fmt.decimal(r['cross_median'])} to the other identity's"
            )
            image_grid(ds, _identity_photos(ds, identity), columns=PHOTOS_PER_IDENTITY)
            _dataset_link(ds, f"Identity {identity}", "identity", identity)


# ---- duplicates ----


def duplicates_section(ds: Dataset, result: StoredResult | None) -> None:
    """Exact and near duplicate groups, within one identity and across identities listed apart."""
    if _not_available(ds, "duplicates", result):
        return
    info, groups, members = result.summary, result.tables["groups"], result.tables["members"]
    st.caption(
        f"Compared: {', '.join(info['sources'])}. Exact copies have the same bytes; near copies look alike as "
        "whole images (allowing a slight crop) and, where faces were found, as faces."
    )
    cols = st.columns(5)
    cols[0].metric("Exact groups", fmt.count(info["exact_groups"]))
    cols[1].metric("Near groups", fmt.count(info["near_groups"]))
    cols[2].metric("Images in a group", fmt.count(info["images_in_groups"]))
    cols[3].metric("Within one identity", fmt.count(info["within_identity"]))
    cols[4].metric("Across identities", fmt.count(info["across_identities"]))
    if groups.is_empty():
        st.success("No duplicates found.")
        return
    st.altair_chart(charts.duplicate_group_sizes(groups), width="stretch")
    for scope, title in (
        ("across identities", "Across identities (one photo filed under two people: an identity error too)"),
        ("within one identity", "Within one identity"),
        ("no identity labels", "Groups"),
    ):
        chosen = groups.filter(pl.col("scope") == scope)
        if chosen.is_empty():
            continue
        st.markdown(f"**{title}**: {fmt.count(chosen.height)} groups")
        for g in chosen.head(GROUPS_SHOWN).iter_rows(named=True):
            rows = members.filter(pl.col("group") == g["group"])
            captions = [f"{i} · {p or '–'}" for i, p in zip(rows["image_id"], rows["identity"])]
            st.caption(f"Group {g['group']} ({g['kind']}, {g['size']} images)")
            image_grid(ds, rows["image_id"].to_list()[:8], captions=captions[:8], columns=8, size=112)
    listed = first_rows(groups, "duplicate groups", ALL_IN_CSV)
    st.dataframe(readable(listed, DUPLICATE_GROUPS), hide_index=True, width="stretch")
    _download(members, ds, "duplicates", "Download every duplicate group (CSV)", "dq-dups")


# ---- unusable images ----


def images_section(ds: Dataset, result: StoredResult | None) -> None:
    """Counts per problem, and the images of each."""
    if _not_available(ds, "images", result):
        return
    info, problems = result.summary, result.tables["problems"]
    counts = info["counts"]
    if not info["faces_checked"]:
        st.caption(
            "Face problems (no face, several faces) need the face embeddings: compute them on the Face search page."
        )
    cols = st.columns(len(PROBLEMS))
    for col, problem in zip(cols, PROBLEMS):
        col.metric(problem.capitalize(), fmt.count(counts[problem]))
    if problems.is_empty():
        st.success(f"All {fmt.count(info['scanned'])} images look usable.")
        return
    st.altair_chart(charts.problem_bars(counts), width="stretch")
    found = [p for p in PROBLEMS if counts[p]]
    for tab, problem in zip(st.tabs([f"{p} ({fmt.count(counts[p])})" for p in found]), found):
        with tab:
            rows = problems.filter(pl.col("problem") == problem).head(GALLERY)
            captions = [
                f"{i}" if v != v else f"{i} · {VALUE_WORDS[problem](v)}"
                for i, v in zip(rows["image_id"], rows["value"])
            ]
            image_grid(ds, rows["image_id"].to_list(), captions=captions, columns=8, size=112)
    listed = first_rows(problems, "unusable images", ALL_IN_CSV)
    st.dataframe(problems_table(listed), hide_index=True, width="stretch")
    _download(problems, ds, "unusable-images", "Download the list (CSV)", "dq-images")


SECTIONS = {
    "labels": labels_section,
    "identities": identities_section,
    "duplicates": duplicates_section,
    "images": images_section,
}
