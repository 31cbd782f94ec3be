"""The synthetic demo: label statistics like CelebA's, determinism, the CelebA loader, drawn pixels."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from core.__main__ import main
from core.data.celeba import CELEBA_ATTRIBUTES
from core.data.ingest import open_dataset
from core.data.loaders import DEMO_MARKER
from core.demo import (
    DEFAULT_IMAGES,
    DRAWING,
    annotation_texts,
    demo_exists,
    demo_stage,
    drawing,
    drawing_progress,
    generate_demo,
    image_name,
    labels_ready,
)
from core.demo.draw import draw_face
from core.demo.estimate import (
    DRAW_SECONDS_PER_IMAGE,
    START_SECONDS,
    DrawingClock,
    expected_draw_seconds,
    expected_plan_seconds,
    expected_seconds,
)
from core.demo.label_model import CELEBA_COOCCURRENCE, CELEBA_PREVALENCE
from core.demo.labels import (
    CELEBA_IMAGES_PER_IDENTITY,
    MAX_PER_IDENTITY,
    MEAN_PER_IDENTITY,
    MIN_PER_IDENTITY,
    PERSISTENT,
    STRATIFY_MIN_EACH,
    STRATIFY_MIN_TOTAL,
    celeba_identity_sizes,
    sample_labels,
)
from core.demo.specs import GEOMETRY, JITTER_SCALE, PHOTO_JITTER, face_specs, identity_traits, image_spec
from core.distances import pair_distances
from core.errors import ModelMissingError
from core.faces.calibration import roc_auc, sample_pairs
from core.faces.pipeline import STATUS_ALIGNED, describe_images, model_path
from core.stats.intervals import MIN_MODEL_IMAGES
from tests.support import REAL_ANNOTATIONS, REFERENCE, SMALL_DEMO_IMAGES, needs

INDEX = {name: i for i, name in enumerate(CELEBA_ATTRIBUTES)}
# Attributes with no drawing, as in life.
LABEL_ONLY = {"Attractive"}


@pytest.fixture(scope="module")
def full_plan():
    """Labels of a default-size demo (labels only: drawing is not needed for label statistics)."""
    return sample_labels(DEFAULT_IMAGES, seed=0)


def _column(plan, name: str) -> np.ndarray:
    return plan.attributes[:, INDEX[name]].astype(bool)


def _p(plan, name: str, given: str, value: bool = True) -> float:
    cond = _column(plan, given) == value
    return float(_column(plan, name)[cond].mean())


# ---------------------------------------------------------------- labels


def test_prevalence_within_3pp_at_default_size(full_plan):
    share = full_plan.attributes.mean(0)
    gaps = {a: abs(share[i] - CELEBA_PREVALENCE[a]) for a, i in INDEX.items()}
    worst = max(gaps, key=gaps.get)
    assert gaps[worst] <= 0.03, f"{worst}: {share[INDEX[worst]]:.3f} vs {CELEBA_PREVALENCE[worst]:.3f}"


@pytest.mark.parametrize("seed", [1, 2])
def test_prevalence_on_smaller_sets_within_sampling_bound(seed):
    # 2,000 images of ~100 identities: persistent traits vary by identity, so the bound is
    # 3 pp plus 3 standard errors of a proportion over ~100 independent identities.
    plan = sample_labels(2000, seed=seed)
    n_ids = len(np.unique(plan.identity))
    share = plan.attributes.mean(0)
    for a, i in INDEX.items():
        p = CELEBA_PREVALENCE[a]
        bound = 0.03 + 3 * np.sqrt(p * (1 - p) / n_ids)
        assert abs(share[i] - p) <= bound, f"{a}: {share[i]:.3f} vs {p:.3f} (bound {bound:.3f})"


@needs(REFERENCE)
def test_carried_constants_match_the_reference_files():
    prev = pl.read_csv(REFERENCE / "celeba_attribute_prevalence.csv")
    for row in prev.iter_rows(named=True):
        assert CELEBA_PREVALENCE[row["attribute"]] == pytest.approx(row["prevalence"], abs=1e-4)
    co = pl.read_csv(REFERENCE / "celeba_attribute_cooccurrence.csv")
    counts = co.drop("attribute").to_numpy()
    n = round(counts[INDEX["Male"], INDEX["Male"]] / CELEBA_PREVALENCE["Male"])
    np.testing.assert_allclose(np.asarray(CELEBA_COOCCURRENCE), counts / n, atol=1e-4)


def test_strong_dependencies_hold(full_plan):
    p = lambda a, b, v=True: _p(full_plan, a, b, v)  # noqa: E731
    assert p("Wearing_Lipstick", "Heavy_Makeup") > 0.9
    assert p("Mouth_Slightly_Open", "Smiling") > p("Mouth_Slightly_Open", "Smiling", False) + 0.3
    assert p("High_Cheekbones", "Smiling") > p("High_Cheekbones", "Smiling", False) + 0.4
    for female_only in ("Wearing_Lipstick", "Heavy_Makeup", "Wearing_Earrings"):
        assert p(female_only, "Male") < 0.05 and p(female_only, "Male", False) > 0.25
    for beard in ("Goatee", "Mustache", "Sideburns", "5_o_Clock_Shadow"):
        assert p("Male", beard) > 0.95
    assert p("No_Beard", "Goatee") < 0.1 and p("No_Beard", "Male", False) > 0.98
    assert p("Male", "Bald") > 0.9 and p("Young", "Bald") < 0.45
    assert p("Young", "Gray_Hair") < 0.2
    assert p("Double_Chin", "Chubby") > 0.3
    hair = full_plan.attributes[:, [INDEX[h] for h in ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")]]
    assert (hair.sum(1) >= 2).mean() < 0.05


def test_pairwise_structure_close_to_celeba(full_plan):
    """Mean absolute gap of the 780 phi correlations against real CelebA stays small."""

    def phi(pairs):
        p = np.diag(pairs)
        return (pairs - np.outer(p, p)) / np.sqrt(np.outer(p * (1 - p), p * (1 - p)))

    x = full_plan.attributes.astype(float)
    gap = np.abs(phi(x.T @ x / len(x)) - phi(np.asarray(CELEBA_COOCCURRENCE)))
    off_diagonal = gap[~np.eye(len(gap), dtype=bool)]
    assert off_diagonal.mean() < 0.04


def test_identities_partitions_and_persistent_traits(full_plan):
    ids, sizes = np.unique(full_plan.identity, return_counts=True)
    assert 250 <= len(ids) <= 350
    assert sizes.min() >= MIN_PER_IDENTITY and sizes.max() <= MAX_PER_IDENTITY
    frame = pl.DataFrame({"identity": full_plan.identity, "partition": full_plan.partition})
    assert frame.group_by("identity").agg(pl.col("partition").n_unique())["partition"].max() == 1
    shares = np.bincount(full_plan.partition, minlength=3) / full_plan.n_images
    np.testing.assert_allclose(shares, [0.8, 0.1, 0.1], atol=0.03)
    assert (np.diff(full_plan.partition) >= 0).all(), "CelebA orders images train, val, test"
    for trait in PERSISTENT:
        per_identity = pl.DataFrame({"id": full_plan.identity, "v": _column(full_plan, trait)})
        assert per_identity.group_by("id").agg(pl.col("v").n_unique())["v"].max() == 1, trait
    # ...while the variable attributes do vary within identities
    smiles = pl.DataFrame({"id": full_plan.identity, "v": _column(full_plan, "Smiling")})
    assert (smiles.group_by("id").agg(pl.col("v").n_unique())["v"] == 2).mean() > 0.5


def test_annotation_texts_use_the_celeba_format():
    plan = sample_labels(30, seed=5)
    texts = annotation_texts(plan)
    attr = texts["Anno/list_attr_celeba.txt"].splitlines()
    assert attr[0] == "30" and attr[1].split() == list(CELEBA_ATTRIBUTES)
    assert attr[2].startswith("000001.jpg ") and len(attr[2]) == len("000001.jpg") + 40 * 3
    assert set(attr[2][10:].split()) <= {"1", "-1"}
    assert texts["Eval/list_eval_partition.txt"].splitlines()[0].split()[1] in {"0", "1", "2"}


# ---------------------------------------------------------------- files and determinism


def _digest(folder: Path) -> dict[str, str]:
    rels = ["Anno/list_attr_celeba.txt", "Anno/identity_CelebA.txt", "Eval/list_eval_partition.txt"]
    return {r: hashlib.sha256((folder / r).read_bytes()).hexdigest() for r in rels}


def test_same_seed_gives_identical_files_other_seed_differs(tmp_path):
    a = generate_demo(tmp_path / "a", n_images=40, seed=3, workers=1)
    b = generate_demo(tmp_path / "b", n_images=40, seed=3, workers=2)
    c = generate_demo(tmp_path / "c", n_images=40, seed=4, workers=1)
    assert _digest(a) == _digest(b)
    da, dc = _digest(a), _digest(c)
    assert all(da[k] != dc[k] for k in da)
    img = "Img/img_align_celeba/000007.jpg"
    assert (a / img).read_bytes() == (b / img).read_bytes()
    assert demo_exists(a) and json.loads((a / DEMO_MARKER).read_text())["synthetic"] is True


def test_an_older_demo_version_counts_as_missing(tmp_path):
    out = generate_demo(tmp_path / "old", n_images=5, seed=0, workers=1)
    assert demo_exists(out)
    marker = json.loads((out / DEMO_MARKER).read_text())
    (out / DEMO_MARKER).write_text(json.dumps(marker | {"version": 0}))
    assert not demo_exists(out)
    (out / DEMO_MARKER).write_text("not json")
    assert not demo_exists(out)


def test_regenerating_smaller_removes_old_images(tmp_path):
    out = generate_demo(tmp_path / "d", n_images=12, seed=0, workers=1)
    generate_demo(out, n_images=6, seed=0, workers=1)
    assert sorted(p.name for p in (out / "Img" / "img_align_celeba").iterdir())[-1] == "000006.jpg"


def test_demo_loads_through_the_celeba_loader(demo_dataset):
    ds = demo_dataset
    assert ds.layout == "celeba" and ds.is_demo and ds.aligned
    assert ds.images_found == SMALL_DEMO_IMAGES and not ds.warnings
    assert list(ds.attributes) == list(CELEBA_ATTRIBUTES)
    plan = sample_labels(SMALL_DEMO_IMAGES, seed=1)  # the conftest demo uses seed 1
    np.testing.assert_array_equal(ds.attribute_matrix(), plan.attributes)
    assert ds.n_identities == len(np.unique(plan.identity))
    with Image.open(ds.image_path("000001.jpg")) as img:
        assert img.size == (178, 218) and img.format == "JPEG"


def test_cli_draws_and_skips_when_present(tmp_path, capsys):
    out = tmp_path / "cli_demo"
    assert main(["demo", "--images", "8", "--seed", "2", "--out", str(out), "--workers", "1"]) == 0
    assert len(list((out / "Img" / "img_align_celeba").glob("*.jpg"))) == 8
    stamp = (out / DEMO_MARKER).stat().st_mtime_ns
    assert main(["demo", "--images", "8", "--out", str(out), "--if-missing"]) == 0
    assert (out / DEMO_MARKER).stat().st_mtime_ns == stamp
    assert "present" in capsys.readouterr().out


# ---------------------------------------------------------------- pixels


@pytest.fixture(scope="module")
def demo_pixels(demo_dataset):
    """(labels (N,40), grey images (N,218,178) float32) of the conftest demo."""
    ds = demo_dataset
    grey = np.stack(
        [np.asarray(Image.open(ds.image_path(i)).convert("L"), np.float32) for i in ds.table["image_id"].to_list()]
    )
    return ds.attribute_matrix(), grey


def _laplacian_variance(grey: np.ndarray) -> float:
    lap = -4 * grey[1:-1, 1:-1] + grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]
    return float(lap[60:180, 40:140].var())


def test_blurry_images_are_really_blurred(demo_pixels):
    labels, grey = demo_pixels
    blurry = labels[:, INDEX["Blurry"]] == 1
    sharpness = np.array([_laplacian_variance(g) for g in grey])
    assert blurry.sum() >= 5
    assert np.median(sharpness[blurry]) < 0.2 * np.median(sharpness[~blurry])


def test_blond_hair_is_lighter_on_top_of_the_head(demo_pixels):
    labels, grey = demo_pixels
    plain = (labels[:, INDEX["Wearing_Hat"]] == 0) & (labels[:, INDEX["Bald"]] == 0)
    blond = labels[:, INDEX["Blond_Hair"]] == 1
    top = grey[:, 42:58, 70:108].mean((1, 2))
    assert np.median(top[plain & blond]) > np.median(top[plain & ~blond]) + 30


def test_eyeglasses_darken_the_nose_bridge(demo_pixels):
    labels, grey = demo_pixels
    glasses = labels[:, INDEX["Eyeglasses"]] == 1
    bridge = grey[:, 98:112, 84:95].min(axis=2).mean(1)  # darkest pixel of each row, averaged
    assert glasses.sum() >= 5
    assert np.median(bridge[glasses]) < np.median(bridge[~glasses]) - 25


BASE_LABELS = frozenset({"Young", "No_Beard", "Brown_Hair"})
HAIR_COLOURS = {"Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"}
SHADING_ONLY = {"Double_Chin", "High_Cheekbones"}  # drawn as shading, so smaller pixel changes


def _drawn(labels: frozenset[str]) -> np.ndarray:
    """The same person and image variation, drawn with these positive labels (through the spec mapping)."""
    vector = np.array([name in labels for name in CELEBA_ATTRIBUTES], np.uint8)
    traits = identity_traits(vector, np.random.default_rng(0))
    spec = image_spec(labels, traits, seed=11, rng=np.random.default_rng(1))
    return np.asarray(draw_face(spec), np.float32)


@pytest.mark.parametrize("attribute", sorted(set(CELEBA_ATTRIBUTES) - {"Young", "No_Beard"}))
def test_each_attribute_changes_the_drawing(attribute):
    base = BASE_LABELS - HAIR_COLOURS if attribute in HAIR_COLOURS else BASE_LABELS
    diff = np.abs(_drawn(base) - _drawn(base | {attribute})).mean(2)
    if attribute in LABEL_ONLY:
        assert diff.max() == 0
    elif attribute in SHADING_ONLY:
        assert (diff > 10).sum() >= 40, f"{attribute} hardly visible"
    else:
        assert (diff > 25).sum() >= 20, f"{attribute} hardly visible"


@pytest.mark.parametrize("attribute", ["Young", "No_Beard"])
def test_dropping_young_or_no_beard_changes_the_drawing(attribute):
    base = frozenset({"Young", "No_Beard", "Male", "Black_Hair"})
    diff = np.abs(_drawn(base) - _drawn(base - {attribute})).mean(2)
    assert (diff > 25).sum() >= 20


def test_dlib_finds_faces_in_most_demo_images(demo_dataset):
    dlib = pytest.importorskip("dlib")
    detector = dlib.get_frontal_face_detector()
    names = demo_dataset.table["image_id"].to_list()[:60]
    found = [len(detector(np.asarray(Image.open(demo_dataset.image_path(n)).convert("RGB")), 1)) > 0 for n in names]
    assert np.mean(found) >= 0.7


# ---------------------------------------------------------------- identity: what a face descriptor sees


def _face_models_present() -> bool:
    try:
        import dlib  # noqa: F401

        model_path("descriptor"), model_path("landmarks5")
    except (ImportError, ModelMissingError):
        return False
    return True


needs_face_models = pytest.mark.skipif(not _face_models_present(), reason="dlib or its face model files are absent")
SEPARATION_PEOPLE, SEPARATION_PHOTOS = 30, 10


def test_drawing_is_deterministic_and_each_person_keeps_their_face():
    plan = sample_labels(240, seed=4)
    specs = face_specs(plan, seed=4)
    assert specs == face_specs(plan, seed=4)
    assert draw_face(specs[5]).tobytes() == draw_face(face_specs(plan, seed=4)[5]).tobytes()
    fixed = [name for name in GEOMETRY if name not in PHOTO_JITTER] + ["skin", "eye_color", "marks", "brow_color"]
    spread_between = []
    for person in np.unique(plan.identity):
        mine = [specs[i] for i in np.flatnonzero(plan.identity == person)]
        for name in fixed:
            assert len({getattr(s, name) for s in mine}) == 1, f"{name} changes within person {person}"
        for name, half in PHOTO_JITTER.items():
            values = [getattr(s, name) for s in mine]
            assert max(values) - min(values) <= 2 * half * JITTER_SCALE + 1e-9, name
        spread_between.append(np.mean([s.eye_dx for s in mine]))
    # people differ by far more than one person's photos do
    assert np.std(spread_between) > 4 * PHOTO_JITTER["eye_dx"] * JITTER_SCALE / np.sqrt(3)


@pytest.mark.slow
@needs_face_models
def test_a_face_descriptor_tells_the_drawn_people_apart():
    """30 drawn people x up to 10 photos through the app's own pipeline: same-person pairs are the closer ones."""
    plan = sample_labels(SEPARATION_PEOPLE * MEAN_PER_IDENTITY, seed=7)
    specs = face_specs(plan, seed=7)
    people = np.unique(plan.identity)
    assert len(people) == SEPARATION_PEOPLE
    rows = np.concatenate([np.flatnonzero(plan.identity == p)[:SEPARATION_PHOTOS] for p in people])
    jpegs = []
    for row in rows:
        buffer = io.BytesIO()
        draw_face(specs[row]).save(buffer, format="JPEG", quality=90)
        jpegs.append(buffer.getvalue())
    batch = describe_images(jpegs, aligned=True)
    assert (batch.status == STATUS_ALIGNED).mean() >= 0.99  # dlib's HOG detector finds the drawn faces
    same, different = sample_pairs(plan.identity[rows], max_pairs=5_000, seed=0)
    auc = roc_auc(
        pair_distances(batch.vectors, same[:, 0], same[:, 1]),
        pair_distances(batch.vectors, different[:, 0], different[:, 1]),
    )
    assert auc >= 0.98


# ---------------------------------------------------------------- partitions


@pytest.mark.parametrize(("n_images", "seed"), [(DEFAULT_IMAGES, 0), (DEFAULT_IMAGES, 3), (2000, 2), (400, 1)])
def test_partitions_are_whole_identities_stratified_by_attribute(n_images, seed, full_plan):
    plan = full_plan if (n_images, seed) == (DEFAULT_IMAGES, 0) else sample_labels(n_images, seed)
    frame = pl.DataFrame({"identity": plan.identity, "partition": plan.partition})
    assert frame.group_by("identity").agg(pl.col("partition").n_unique())["partition"].max() == 1
    per_partition = np.stack([plan.attributes[plan.partition == p].sum(0) for p in range(3)])
    sizes = np.bincount(plan.partition, minlength=3)
    assert (sizes > 0).all()
    assert (sizes[1:] >= MIN_MODEL_IMAGES).all(), sizes  # even a small demo's models can be scored
    for name, i in INDEX.items():
        if plan.attributes[:, i].sum() >= STRATIFY_MIN_TOTAL:
            assert per_partition[:, i].min() >= STRATIFY_MIN_EACH, f"{name}: {per_partition[:, i].tolist()}"
    if n_images == DEFAULT_IMAGES:  # the case: Bald is rare and persistent, yet every split can score it
        assert per_partition[:, INDEX["Bald"]].min() >= STRATIFY_MIN_EACH


# ---------------------------------------------------------------- any size: CelebA's people, resumable drawing

CUSTOM_IMAGES, CUSTOM_PEOPLE = 600, 40


@pytest.fixture(scope="module")
def custom_demo(tmp_path_factory) -> Path:
    """A demo drawn at a custom size (600 images of 40 people) by two worker processes."""
    return generate_demo(
        tmp_path_factory.mktemp("custom") / "demo-custom", CUSTOM_IMAGES, seed=2, workers=2, identities=CUSTOM_PEOPLE
    )


def test_celeba_sized_people_have_celebas_spread_exactly():
    sizes = celeba_identity_sizes(202_599, 10_177, np.random.default_rng(0))
    assert sizes.sum() == 202_599 and len(sizes) == 10_177
    assert np.bincount(sizes, minlength=36)[1:].tolist() == list(CELEBA_IMAGES_PER_IDENTITY)


@pytest.mark.parametrize(("n_images", "people"), [(20_000, 1_000), (600, 40), (50, 50), (7, 3)])
def test_other_sizes_keep_the_count_the_total_and_the_shape(n_images, people):
    sizes = celeba_identity_sizes(n_images, people, np.random.default_rng(1))
    assert len(sizes) == people and sizes.sum() == n_images and sizes.min() >= 1
    if people >= 1_000:  # CelebA's two peaks (20-21 and 30-31 images a person) hold 39 % of its people
        peaks = np.isin(sizes, [20, 21, 30, 31]).mean()
        celeba = np.asarray(CELEBA_IMAGES_PER_IDENTITY)
        assert abs(peaks - celeba[[19, 20, 29, 30]].sum() / celeba.sum()) < 0.02, peaks


@needs(REAL_ANNOTATIONS)
def test_carried_people_counts_match_celebas_identity_file():
    lines = (REAL_ANNOTATIONS / "identity_CelebA.txt").read_text().splitlines()[1:]
    _, per_person = np.unique([line.split()[1] for line in lines], return_counts=True)
    assert np.bincount(per_person, minlength=36)[1:].tolist() == list(CELEBA_IMAGES_PER_IDENTITY)


def test_identities_outside_the_images_are_refused(tmp_path):
    with pytest.raises(ValueError, match="between 1 and"):
        generate_demo(tmp_path / "x", 10, identities=11)
    assert main(["demo", "--images", "10", "--identities", "0", "--out", str(tmp_path / "y")]) == 2
    assert main(["demo", "--images", "10", "--name", "../outside"]) == 2


def test_a_custom_size_keeps_the_layout_partitions_and_prevalence(custom_demo):
    ds = open_dataset(custom_demo, name="demo-custom")
    assert ds.layout == "celeba" and ds.is_demo and ds.aligned and not ds.warnings
    assert ds.n_images == ds.images_found == CUSTOM_IMAGES and ds.n_identities == CUSTOM_PEOPLE
    assert sorted(p.name for p in (custom_demo / "Img" / "img_align_celeba").iterdir())[-1] == "000600.jpg"
    assert not (custom_demo / DRAWING).exists(), "the drawing's state is gone once it is complete"
    marker = json.loads((custom_demo / DEMO_MARKER).read_text())
    assert marker["stage"] == "done" and marker["identities"] == CUSTOM_PEOPLE and demo_exists(custom_demo)
    table = ds.table
    assert table.group_by("identity").agg(pl.col("partition").n_unique())["partition"].max() == 1
    counts = table["partition"].value_counts()
    shares = {row["partition"]: row["count"] / CUSTOM_IMAGES for row in counts.iter_rows(named=True)}
    assert all(abs(shares[p] - want) <= 0.05 for p, want in (("train", 0.8), ("val", 0.1), ("test", 0.1))), shares
    assert min(shares["val"], shares["test"]) * CUSTOM_IMAGES >= MIN_MODEL_IMAGES
    labels = ds.attribute_matrix()
    for name, i in INDEX.items():
        column = labels[:, i].astype(bool)
        if column.sum() >= STRATIFY_MIN_TOTAL:
            per_split = [int(column[(table["partition"] == p).to_numpy()].sum()) for p in ("train", "val", "test")]
            assert min(per_split) >= STRATIFY_MIN_EACH, f"{name}: {per_split}"
        p = CELEBA_PREVALENCE[name]
        assert abs(column.mean() - p) <= 0.03 + 3 * np.sqrt(p * (1 - p) / CUSTOM_PEOPLE), name
    plan = sample_labels(CUSTOM_IMAGES, seed=2, identities=CUSTOM_PEOPLE)
    np.testing.assert_array_equal(labels, plan.attributes)  # the files are the plan, whatever the workers


class _StopDrawingError(Exception):
    pass


def test_an_interrupted_drawing_is_never_complete_and_resumes_where_it_stopped(tmp_path, monkeypatch):
    out, total, stop_after = tmp_path / "demo", 120, 50
    real_save, saved = drawing._save, []

    def save_then_stop(folder, index, spec):
        if len(saved) == stop_after:
            raise _StopDrawingError
        real_save(folder, index, spec)
        saved.append(index)

    monkeypatch.setattr(drawing, "_save", save_then_stop)
    with pytest.raises(_StopDrawingError):
        generate_demo(out, total, seed=6, workers=1, identities=9)
    images = out / DRAWING / "images"
    (images / f"{image_name(stop_after)}{drawing.PARTIAL}").write_bytes(b"half a face")  # killed mid-write
    # labels first: the app works on them at once, and the half-drawn demo is not taken for a finished one
    assert labels_ready(out) and not demo_exists(out) and demo_stage(out) == "images"
    ds = open_dataset(out, name="half")
    assert ds.n_images == total and ds.is_demo and not ds.has_images
    progress = drawing_progress(out)
    assert progress is not None and progress.stage == "images" and progress.total == total
    before = {p.name: p.stat().st_mtime_ns for p in images.glob("*.jpg")}
    assert len(before) == stop_after

    redrawn = []
    monkeypatch.setattr(drawing, "_save", lambda f, i, s: (redrawn.append(i), real_save(f, i, s)))
    generate_demo(out, total, seed=6, workers=1, identities=9)
    assert sorted(redrawn) == list(range(stop_after, total)), "only the missing faces are drawn again"
    final = out / "Img" / "img_align_celeba"
    assert {p.name: p.stat().st_mtime_ns for p in final.glob("*.jpg") if p.name in before} == before
    assert len(list(final.iterdir())) == total and demo_exists(out) and drawing_progress(out) is None
    fresh = generate_demo(tmp_path / "fresh", total, seed=6, workers=1, identities=9)
    for name in (image_name(0), image_name(stop_after), image_name(total - 1)):
        assert (final / name).read_bytes() == (fresh / "Img" / "img_align_celeba" / name).read_bytes(), name
    assert _digest(out) == _digest(fresh)


def test_another_request_starts_afresh(tmp_path):
    out = generate_demo(tmp_path / "d", 12, seed=0, workers=1, identities=3)
    stamp = (out / "Img" / "img_align_celeba" / image_name(0)).stat().st_mtime_ns
    generate_demo(out, 12, seed=0, workers=1, identities=3)  # the same request, finished: nothing to do
    assert (out / "Img" / "img_align_celeba" / image_name(0)).stat().st_mtime_ns == stamp
    generate_demo(out, 12, seed=0, workers=1, identities=4)
    assert json.loads((out / DEMO_MARKER).read_text())["identities"] == 4
    assert len(np.unique(open_dataset(out, name="d").table["identity"].to_numpy())) == 4


def test_cli_draws_into_data_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACEATLAS_HOME", str(tmp_path))
    assert main(["demo", "--images", "9", "--identities", "2", "--name", "demo-small", "--workers", "1"]) == 0
    out = tmp_path / "data" / "demo-small"
    assert demo_exists(out) and len(list((out / "Img" / "img_align_celeba").glob("*.jpg"))) == 9
    assert "9 images in" in capsys.readouterr().out


# ---------------------------------------------------------------- the estimate a drawing shows


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _drawing_clock(n_images: int = 6_000) -> tuple[_FakeClock, DrawingClock]:
    """A clock whose labels were planned in the expected time and whose workers were just started."""
    clock = _FakeClock()
    timer = DrawingClock(n_images, workers=2, clock=clock)
    clock.now = expected_plan_seconds(n_images)
    timer.planned()
    timer.drawing(0)
    return clock, timer


def _draw(clock: _FakeClock, timer: DrawingClock, rate: float, first_after: float, seconds: float) -> list[float]:
    """The estimates said once a second while faces come at `rate` a second after `first_after` s without any."""
    said, done, start = [], 0, clock.now
    while clock.now - start < seconds and done < timer.n_images:
        clock.now += 1
        if clock.now - start >= first_after:
            done = min(timer.n_images, max(done, 40) + int(rate))
        said.append(timer.left(done))
    return said


def test_the_first_estimate_is_the_expected_time():
    clock = _FakeClock()
    timer = DrawingClock(6_000, workers=2, clock=clock)
    assert timer.left(0) == pytest.approx(expected_seconds(6_000, 2) - START_SECONDS, rel=0.01)


def test_on_a_quiet_machine_the_estimate_stays_near_the_truth():
    clock, timer = _drawing_clock()
    said = _draw(clock, timer, rate=100, first_after=2, seconds=60)
    truth = [max(6_000 - 40 - 100 * (t - 1), 0) / 100 for t in range(2, len(said) + 2)]
    assert all(abs(s - t) <= 0.25 * t + 3 for s, t in zip(said[1:], truth[1:])), list(zip(said, truth))


def test_a_busy_machine_says_so_before_the_first_face_and_the_measured_rate_takes_over():
    """The first start measured at load 9: a job yielding the CPU drew 4.3 faces a second, its first after 22 s."""
    clock, timer = _drawing_clock()
    said = _draw(clock, timer, rate=4.3, first_after=22, seconds=300)
    assert said[0] < 100  # on time so far: the quiet machine's minute
    assert said[20] > 300, said[20]  # 21 s without a face: far behind, said before any face is drawn
    truth = (6_000 - 40 - 4.3 * (300 - 22)) / 4.3
    assert said[-1] == pytest.approx(truth, rel=0.2)


def test_a_slow_machine_is_known_by_its_planning_before_the_first_face():
    clock = _FakeClock()
    timer = DrawingClock(6_000, workers=2, clock=clock)
    clock.now = expected_plan_seconds(6_000) * 13  # 0.078 of a core
    timer.planned()
    assert timer.expected_rate() == pytest.approx(2 / DRAW_SECONDS_PER_IMAGE / 13)
    assert timer.left(0) >= expected_draw_seconds(6_000, 2) * 12


def test_a_real_datasets_folder_is_never_drawn_over(tmp_path):
    real = tmp_path / "celeba"
    (real / "Img" / "img_align_celeba").mkdir(parents=True)
    (real / "Img" / "img_align_celeba" / "000001.jpg").write_bytes(b"a real photo")
    with pytest.raises(ValueError, match="did not draw"):
        generate_demo(real, 5, workers=1)
    assert (real / "Img" / "img_align_celeba" / "000001.jpg").read_bytes() == b"a real photo"
