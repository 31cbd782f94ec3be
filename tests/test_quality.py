"""core.quality: the neighbour search, folds, models and confident learning checked against plain computations,
the stored results and the command; and the planted-error checks on real photos (../shared, skipped without it).

The real-photo set is an LFW-style copy of 8 identities of the wild CelebA sample, downscaled to 360 pixels so
that embedding them takes seconds, with 8 photos moved to another identity's folder and 12 copies (JPEG quality
60, resized to 90 %, 4 % cropped off each side) added under new names. The full-sample figures (20 moved, 20
copies, 522 photos) are in docs/bench/quality.md.
"""

from __future__ import annotations

import io
import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from core.__main__ import main as cli_main
from core.data.embeddings import save_embeddings
from core.data.ingest import ingest
from core.faces import pipeline as faces
from core.faces.calibration import Calibration
from core.faces.embed_job import embed_dataset
from core.quality import CHECKS, duplicates, identities, images, labels, load_check, missing, parse_checks, run_audit
from core.quality.audit import check_token
from core.quality.neighbours import close_pairs, close_pairs_exact
from core.quality.scan import measure_bytes, scan_images
from core.quality.store import StoredResult, load_result, quality_dir, result_token, save_result
from tests.support import WILD_SAMPLE, needs, seed_face_weights

# Pairs of the wild sample that are the same photo saved twice (checked by eye): real duplicates, not false groups.
KNOWN_DUPLICATES = {
    frozenset(p) for p in (("091007.jpg", "111164.jpg"), ("073071.jpg", "086558.jpg"), ("030355.jpg", "090442.jpg"))
}
WILD_IDENTITIES = 8
MOVED = 8
COPY_KINDS = ("jpeg60", "resize90", "crop4")
COPIES = 12
SMALL_SIDE = 360
FAST = faces.FaceConfig(rescue="none")


# ---------------------------------------------------------------- neighbour search


def _planted(n: int, dim: int, copies: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    src = rng.choice(n, copies, replace=False)
    noise = rng.standard_normal((copies, dim)).astype(np.float32) * 0.01
    return np.vstack([X, X[src] + noise])


def test_close_pairs_exact_matches_numpy_all_pairs():
    X = _planted(300, 8, 10)
    found = close_pairs_exact(X, 0.3)
    d = np.sqrt(((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(axis=2))
    a, b = np.nonzero(np.triu(d <= 0.3, k=1))
    assert np.array_equal(found.a, a) and np.array_equal(found.b, b)
    np.testing.assert_allclose(found.distance, d[a, b], rtol=0, atol=1e-12)


def test_close_pairs_through_cells_finds_what_all_pairs_find():
    X = _planted(7_000, 16, 60)  # above EXACT_BELOW: the cell search runs
    cells, exact = close_pairs(X, 0.2), close_pairs_exact(X, 0.2)
    assert len(exact) >= 60
    assert np.array_equal(cells.a, exact.a) and np.array_equal(cells.b, exact.b)
    assert np.array_equal(cells.distance, exact.distance)


# ---------------------------------------------------------------- labels


def test_group_folds_keep_identities_whole_and_balance_sizes():
    rng = np.random.default_rng(0)
    identity = [f"p{i}" for i in rng.integers(0, 120, 2_000)] + [None] * 50
    folds = labels.group_folds(identity, n_folds=5)
    frame = pl.DataFrame({"identity": identity, "fold": folds})
    assert frame.drop_nulls().group_by("identity").agg(pl.col("fold").n_unique())["fold"].max() == 1
    sizes = np.bincount(folds, minlength=5)
    assert sizes.min() > 0.8 * len(identity) / 5 and sizes.max() < 1.2 * len(identity) / 5
    assert len(set(folds[-50:])) > 1  # rows without an identity are spread, not one group


def test_group_folds_fold_images_when_there_are_few_people():
    identity = [f"p{i % 30}" for i in range(600)]  # 30 people: 6 per fold would leave rare attributes unlearnt
    folds = labels.group_folds(identity, n_folds=5)
    frame = pl.DataFrame({"identity": identity, "fold": folds})
    assert frame.group_by("identity").agg(pl.col("fold").n_unique())["fold"].min() > 1
    assert np.bincount(folds, minlength=5).min() > 0.8 * 600 / 5


def test_fit_logistic_is_scikit_learns_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = rng.standard_normal((600, 5))
    Y = np.column_stack([(X @ rng.standard_normal(5) + rng.normal(0, 1, 600)) > 0 for _ in range(3)]).astype(int)
    W, b = labels.fit_logistic(X, Y, c=0.5, gtol=1e-10)
    for j in range(3):
        ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X, Y[:, j])
        np.testing.assert_allclose(W[:, j], ref.coef_[0], atol=1e-4)
        np.testing.assert_allclose(b[j], ref.intercept_[0], atol=1e-4)


def test_attribute_issues_are_cleanlabs_prune_by_class():
    from cleanlab.filter import find_label_issues

    rng = np.random.default_rng(2)
    truth = (rng.random(3_000) < 0.2).astype(int)
    probs = np.where(truth == 1, rng.beta(12, 2, 3_000), rng.beta(2, 12, 3_000))
    given = truth.copy()
    flipped = rng.choice(3_000, 90, replace=False)
    given[flipped] ^= 1
    found = labels.attribute_issues("A", given, probs)
    pred = np.column_stack([1 - probs, probs])
    per_class = [int(((given == v) & np.isin(np.arange(3_000), found.suspects)).sum()) for v in (0, 1)]
    reference = find_label_issues(given, pred, filter_by="prune_by_class", num_to_remove_per_class=per_class, n_jobs=1)
    mine, theirs = set(found.suspects.tolist()), set(np.flatnonzero(reference).tolist())
    # The same ranking cut at (nearly) the same count: cleanlab re-derives its counts with rounding.
    assert mine <= theirs or theirs <= mine
    assert abs(len(mine) - len(theirs)) <= 0.1 * len(mine)
    quality = np.where(given == 1, probs, 1 - probs)
    assert np.all(np.diff(quality[found.suspects]) >= 0)  # likeliest error first
    assert len(set(found.suspects) & set(flipped)) >= 0.8 * len(flipped)


# ---------------------------------------------------------------- images and duplicates without faces


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def test_measures_of_made_images():
    rng = np.random.default_rng(3)
    noise = Image.fromarray(rng.integers(0, 256, (200, 160, 3), dtype=np.uint8))
    sharp, _ = measure_bytes(_jpeg(noise))
    blurred, _ = measure_bytes(_jpeg(noise.resize((8, 10)).resize((160, 200), Image.Resampling.BILINEAR)))
    dark, _ = measure_bytes(_jpeg(Image.new("RGB", (100, 100), (10, 10, 10))))
    assert sharp["sharpness"] > 100 * blurred["sharpness"]
    assert dark["brightness"] < 0.06 and (sharp["width"], sharp["height"]) == (160, 200)


def _folder_with_problems(root: Path) -> dict[str, str]:
    """A folder dataset: ordinary photos, and one image per problem the scan can see. Returns {file: problem}."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(4)
    for k in range(6):
        base = rng.integers(40, 220, (9, 7, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((140, 180), Image.Resampling.BICUBIC)
        texture = rng.integers(-40, 40, (180, 140, 3))
        Image.fromarray(np.clip(np.asarray(img, int) + texture, 0, 255).astype(np.uint8)).save(root / f"ok{k}.jpg")
    Image.new("RGB", (140, 180), (8, 8, 8)).save(root / "dark.jpg")
    Image.new("RGB", (140, 180), (250, 250, 250)).save(root / "bright.jpg")
    other = rng.integers(0, 256, (180, 140, 3), dtype=np.uint8)
    Image.fromarray(other).resize((40, 50)).save(root / "tiny.jpg")
    smooth = Image.fromarray(other[:8, :6]).resize((140, 180), Image.Resampling.BICUBIC)  # no detail finer than 20 px
    smooth.save(root / "blur.jpg")
    data = (root / "ok2.jpg").read_bytes()
    (root / "broken.jpg").write_bytes(data[:200])
    shutil.copy(root / "ok3.jpg", root / "ok3_again.jpg")  # exact copy
    Image.open(root / "ok4.jpg").save(root / "ok4_q60.jpg", quality=60)  # near copy
    return {
        "dark.jpg": "very dark",
        "bright.jpg": "very bright",
        "tiny.jpg": "tiny",
        "blur.jpg": "very blurry",
        "broken.jpg": "unreadable",
    }


def test_image_problems_and_duplicates_of_a_folder(tmp_path, isolated_cache):
    expected = _folder_with_problems(tmp_path / "folder")
    ds = ingest(tmp_path / "folder", "folder")
    scan = scan_images(ds, workers=1)
    status = np.zeros(ds.n_images, np.int8)
    n_faces = np.ones(ds.n_images, np.int16)
    ids = ds.table["image_id"].to_list()
    status[ids.index("ok5.jpg")], n_faces[ids.index("ok0.jpg")] = faces.STATUS_NO_FACE, 3
    found = images.audit_images(ds.table, scan.table, status, n_faces).problems
    got = {(r["image_id"], r["problem"]) for r in found.iter_rows(named=True)}
    assert got == {*expected.items(), ("ok5.jpg", "no face found"), ("ok0.jpg", "several faces")}

    paths = [ds.image_path(i) for i in ids]
    dups = duplicates.audit_duplicates(ds.table, scan.table, scan.thumbs, None, None, paths)
    groups = {
        (g, frozenset(dups.members.filter(pl.col("group") == g)["image_id"].to_list()))
        for g in dups.groups["group"].to_list()
    }
    kinds = dict(zip(dups.groups["group"].to_list(), dups.groups["kind"].to_list()))
    assert {(kinds[g], m) for g, m in groups} == {
        ("exact", frozenset({"ok3.jpg", "ok3_again.jpg"})),
        ("near", frozenset({"ok4.jpg", "ok4_q60.jpg"})),
    }


# ---------------------------------------------------------------- identities on synthetic descriptors


def test_identity_check_finds_a_moved_photo_and_a_split_identity():
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((6, 16))
    people = np.repeat(np.arange(6), 10)
    X = centres[people] + rng.normal(0, 0.15, (60, 16))
    labels_ = [f"p{p}" for p in people]
    labels_[3] = "p4"  # a photo of p0 filed under p4
    labels_ = [("p5b" if (lab == "p5" and i % 2) else lab) for i, lab in enumerate(labels_)]  # p5 filed twice
    table = pl.DataFrame({"image_id": [f"{i}.jpg" for i in range(60)], "identity": labels_})
    cal = Calibration(
        threshold=1.0, accuracy=1.0, auc=1.0, same_pairs=1, different_pairs=1, median_same=0.6, median_different=5.0
    )
    found = identities.audit_identities(table, X, np.ones(60, bool), cal)
    misfiled = found.suspects.filter(pl.col("kind") == identities.SUSPECT_KINDS[0])
    assert misfiled["image_id"].to_list() == ["3.jpg"] and misfiled["match_identity"].to_list() == ["p0"]
    assert found.twins.select("identity_a", "identity_b").rows() == [("p5", "p5b")]


def test_a_look_alike_is_not_taken_for_a_misfiled_photo():
    """A photo unlike its own person and 0.8 from a look-alike (a stranger's distance, though below the cut) is
    'unlike its identity', not misfiled: 'below the cut' alone listed 23 of the correctly filed demo photos. A photo
    really filed under another person, as close to its own as their photos are to each other, is still misfiled."""
    rng = np.random.default_rng(7)
    odd = np.zeros(16)
    axis = np.eye(16)
    centres = np.vstack([rng.standard_normal((4, 16)) * 3, odd + 1.2 * axis[0], odd + 0.8 * axis[1]])
    people = np.repeat(np.arange(6), 10)
    X = centres[people] + rng.normal(0, 0.05, (60, 16))
    X[40] = odd  # a photo of person 4 (filed there) that looks like nobody in it, and somewhat like person 5
    labels_ = [f"p{p}" for p in people]
    labels_[3] = "p1"  # a photo of p0 filed under p1
    table = pl.DataFrame({"image_id": [f"{i}.jpg" for i in range(60)], "identity": labels_})
    cal = Calibration(
        threshold=1.0, accuracy=1.0, auc=1.0, same_pairs=1, different_pairs=1, median_same=0.3, median_different=5.0
    )
    found = identities.audit_identities(table, X, np.ones(60, bool), cal)
    kinds = dict(zip(found.suspects["image_id"].to_list(), found.suspects["kind"].to_list()))
    assert kinds == {"3.jpg": identities.SUSPECT_KINDS[0], "40.jpg": identities.SUSPECT_KINDS[1]}
    assert found.match_cut < 0.8 < found.threshold


# ---------------------------------------------------------------- stored results and the command


def test_results_are_found_only_for_the_inputs_they_came_from(tmp_path, isolated_cache, demo_dataset):
    ds = ingest(demo_dataset.root, "demo")
    frame = pl.DataFrame({"x": [1, 2]})
    token = result_token("images", {"a": 1})
    save_result(quality_dir(ds), StoredResult("images", token, {"n": 2}, {"t": frame}, {"arr": np.arange(3)}))
    back = load_result(quality_dir(ds), "images", token)
    assert back.summary == {"n": 2} and back.tables["t"].equals(frame) and list(back.arrays["arr"]) == [0, 1, 2]
    assert load_result(quality_dir(ds), "images", result_token("images", {"a": 2})) is None
    before, images_before = check_token(ds, "duplicates"), check_token(ds, "images")
    save_embeddings(ds, "dlib", np.zeros((ds.n_images, 4), np.float32), np.ones(ds.n_images, bool))
    assert check_token(ds, "duplicates") != before  # new embeddings: the stored duplicates no longer apply
    assert check_token(ds, "images") == images_before  # no dlib run records (status.npy): nothing images read


def test_parse_checks_names_the_choices():
    assert parse_checks("images,labels") == ("labels", "images")
    assert parse_checks(None) == CHECKS
    with pytest.raises(ValueError, match="choose from labels, identities, duplicates, images"):
        parse_checks("labels,faces")


def test_audit_command_on_an_annotation_only_dataset(demo_home, isolated_cache, capsys):
    root = demo_home / "data" / "annotations_only"
    assert cli_main(["audit", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["checks"]["images"]["skipped"].endswith("(annotations only).")
    assert "embeddings" in out["checks"]["identities"]["skipped"]
    assert cli_main(["audit", str(root), "--checks", "nonsense", "--json"]) == 2


def test_audit_command_writes_progress_and_results(tmp_path, isolated_cache, capsys):
    _folder_with_problems(tmp_path / "folder")
    progress = tmp_path / "progress.json"
    argv = ["audit", str(tmp_path / "folder"), "--checks", "duplicates,images", "--json"]
    assert cli_main([*argv, "--progress-file", str(progress)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["checks"]["images"]["counts"]["very dark"] == 1
    assert (out["checks"]["duplicates"]["exact_groups"], out["checks"]["duplicates"]["near_groups"]) == (1, 1)
    state = json.loads(progress.read_text())
    ds = ingest(tmp_path / "folder", "folder")
    assert state["state"] == "done" and state["done"] == state["total"] == 3 * ds.n_images  # scan + 2 checks
    assert load_check(ds, "images").summary["counts"] == out["checks"]["images"]["counts"]
    assert "no identity labels" in missing(ds, "identities")


# ---------------------------------------------------------------- planted errors in real photos


def _wild_rows() -> dict[str, list[str]]:
    rows = [line.split() for line in (WILD_SAMPLE / "identity.txt").read_text().splitlines()[1:]]
    groups = defaultdict(list)
    for name, who in rows:
        groups[who].append(name)
    return groups


def _small(path: Path) -> Image.Image:
    img = Image.open(path).convert("RGB")
    img.thumbnail((SMALL_SIDE, SMALL_SIDE))
    return img


def _copy(img: Image.Image, kind: str) -> tuple[Image.Image, int]:
    if kind == "resize90":
        return img.resize((round(img.width * 0.9), round(img.height * 0.9)), Image.Resampling.LANCZOS), 90
    if kind == "crop4":
        dx, dy = round(img.width * 0.04), round(img.height * 0.04)
        return img.crop((dx, dy, img.width - dx, img.height - dy)), 90
    return img, 60


@pytest.fixture(scope="module")
def wild_planted(tmp_path_factory, face_weights):
    """SLOW (about half a minute): the planted LFW-style copy, embedded and audited once."""
    if not WILD_SAMPLE.exists():
        pytest.skip("../shared absent")
    groups = _wild_rows()
    chosen = sorted(groups, key=lambda who: (-len(groups[who]), who))[:WILD_IDENTITIES]
    rng = np.random.default_rng(0)
    names = sorted(n for who in chosen for n in groups[who])
    owner = {n: who for who in chosen for n in groups[who]}
    moved = {n: str(rng.choice([w for w in chosen if w != owner[n]])) for n in rng.choice(names, MOVED, replace=False)}
    sources = rng.choice([n for n in names if n not in moved], COPIES, replace=False)
    home = tmp_path_factory.mktemp("wild_quality")
    seed_face_weights(face_weights, home / "cache")
    root = home / "data" / "wild"
    for n in names:
        folder = root / moved.get(n, owner[n])
        folder.mkdir(parents=True, exist_ok=True)
        _small(WILD_SAMPLE / n).save(folder / n, quality=95)
    copies = {}
    for k, n in enumerate(sources):
        img, quality = _copy(_small(WILD_SAMPLE / n), COPY_KINDS[k % 3])
        new = f"copy_{k:02d}.jpg"
        img.save(root / owner[n] / new, quality=quality)
        copies[new] = str(n)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEATLAS_CACHE", str(home / "cache"))
        ds = ingest(root, "wild")
        embed_dataset(ds, workers=2, config=FAST)
        run_audit(ds, ["identities", "duplicates", "images"], workers=1)
        results = {c: load_check(ds, c) for c in ("identities", "duplicates", "images")}
    return ds, moved, copies, results


@pytest.mark.slow
@needs(WILD_SAMPLE)
def test_moved_photos_are_found(wild_planted):
    _, moved, _, results = wild_planted
    suspects = results["identities"].tables["suspects"]
    flagged = suspects.filter(pl.col("kind") == identities.SUSPECT_KINDS[0])["image_id"].to_list()
    planted = {f"{who}/{n}" for n, who in moved.items()}
    hits = len(set(flagged) & planted)
    assert results["identities"].summary["auc"] > 0.9
    assert hits >= 0.8 * len(planted), (flagged, planted)
    assert hits >= 0.8 * len(flagged), (flagged, planted)
    assert results["identities"].tables["twins"].is_empty()  # no identity of the sample is filed twice


@pytest.mark.slow
@needs(WILD_SAMPLE)
def test_planted_copies_are_grouped_and_nothing_else(wild_planted):
    _, _, copies, results = wild_planted
    members = results["duplicates"].tables["members"]
    by_group = members.group_by("group").agg(pl.col("image_id")).rows()
    files = [frozenset(Path(i).name for i in ids) for _, ids in by_group]
    grouped = sum(any({copy, source} <= group for group in files) for copy, source in copies.items())
    assert grouped >= 0.95 * len(copies)
    for group in files:
        planted = {c for c in group if c in copies} | {copies[c] for c in group if c in copies}
        rest = group - planted
        known = set().union(*[p for p in KNOWN_DUPLICATES if p & group]) if rest else set()
        assert rest <= known, f"a group of distinct photos: {sorted(group)}"


@pytest.mark.slow
@needs(WILD_SAMPLE)
def test_real_photos_are_usable(wild_planted):
    _, _, _, results = wild_planted
    counts = results["images"].summary["counts"]
    assert counts["unreadable"] == counts["tiny"] == counts["very blurry"] == 0
    assert results["images"].summary["faces_checked"]


def test_principal_axes_capture_the_leading_variance():
    from core.quality.projection import principal_axes

    rng = np.random.default_rng(6)
    rotation = np.linalg.qr(rng.standard_normal((120, 120)))[0]
    X = rng.standard_normal((2_000, 120)) @ np.diag(np.geomspace(10, 0.1, 120)) @ rotation
    _, axes = principal_axes(X, 8)
    centred = X - X.mean(axis=0)
    best = (np.linalg.svd(centred, compute_uv=False)[:8] ** 2).sum()
    np.testing.assert_allclose(axes @ axes.T, np.eye(8), atol=1e-10)
    assert ((centred @ axes.T) ** 2).sum() >= 0.99 * best


# ---- the page's tables as people read them (core/quality/tables.py)


def test_projected_look_distance_is_a_lower_bound_that_drops_unlike_pairs():
    rng = np.random.default_rng(8)
    base = rng.integers(0, 256, (300, 30, 24, 3)).astype(np.float32)
    smooth = (base + np.roll(base, 1, axis=1) + np.roll(base, 1, axis=2)) / 3  # some spatial structure to crop
    copies = duplicates.centre_crops(smooth[:40], 0.92) + rng.normal(0, 2, (40, 30, 24, 3))  # zoomed, re-noised
    thumbs = np.clip(np.concatenate([smooth, copies]), 0, 255).astype(np.uint8)
    projection = duplicates.look_projection(thumbs, np.ones(len(thumbs), bool))
    a = np.concatenate([np.arange(40), rng.integers(0, 340, 400)])
    b = np.concatenate([300 + np.arange(40), rng.integers(0, 340, 400)])
    bound = duplicates.look_distance_bound(thumbs, projection, a, b)
    exact = duplicates.look_distances(thumbs, a, b)
    assert np.all(bound <= exact + duplicates.BOUND_SLACK)
    assert np.all(exact[:40] <= duplicates.LOOK_RADIUS)  # the planted copies stay within the cut...
    unlike = (a != b) & (np.arange(len(a)) >= 40) & (np.abs(a - b) != 300)
    assert np.mean(bound[unlike] > duplicates.LOOK_RADIUS) > 0.9  # ...while most unrelated pairs are dropped unread


def test_tables_name_every_column_and_spell_every_value():
    """Known columns get their titles and spellings; a column an audit adds later gets a plain title and a spelling
    by its type, so the page never shows a machine name, a 6-decimal float or 'None'."""
    from core.quality.tables import LABEL_SUSPECTS, readable

    suspects = pl.DataFrame(
        {
            "attribute": ["Bald", "Bald"],
            "rank": [1, 2],
            "row": [7, 9],
            "image_id": ["000008.jpg", "000010.jpg"],
            "identity": ["12", None],
            "annotated": [1, 0],
            "predicted": [0, 1],
            "p_annotated": [0.000005, 0.25],
            "confidence": [0.999995, 0.75],
            "likely": [True, False],
            "new_score": [0.1234567, None],
        }
    )
    table = readable(suspects, LABEL_SUSPECTS, drop=("row",))
    assert table.columns == [
        "Rank",
        "Image",
        "Identity",
        "Attribute",
        "Labelled",
        "Model says",
        "Model's probability of the label",
        "Model's confidence",
        "Likely error",
        "New score",
    ]
    assert table.row(0) == ("1", "000008.jpg", "12", "Bald", "yes", "no", "0.0%", "100%", "yes", "0.123")
    assert table.row(1) == ("2", "000010.jpg", "–", "Bald", "no", "yes", "25.0%", "75%", "no", "–")


def test_problem_table_says_what_was_measured_and_the_chart_counts_whole_images():
    from core.charts.quality import problem_bars
    from core.quality.tables import problems_table

    problems = pl.DataFrame(
        {
            "row": [0, 1, 2],
            "image_id": ["a.jpg", "b.jpg", "c.jpg"],
            "identity": [None, "3", "3"],
            "problem": ["very dark", "tiny", "unreadable"],
            "value": [0.04, 31.6, float("nan")],
        }
    )
    table = problems_table(problems)
    assert table.columns == ["Image", "Identity", "Problem", "Measured"]
    assert table["Measured"].to_list() == ["brightness 4%", "32 px on its short side", "–"]
    axis = problem_bars({"very dark": 1, "tiny": 2}).to_dict()["encoding"]["x"]["axis"]
    assert axis["tickMinStep"] == 1 and axis["format"] == ",d"


# ---------------------------------------------------------------- identities on the drawn demo (right by construction)


@pytest.mark.slow
def test_the_demos_identities_are_all_right_and_moved_photos_are_found_precisely(embedded_demo_home):
    """The demo's identities are right by construction, so every photo the check lists as another identity's face is
    a false alarm (the rule of 'below the same-person cut' listed 23 of the 6,000-image demo's photos). With 3 % of
    the photos moved to another person, the list is precise and finds most of them."""
    from core.data.embeddings import load_embeddings
    from core.data.ingest import open_dataset
    from core.faces.calibration import calibrate
    from tests.support import home_environment

    with home_environment(embedded_demo_home):
        ds = open_dataset(embedded_demo_home / "data" / "demo", name="demo")
        emb = load_embeddings(ds, "dlib")
    identity = np.asarray(ds.table["identity"].to_list(), dtype=object)

    def misfiled(labels_: np.ndarray) -> pl.DataFrame:
        table = ds.table.with_columns(pl.Series("identity", list(labels_), dtype=pl.Utf8))
        cal = calibrate(emb.vectors, labels_, emb.has_face)
        found = identities.audit_identities(table, emb.vectors, emb.has_face, cal).suspects
        return found.filter(pl.col("kind") == identities.SUSPECT_KINDS[0])

    assert misfiled(identity).is_empty()
    rng = np.random.default_rng(0)
    people = sorted(set(identity))
    moved = rng.choice(np.flatnonzero(emb.has_face), round(0.03 * ds.n_images), replace=False)
    planted = identity.copy()
    for row in moved:
        planted[row] = rng.choice([p for p in people if p != identity[row]])
    flagged = set(misfiled(planted)["row"].to_list())
    found = len(flagged & set(moved.tolist()))
    assert found >= 0.8 * len(moved) and found >= 0.9 * len(flagged), (found, len(moved), len(flagged))


def test_audit_clock_says_the_time_left_at_the_pace_kept_so_far():
    from core.quality.audit import PRIOR_SECONDS, START_SECONDS, AuditClock

    now = [0.0]
    clock = AuditClock({"scan": 100.0, "labels": 300.0}, clock=lambda: now[0])
    assert clock.left("scan", 0.0) == pytest.approx(400.0 * PRIOR_SECONDS / (START_SECONDS + PRIOR_SECONDS))
    now[0] = START_SECONDS + 100.0  # on time: the scan done when expected
    assert clock.left("labels", 0.0) == pytest.approx(300.0)
    now[0] = 3 * (START_SECONDS + 200.0) + 2 * PRIOR_SECONDS  # three times slower than expected
    assert clock.left("labels", 1 / 3) == pytest.approx(3 * 200.0)
    assert clock.left("labels", 1.0) == 0.0
