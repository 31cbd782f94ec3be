"""Classifier core: metrics against hand-computed values, splits, a short training run, the model store."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import subprocess
import sys
from contextlib import redirect_stdout
from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from core.__main__ import main
from core.charts.classify import CURVE_STEPS, curve_points
from core.classify.metrics import (
    balanced_thresholds,
    binary_metrics,
    confusion_counts,
    error_rows,
    pr_curve,
    roc_curve,
    subgroup_metrics,
)
from core.classify.models import TrainConfig
from core.classify.pixels import augment_batch, build_pixel_cache, image_to_array, load_pixel_cache
from core.classify.store import (
    list_models,
    load_classifier,
    load_predictions,
    load_test_predictions,
    models_root,
    read_meta,
)
from core.classify.train import dataset_split, history_path_for, train_attribute_model
from core.classify.tryit import predict_photo
from core.cluster.features import FeatureSpec, build_features
from core.data.embeddings import load_embeddings
from core.data.ingest import open_dataset
from core.errors import ImageError, ModelFileError
from core.jobs import cancel_job, job_status, start_job
from tests.support import PROJECT, write_celeba

# Hand-built example: 4 positives, 6 negatives.
Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.8, 0.4, 0.6, 0.7, 0.2, 0.1, 0.3, 0.05, 0.5])


def test_metrics_on_hand_built_example():
    # At 0.5: TP = 0.9, 0.8, 0.6; FN = 0.4; FP = 0.7, 0.5; TN = the other four.
    assert confusion_counts(Y, P, 0.5) == {"tp": 3, "fp": 2, "fn": 1, "tn": 4}
    m = binary_metrics(Y, P, 0.5)
    assert m["accuracy"] == pytest.approx(7 / 10)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 4 / 6) / 2)
    assert m["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    # Positive-negative pairs ranked correctly: 6 + 6 + 5 + 4 of 24.
    assert m["auc"] == pytest.approx(21 / 24)
    assert m["positive_rate"] == pytest.approx(0.4)
    assert m["majority_accuracy"] == pytest.approx(0.6)
    assert m["predicted_positive_rate"] == pytest.approx(0.5)
    # Threshold 0.75: only 0.9 and 0.8 are positive.
    assert confusion_counts(Y, P, 0.75) == {"tp": 2, "fp": 0, "fn": 2, "tn": 6}


def test_undefined_metrics_are_nan_and_curves_span_the_square():
    m = binary_metrics(np.zeros(5), np.linspace(0, 1, 5))
    assert math.isnan(m["auc"]) and math.isnan(m["recall"]) and m["majority_accuracy"] == 1.0
    roc = roc_curve(Y, P)
    assert roc.row(0)[:2] == (0.0, 0.0) and roc.row(-1)[:2] == (1.0, 1.0)
    # Trapezoid area under the ROC points equals the rank AUC.
    assert np.trapezoid(roc["true_positive_rate"], roc["false_positive_rate"]) == pytest.approx(21 / 24)


def test_curves_sent_to_the_browser_are_thinned_to_the_screen():
    rng = np.random.default_rng(0)
    labels = rng.random(20_000) < 0.3
    probs = np.clip(0.3 * labels + rng.normal(0.35, 0.2, 20_000), 0, 1)  # 20,000 distinct scores
    roc = roc_curve(labels, probs).to_pandas()
    thin = curve_points(roc, ("false_positive_rate", "true_positive_rate"))
    assert len(roc) > 10_000 and len(thin) <= 2 * CURVE_STEPS + 2
    assert thin.iloc[0].tolist() == roc.iloc[0].tolist() and thin.iloc[-1].tolist() == roc.iloc[-1].tolist()
    # The same picture: the area under the drawn steps is the exact one to within one band.
    area = np.trapezoid(roc["true_positive_rate"], roc["false_positive_rate"])
    drawn = np.trapezoid(thin["true_positive_rate"], thin["false_positive_rate"])
    assert abs(drawn - area) < 1 / CURVE_STEPS
    pr = pr_curve(labels, probs).to_pandas()
    thin = curve_points(pr, ("recall",))
    assert len(thin) <= CURVE_STEPS + 2 and thin["recall"].iloc[-1] == 1.0
    assert np.all(np.diff(np.floor(thin["recall"].iloc[1:-1] * CURVE_STEPS)) > 0)  # one point per band


def test_subgroup_gap_and_error_rows():
    groups = np.array([0, 0, 1, 1, 0, 0, 1, 1, 0, 1])
    table = subgroup_metrics(Y, P, groups, ("no", "yes"))
    # group 0 = rows 0,1,4,5,8: preds 1,1,1,0,0 vs 1,1,0,0,0 -> 4/5; group 1 = rows 2,3,6,7,9: preds 0,1,0,0,1 vs 1,1,0,0,0 -> 3/5.
    acc = dict(zip(table["group"], table["accuracy"]))
    assert acc["no"] == pytest.approx(0.8) and acc["yes"] == pytest.approx(0.6) and acc["gap"] == pytest.approx(0.2)
    errors = error_rows(Y, P, 0.5)
    assert errors["false_positives"].tolist() == [4, 9]  # most confident first
    assert errors["false_negatives"].tolist() == [2]


def test_split_by_partition_and_identity_grouped_split(clf_env):
    ds = clf_env
    split = dataset_split(ds, np.ones(ds.n_images, bool))
    part = ds.table["partition"].to_numpy()
    assert set(part[split.train]) == {"train"} and set(part[split.test]) == {"test"}
    no_part = replace(ds, table=ds.table.with_columns(pl.lit(None, pl.String).alias("partition")))
    split = dataset_split(no_part, np.ones(ds.n_images, bool), seed=3)
    ids = ds.table["identity"].to_numpy()
    assert len(split.train) + len(split.val) + len(split.test) == ds.n_images
    assert not set(ids[split.train]) & set(ids[split.test]) and not set(ids[split.val]) & set(ids[split.test])
    assert "no train/val/test partition" in split.note


@pytest.mark.slow
def test_cnn_learns_a_drawn_attribute(cnn_model):
    meta = cnn_model
    # ~300 training faces of ~16 people: the ranking (AUC; chance 0.5) is learnt reliably, the 0.5
    # threshold's calibration is not, so the check is on AUC.
    aucs = [meta.metrics[a]["auc"] for a in ("Male", "Heavy_Makeup")]
    assert np.mean(aucs) >= 0.75, meta.metrics
    assert min(aucs) >= 0.65, meta.metrics


@pytest.mark.slow
def test_save_load_gives_identical_predictions(clf_env, cnn_model, logreg_model):
    ds = clf_env
    for meta, inputs in (
        (cnn_model, load_pixel_cache(ds, 64)[0]),
        (logreg_model, load_embeddings(ds).vectors),
    ):
        stored = load_test_predictions(meta.model_id)
        model = load_classifier(meta.model_id)
        again = model.predict(np.asarray(inputs[stored["rows"]]))
        np.testing.assert_allclose(again, stored["probs"], rtol=1e-5, atol=1e-6)
        assert again.shape == (len(stored["rows"]), len(meta.attributes))


class _Payload:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(_Payload.marker),))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_disguised_as_weights_is_refused(clf_env, cnn_model, tmp_path):
    import shutil

    _Payload.marker = str(tmp_path / "pwned")
    fake_id = "cnn-pixels-fake"
    shutil.copytree(models_root() / cnn_model.model_id, models_root() / fake_id, dirs_exist_ok=True)
    (models_root() / fake_id / "weights.pt").write_bytes(pickle.dumps({"stem.0.weight": _Payload()}))
    meta = json.loads((models_root() / fake_id / "meta.json").read_text())
    (models_root() / fake_id / "meta.json").write_text(json.dumps(meta | {"files": {}}))  # no record to check
    with pytest.raises(ModelFileError, match="not a valid weights file"):
        load_classifier(fake_id)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_a_damaged_model_is_set_aside_with_a_message(clf_env, cnn_model, tmp_path):
    import shutil

    _Payload.marker = str(tmp_path / "pwned")
    copy_id = "cnn-pixels-copy"
    shutil.copytree(models_root() / cnn_model.model_id, models_root() / copy_id, dirs_exist_ok=True)
    weights = models_root() / copy_id / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated behind the server's back
    with pytest.raises(ModelFileError, match=r"damaged .*weights\.pt.*set aside: train it again"):
        load_classifier(copy_id)
    assert not (models_root() / copy_id).exists()  # moved aside, not read, not deleted
    assert list((models_root().parent / "set-aside" / "models").glob(f"{copy_id}.damaged-*"))
    assert copy_id not in {m.model_id for m in list_models()}


def test_cli_prints_one_json_object(clf_env):
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(
            [
                "train",
                str(clf_env.root),
                "--name",
                "demo",
                "--model",
                "logreg",
                "--attributes",
                "Male,Smiling",
                "--json",
            ]
        )
    assert code == 0
    result = json.loads(out.getvalue())
    assert set(result) == {"model_id", "attributes", "mean", "below_majority", "seconds"}
    below = [a for a, m in result["attributes"].items() if not m["accuracy"] > m["majority_accuracy"]]
    assert result["below_majority"] == below
    assert set(result["attributes"]) == {"Male", "Smiling"}
    assert set(result["mean"]) == {"accuracy", "balanced_accuracy", "f1", "auc", "majority_accuracy"}
    meta = read_meta(result["model_id"])
    assert result["attributes"]["Smiling"]["accuracy"] == meta.metrics["Smiling"]["accuracy"]
    assert result["mean"]["accuracy"] == pytest.approx(np.mean([v["accuracy"] for v in result["attributes"].values()]))


def test_cli_rejects_unknown_attribute(clf_env, capsys):
    assert main(["train", str(clf_env.root), "--name", "demo", "--attributes", "Wings", "--json"]) == 2
    assert "Unknown attributes Wings" in json.loads(capsys.readouterr().out)["error"]


def test_augmentation_without_warp_is_identity_or_mirror():
    import torch

    x = torch.rand(8, 3, 16, 16)
    out = augment_batch(
        x, torch.Generator().manual_seed(0), max_degrees=0, max_shift=0, zoom=0, brightness=0, saturation=0
    )
    for a, b in zip(x, out):
        assert torch.allclose(b, a, atol=1e-5) or torch.allclose(b, a.flip(-1), atol=1e-5)


def test_colour_augmentation_keeps_greys_grey_and_pixels_in_range():
    import torch

    grey = torch.linspace(-0.8, 0.8, 16).repeat(4, 3, 16, 1)  # every pixel has R = G = B
    out = augment_batch(grey, torch.Generator().manual_seed(1), max_degrees=0, max_shift=0, zoom=0, brightness=0.3)
    assert out.min() >= -1 and out.max() <= 1
    assert torch.allclose(out[:, 0], out[:, 1], atol=1e-5) and torch.allclose(out[:, 1], out[:, 2], atol=1e-5)
    levels = [float(img.mean()) for img in out]
    assert max(levels) - min(levels) > 0.05  # brightness differs from image to image
    colour = torch.zeros(64, 3, 4, 4)
    colour[:, 0] = 0.6  # a reddish patch: saturation moves R away from or toward G and B, never past them
    out = augment_batch(colour, torch.Generator().manual_seed(2), max_degrees=0, max_shift=0, zoom=0, brightness=0)
    assert (out[:, 0] > out[:, 1]).all()


@pytest.mark.slow
def test_photo_prediction_from_bytes(clf_env, cnn_model):
    ds = clf_env
    data = ds.image_path(ds.table["image_id"][0]).read_bytes()
    model = load_classifier(cnn_model.model_id)
    result = predict_photo(model, data)
    assert len(result.faces) >= 1
    assert set(result.faces[0].probabilities) == set(cnn_model.attributes)
    if result.faces[0].box is None:  # no face detected in a drawn face: the whole image is used
        from core.data.images import open_rgb

        expected = model.predict(image_to_array(open_rgb(data), 64)[None])[0]
        assert result.faces[0].probabilities["Male"] == pytest.approx(float(expected[0]), abs=1e-6)
    with pytest.raises(ImageError):
        predict_photo(model, b"not an image")


def test_mlp_head_on_embeddings_and_loss_choices(clf_env):
    for loss in ("bce", "mse", "cosine"):
        meta = train_attribute_model(
            clf_env, TrainConfig(model="mlp", attributes=("Male", "Wearing_Lipstick"), epochs=15, loss=loss)
        )
        # The synthetic embeddings are a noisy projection of the labels: every loss should rank Male well.
        assert meta.metrics["Male"]["auc"] >= 0.85, (loss, meta.metrics["Male"])
        assert meta.config.loss == loss
    with pytest.raises(ValueError, match="at least 2 attributes"):
        train_attribute_model(clf_env, TrainConfig(model="mlp", attributes=("Male",), loss="cosine"))


@pytest.mark.slow
def test_training_job_reports_history_and_can_be_cancelled(clf_env):
    import time

    before = {m.model_id for m in list_models(clf_env.key)}
    argv = [
        "train",
        str(clf_env.root),
        "--name",
        "demo",
        "--model",
        "cnn",
        "--attributes",
        "Male,Smiling",
        "--epochs",
        "50",
        "--batch-size",
        "16",
        "--seed",
        "7",
        "--augment",
    ]
    job_id = start_job("train", argv)
    try:
        deadline = time.time() + 600  # a safety net on a loaded machine, not a timing check
        while not history_path_for(job_id).exists() and time.time() < deadline and not job_status(job_id).finished:
            time.sleep(0.5)
        history = json.loads(history_path_for(job_id).read_text())
        assert history and {"epoch", "split", "loss", "accuracy"} <= set(history[0])
        assert job_status(job_id).state == "running" and "epoch" in job_status(job_id).message
    finally:
        cancel_job(job_id)  # also when an assert failed: never leave a training process behind
    deadline = time.time() + 60
    while job_status(job_id).state != "cancelled" and time.time() < deadline:
        time.sleep(0.2)
    assert job_status(job_id).state == "cancelled"
    assert {m.model_id for m in list_models(clf_env.key)} == before  # nothing half-saved


def test_balanced_thresholds_pick_the_cut_a_rare_attribute_needs():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.1).astype(np.uint8)  # rare attribute
    p = np.clip(0.05 + 0.3 * y + rng.normal(0, 0.08, 2000), 0, 1)  # well ranked, never above 0.5
    cut = balanced_thresholds(y[:, None], p[:, None])[0]
    assert 0.1 < cut < 0.4
    assert binary_metrics(y, p, cut)["balanced_accuracy"] > 0.9 > binary_metrics(y, p, 0.5)["balanced_accuracy"]
    assert balanced_thresholds(np.zeros((5, 1)), np.full((5, 1), 0.3))[0] == 0.5  # one class only


def test_balanced_thresholds_match_a_brute_force_search_and_take_the_lowest_tie():
    rng = np.random.default_rng(3)
    y = (rng.random((400, 3)) < [0.05, 0.3, 0.5]).astype(np.uint8)
    p = np.clip(0.2 * y + rng.random((400, 3)) * 0.6, 0, 1).round(4)
    cuts = balanced_thresholds(y, p)
    for j in range(3):  # every cut of the 0.001 grid scored by binary_metrics: none beats the chosen one
        grid = np.round(np.arange(1, 1000) / 1000, 3)
        best = max(binary_metrics(y[:, j], p[:, j], c)["balanced_accuracy"] for c in grid)
        assert binary_metrics(y[:, j], p[:, j], cuts[j])["balanced_accuracy"] == pytest.approx(best, abs=1e-12)
    # Separated classes: every cut between the highest negative (0.031) and the lowest positive (0.4) ties, and the
    # chosen one sits just above the negatives (the rare positives unseen in validation may score lower than these).
    labels = np.array([0] * 50 + [1] * 5)
    scores = np.r_[np.linspace(0.0, 0.031, 50), [0.4, 0.5, 0.6, 0.7, 0.8]]
    assert balanced_thresholds(labels[:, None], scores[:, None])[0] == 0.032


def test_training_predicts_every_image_for_the_clustering_page(clf_env, logreg_model):
    """A trained model's probabilities for every row are stored: the Clustering page's predicted-attribute space."""
    predictions = load_predictions(clf_env.cache_dir, logreg_model.model_id)
    emb = load_embeddings(clf_env)
    assert predictions.probabilities.shape == (clf_env.n_images, len(logreg_model.attributes))
    predicted = ~np.isnan(predictions.probabilities[:, 0])
    np.testing.assert_array_equal(predicted, emb.has_face)  # rows without a face have no input, so no prediction
    rows = np.flatnonzero(predicted)[:25]
    again = load_classifier(logreg_model.model_id).predict(np.asarray(emb.vectors[rows]))
    np.testing.assert_allclose(predictions.probabilities[rows], again, rtol=1e-5, atol=1e-6)
    fm = build_features(clf_env, FeatureSpec("predicted", attributes=("Smiling", "Male")), predictions=predictions)
    assert fm.n == int(predicted.sum()) and fm.columns == ("Smiling", "Male")
    assert "could not read were left out" in " ".join(fm.notes)


SHRINK_WHILE_TRAINING = """
import sys
import numpy as np
from pathlib import Path
from core.classify.pixels import build_pixel_cache, pixel_cache_paths
from core.data.ingest import open_dataset
from core.errors import FaceAtlasError

ds = open_dataset(Path(sys.argv[1]))
pixels, ok = build_pixel_cache(ds, 64)
first = np.array(pixels[[0, 1]])  # a batch read before the file changes
with open(pixel_cache_paths(ds, 64)[0], "r+b") as f:  # what a full disk, a cleaner or a person can do
    f.truncate(5000)
try:
    pixels[np.arange(len(pixels))]  # the next batches: a memory map would die of SIGBUS here
    print("read")
except FaceAtlasError as exc:
    print("failed:", exc)
"""


def test_a_pixel_cache_shrunk_while_a_model_trains_fails_with_a_sentence(tmp_path, isolated_cache):
    root = write_celeba(tmp_path / "faces", n=6, images=True)
    env = {**os.environ, "FACEATLAS_CACHE": str(isolated_cache)}
    run = [sys.executable, "-c", SHRINK_WHILE_TRAINING, str(root)]
    proc = subprocess.run(run, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]  # no signal death (SIGBUS is -7)
    out = proc.stdout.strip()
    assert out.startswith("failed: The stored 64px pixel cache changed size while it was read"), out
    assert "set aside" in out and "Traceback" not in out
    ds = open_dataset(root)
    assert list(isolated_cache.rglob("pixels_64.npy*damaged*"))  # out of the way …
    assert load_pixel_cache(ds, 64) is None  # … so the next training decodes the images again
    assert build_pixel_cache(ds, 64)[1].all()


@pytest.mark.parametrize("balanced", [False, True])
def test_logistic_model_matches_one_scikit_learn_fit_per_attribute(balanced):
    """The attributes fitted side by side (threads, float32 features) give each attribute's own scikit-learn fit;
    an attribute with one class predicts its prior; progress counts every attribute."""
    from sklearn.linear_model import LogisticRegression

    from core.classify.models import LogisticModel

    rng = np.random.default_rng(3)
    X = rng.normal(2.0, 3.0, size=(600, 6))
    Y = np.column_stack(
        [
            (X[:, 0] + rng.normal(0, 2, 600) > 2).astype(np.uint8),
            (X[:, 1] - X[:, 2] + rng.normal(0, 4, 600) > 6).astype(np.uint8),  # rare
            np.ones(600, np.uint8),  # one class
        ]
    )
    progress = []
    model = LogisticModel(balanced=balanced).fit(X, Y, on_fitted=progress.append)
    assert progress == [1, 2, 3]
    probs = model.predict_proba(X)
    Z = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-6)
    for j in range(2):
        clf = LogisticRegression(class_weight="balanced" if balanced else None, max_iter=500).fit(Z, Y[:, j])
        np.testing.assert_allclose(probs[:, j], clf.predict_proba(Z)[:, 1], atol=2e-3)
    assert np.allclose(probs[:, 2], 1 - 1e-4, atol=1e-6)


def _lockstep_problem(n: int = 3000, attributes: int = 8):
    """Features and attributes that fits finish at different rounds (from nearly separable to nearly noise)."""
    rng = np.random.default_rng(5)
    Z = rng.normal(size=(n, 10)).astype(np.float32)
    noise = np.linspace(0.2, 6.0, attributes)
    Y = (Z[:, :attributes] + rng.normal(size=(n, attributes)) * noise > 0.5).astype(np.uint8)
    return Z, Y


@pytest.mark.parametrize("balanced", [False, True])
def test_lockstep_fits_are_each_attributes_own_scikit_learn_fit(balanced):
    """Eight fits that need different numbers of rounds, answered together in whatever order their threads ask:
    each is the scikit-learn fit of its own attribute (a round that mixed up columns fails here)."""
    from sklearn.linear_model import LogisticRegression

    from core.classify.lockstep import FitSettings, fit_logistic_columns

    Z, Y = _lockstep_problem()
    coef, intercept = fit_logistic_columns(Z, Y, FitSettings(balanced=balanced, max_iter=500))
    for j in range(Y.shape[1]):
        clf = LogisticRegression(class_weight="balanced" if balanced else None, max_iter=500, tol=1e-10)
        clf.fit(Z.astype(np.float64), Y[:, j])
        logits = Z @ coef[j] + intercept[j]
        np.testing.assert_allclose(logits, clf.decision_function(Z), rtol=5e-3, atol=0.02, err_msg=f"attribute {j}")


def test_lockstep_fits_do_not_depend_on_the_cores(monkeypatch):
    """The rows are summed in fixed blocks in a fixed order: one core or three give the same numbers."""
    import core.classify.lockstep as lockstep

    Z, Y = _lockstep_problem(n=9000)  # more than two blocks
    fits = []
    for cores in (1, 3):
        monkeypatch.setattr(lockstep, "usable_cores", lambda cores=cores: cores)
        fits.append(lockstep.fit_logistic_columns(Z, Y, lockstep.FitSettings()))
    np.testing.assert_array_equal(fits[0][0], fits[1][0])
    np.testing.assert_array_equal(fits[0][1], fits[1][1])


def _error_of_lockstep_fit() -> str:
    """Fits the lockstep problem in a thread (so that a fit left waiting fails the test rather than hanging it) and
    returns what its error said."""
    import threading

    from core.classify.lockstep import FitSettings, fit_logistic_columns

    Z, Y = _lockstep_problem()
    said = []

    def run():
        try:
            fit_logistic_columns(Z, Y, FitSettings())
        except Exception as error:
            said.append(str(error))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "a lockstep fit is still waiting"
    return said[0] if said else ""


def test_a_fit_that_cannot_start_leaves_no_lockstep_fit_waiting(monkeypatch):
    """When a fit's thread cannot be started (a process limit), the fits already started do not wait for it."""
    from concurrent.futures import ThreadPoolExecutor

    submitted = []
    submit = ThreadPoolExecutor.submit

    def third_fails(self, fn, *args, **kwargs):
        submitted.append(fn)
        if len(submitted) == 3:
            raise RuntimeError("can't start new thread")
        return submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "submit", third_fails)
    assert _error_of_lockstep_fit() == "can't start new thread"


def test_a_failing_round_stops_every_lockstep_fit(monkeypatch):
    """An error while answering a round reaches the caller; no fit is left waiting for the others."""
    import core.classify.lockstep as lockstep

    rounds = []
    answer = lockstep._Round._losses_and_gradients

    def fail_on_third(self, columns, thetas):
        rounds.append(len(columns))
        if len(rounds) == 3:
            raise MemoryError("no room")
        return answer(self, columns, thetas)

    monkeypatch.setattr(lockstep._Round, "_losses_and_gradients", fail_on_third)
    assert _error_of_lockstep_fit() == "no room"
