"""The Data quality page (AppTest) and the planted label flips, on a copy of the 400-image test demo.

The copy has 3 % of its Eyeglasses and Wearing_Hat labels flipped and real dlib embeddings (computed once per
session by conftest's embedded_demo_home); the audit runs once in-process and the page is checked against the stored results and
against numbers computed another way (file hashes, the embedding run's face counts).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections import Counter

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import ui.jobs
from core import cached
from core.data.ingest import open_dataset
from core.errors import QueueFullError
from core.faces import pipeline as faces
from core.faces.embed_job import embed_dataset, load_face_counts, load_status
from core.jobs import cancel_job, job_status
from core.quality import labels, load_check, run_audit
from core.quality.images import PROBLEMS
from tests.support import PROJECT, copy_home, home_environment

pytestmark = pytest.mark.slow

PAGE = str(PROJECT / "pages" / "6_Data_quality.py")
FLIPPED = ("Eyeglasses", "Wearing_Hat")
FLIP_SHARE = 0.03


def _flip_labels(anno, n_images: int, seed: int = 0) -> dict[str, set[str]]:
    """Flip FLIP_SHARE of each FLIPPED attribute in list_attr_celeba.txt; returns {attribute: flipped image ids}."""
    lines = anno.read_text().splitlines()
    header = lines[1].split()
    rows = [line.split() for line in lines[2:]]
    rng = np.random.default_rng(seed)
    flipped = {}
    for attribute in FLIPPED:
        col = header.index(attribute) + 1
        chosen = rng.choice(n_images, round(FLIP_SHARE * n_images), replace=False)
        for r in chosen:
            rows[r][col] = "1" if rows[r][col] == "-1" else "-1"
        flipped[attribute] = {rows[r][0] for r in chosen}
    anno.write_text("\n".join([lines[0], lines[1], *(" ".join(r) for r in rows)]) + "\n")
    return flipped


@pytest.fixture(scope="module")
def audited_home(embedded_demo_home, tmp_path_factory):
    """SLOW (about half a minute): the flipped copy of the session's embedded demo (its embeddings are keyed by the
    image files, which flipping labels leaves alone, so the embedding job finds them done), audited once."""
    home = copy_home(embedded_demo_home, tmp_path_factory.mktemp("quality-home"))
    n_images = len((home / "data" / "demo" / "Anno" / "list_attr_celeba.txt").read_text().splitlines()) - 2
    flipped = _flip_labels(home / "data" / "demo" / "Anno" / "list_attr_celeba.txt", n_images)
    with home_environment(home):
        cached.dataset_refs.clear()
        ds = open_dataset(home / "data" / "demo", name="demo")
        embed_dataset(ds, workers=2)
        run_audit(ds, workers=1)
        yield home, ds, flipped
        cached.dataset_refs.clear()


def metric(at, label: str) -> str:
    return next(m for m in at.metric if m.label == label).value


def run_page(check: str | None = None, dataset: str = "demo") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["dataset"] = dataset
    if check:
        at.query_params["check"] = check
    at.run()
    assert not at.exception, at.exception
    return at


def test_planted_label_flips_are_ranked_first(audited_home):
    """Top-ranked suspects of the two flipped attributes: precision >= 0.7 at recall >= 0.8 against the flips.

    The issue's bar (0.8 at 0.8) is measured on the 6,000-image demo in bench/bench_quality.py; this 400-image demo
    of 20 people holds only 24 flips, and its pooled precision at 0.8 recall was 0.71-0.74 (flip seeds 0 and 1;
    0.29 when its folds held out whole people, see core.quality.labels.MIN_IDENTITIES_PER_FOLD).
    """
    _, ds, flipped = audited_home
    suspects = load_check(ds, "labels").tables["suspects"].filter(pl.col("attribute").is_in(FLIPPED))
    ranked = suspects.sort("p_annotated")
    truth = [row["image_id"] in flipped[row["attribute"]] for row in ranked.iter_rows(named=True)]
    planted = sum(len(v) for v in flipped.values())
    found = np.cumsum(truth)
    assert found[-1] >= 0.8 * planted, "the flips are not among the images the model disagrees with"
    k = int(np.argmax(found >= np.ceil(0.8 * planted))) + 1
    assert found[k - 1] / k >= 0.7, (k, found[k - 1])
    likely = suspects.filter(pl.col("likely"))
    hits = sum(row["image_id"] in flipped[row["attribute"]] for row in likely.iter_rows(named=True))
    assert hits >= 0.7 * likely.height  # confident learning's own list is precise (17 of 22 here)


def test_labels_section_shows_the_stored_estimates(audited_home):
    _, ds, _ = audited_home
    summary = load_check(ds, "labels").tables["summary"]
    at = run_page()
    assert at.segmented_control(key="dq-check").value == "labels"
    assert metric(at, "Attributes checked") == str(summary.height)
    assert metric(at, "Estimated wrong labels") == f"{int(summary['estimated_errors'].sum()):,}"
    options = at.selectbox(key="dq-attr").options
    assert options[0] == summary.sort("estimated_errors", descending=True)["attribute"][0]  # most errors first
    chosen = options[1]
    at.selectbox(key="dq-attr").set_value(chosen).run()
    row = summary.filter(pl.col("attribute") == chosen).row(0, named=True)
    assert metric(at, f"Estimated wrong {chosen} labels") == f"{row['estimated_errors']:,}"
    assert dict(at.query_params) == {"dataset": "demo", "attr": chosen}  # the default check stays out
    link = next(c.value for c in at.code if "dataset=" in c.value)
    assert link.endswith(f"?dataset=demo&attr={chosen}")
    shared = AppTest.from_file(PAGE, default_timeout=120)  # a shared link, opened in a new session
    shared.query_params.update({"dataset": "demo", "attr": chosen})
    shared.run()
    assert shared.selectbox(key="dq-attr").value == chosen
    assert [(m.label, m.value) for m in shared.metric] == [(m.label, m.value) for m in at.metric]
    shared.segmented_control(key="dq-check").set_value("duplicates").run()
    assert dict(shared.query_params) == {"dataset": "demo", "check": "duplicates"}  # attr left with its picker


def test_the_demo_is_said_to_be_right_and_only_attributes_the_model_sees_are_checked(audited_home):
    """The demo's labels are drawn: the page says its suspects are model errors, leaves out the undrawn Attractive
    and every attribute the model cannot see, and says which and why."""
    _, ds, _ = audited_home
    stored = load_check(ds, "labels")
    summary, unseen = stored.tables["summary"], stored.summary["unseen_attributes"]
    at = run_page()
    assert any(i.value.startswith("The demo's labels and identities are drawn") for i in at.info)
    said = next(c.value for c in at.caption if c.value.startswith("Not checked, because the images do not show them"))
    assert "Attractive (not drawn on the demo)" in said
    for u in unseen:
        assert u["attribute"] in said and (u["auc"] is None or u["auc"] < labels.MIN_AUC)
    assert (summary["model_auc"] >= labels.MIN_AUC).all()
    options = at.selectbox(key="dq-attr").options
    assert "Attractive" not in options and set(options) == set(summary["attribute"])
    assert {"Eyeglasses", "Wearing_Hat"} <= set(options)  # their 3 % flipped labels are what the check is for
    checked = int(summary["estimated_errors"].sum())
    assert metric(at, "Estimated wrong labels") == f"{checked:,}"


def test_identities_section_counts(audited_home):
    _, ds, _ = audited_home
    stored = load_check(ds, "identities")
    kinds = Counter(stored.tables["suspects"]["kind"].to_list())
    at = run_page("identities")
    assert kinds.get(stored_kind(0), 0) == 0  # the demo's identities are right by construction: no false alarm
    assert metric(at, "Look like another identity") == "0"
    assert any(f"is below {stored.summary['match_cut']:.3f}" in c.value for c in at.caption)
    assert metric(at, "Unlike their own identity") == f"{kinds.get(stored_kind(1), 0):,}"
    assert metric(at, "Identities filed twice?") == f"{stored.tables['twins'].height:,}"
    if not stored.summary["trustworthy"]:  # drawn faces: the descriptor barely separates the demo's people
        assert any("separate this dataset's identities poorly" in w.value for w in at.warning)


def test_identities_section_shows_the_first_pairs_with_photos_and_says_how_many_more(audited_home, monkeypatch):
    """Each pair shown side by side brings up to 8 thumbnails: only the first SIDE_BY_SIDE are drawn, said so.
    (The demo's people are told apart, so its audit finds no pair: three are planted in what the page reads.)"""
    import dataclasses

    import ui.quality

    _, ds, _ = audited_home
    people = ds.table["identity"].unique(maintain_order=True).to_list()[:6]
    twins = pl.DataFrame(
        {
            "identity_a": people[0::2],
            "identity_b": people[1::2],
            "photos_a": [int((ds.table["identity"] == p).sum()) for p in people[0::2]],
            "photos_b": [int((ds.table["identity"] == p).sum()) for p in people[1::2]],
            "cross_median": [0.3, 0.31, 0.32],
            "within_a": [0.2] * 3,
            "within_b": [0.2] * 3,
        }
    )
    stored = cached.quality_results

    def with_twins(dataset):
        results = dict(stored(dataset))
        found = results["identities"]
        results["identities"] = dataclasses.replace(found, tables={**found.tables, "twins": twins})
        return results

    monkeypatch.setattr(cached, "quality_results", with_twins)
    all_three = run_page("identities")
    monkeypatch.setattr(ui.quality, "SIDE_BY_SIDE", 1)
    at = run_page("identities")
    said = [c.value for c in at.caption]
    assert "The first 1 of 3 pairs; the CSV download below lists every pair." in said
    assert any(c.startswith(f"{people[0]}: {twins['photos_a'][0]} photos") for c in said)
    assert not any(c.startswith(f"{people[2]}: ") for c in said)  # the second pair is not drawn
    assert any(c.startswith(f"{people[2]}: ") for c in [c.value for c in all_three.caption])
    assert len(at.image) == len(all_three.image) - 2 * ui.quality.PHOTOS_PER_IDENTITY * 2


def stored_kind(i: int) -> str:
    from core.quality.identities import SUSPECT_KINDS

    return SUSPECT_KINDS[i]


def test_duplicates_section_counts_exact_copies_found_by_hashing_the_files(audited_home):
    _, ds, _ = audited_home
    digests = Counter(hashlib.sha256(ds.image_path(i).read_bytes()).hexdigest() for i in ds.table["image_id"])
    at = run_page("duplicates")
    assert metric(at, "Exact groups") == str(sum(1 for n in digests.values() if n > 1))
    assert metric(at, "Near groups") == f"{load_check(ds, 'duplicates').summary['near_groups']:,}"


def test_images_section_counts_faces_from_the_embedding_run(audited_home):
    _, ds, _ = audited_home
    at = run_page("images")
    assert metric(at, "No face found") == f"{int((load_status(ds) == faces.STATUS_NO_FACE).sum()):,}"
    assert metric(at, "Several faces") == f"{int((load_face_counts(ds) > 1).sum()):,}"
    counts = load_check(ds, "images").summary["counts"]
    assert [metric(at, p.capitalize()) for p in PROBLEMS] == [f"{counts[p]:,}" for p in PROBLEMS]


def test_a_dataset_without_images_says_what_each_check_needs(audited_home):
    at = run_page("images", dataset="annotations_only")
    assert any("reads the image files" in i.value for i in at.info)
    at.segmented_control(key="dq-check").set_value("identities").run()
    assert any("compute the face embeddings first" in i.value for i in at.info)


def test_the_button_starts_the_audit_job(audited_home, tmp_path, monkeypatch):
    home, _, _ = audited_home
    other = tmp_path / "home"
    shutil.copytree(home / "data" / "demo", other / "data" / "demo")
    monkeypatch.setenv("FACEATLAS_HOME", str(other))
    monkeypatch.setenv("FACEATLAS_CACHE", str(other / "cache"))
    cached.dataset_refs.clear()
    at = run_page()
    assert any("Not yet run on demo" in i.value for i in at.info)
    at.button(key="dq-run").click().run()
    job_id = at.session_state["dq-job"]
    try:
        status = job_status(job_id)
        assert status is not None and status.kind == "audit"
    finally:
        cancel_job(job_id)
        cached.dataset_refs.clear()


@pytest.mark.parametrize("check", ["labels", "identities", "duplicates", "images"])
def test_every_table_reads_as_words_and_formatted_numbers(audited_home, check):
    """No machine column names (p_annotated, match_median), no 'None', no raw floats: every cell is as spelled."""
    at = run_page(check)
    for frame in (d.value for d in at.dataframe):
        assert not [c for c in frame.columns if "_" in c or c != c.strip() or (not c[:1].isupper() and c != "eps")]
        cells = [str(v) for column in frame.columns for v in frame[column]]
        assert not [c for c in cells if c in ("None", "nan", "True", "False") or re.fullmatch(r"-?\d+\.\d{4,}", c)]


def test_a_full_queue_says_when_to_try_again_instead_of_starting(audited_home, tmp_path, monkeypatch):
    home, _, _ = audited_home
    other = tmp_path / "home"
    shutil.copytree(home / "data" / "demo", other / "data" / "demo")
    monkeypatch.setenv("FACEATLAS_HOME", str(other))
    monkeypatch.setenv("FACEATLAS_CACHE", str(other / "cache"))
    full = "The queue is full: 8 jobs are waiting and 2 running on this server. Try again in about 3 min."

    def refuse(kind, argv, owner=None):
        raise QueueFullError(full)

    monkeypatch.setattr(ui.jobs, "start_job", refuse)
    cached.dataset_refs.clear()
    at = run_page()
    at.button(key="dq-run").click().run()
    try:
        assert not at.exception, at.exception
        assert full in [w.value for w in at.warning]  # the sentence, not an error page
        assert "dq-job" not in at.session_state
    finally:
        cached.dataset_refs.clear()
