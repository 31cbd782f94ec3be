"""Generated faces (issue 32): a tiny DCGAN (16 px, a few hundred demo faces, 2 epochs) trained in-process and as a
job that is killed and resumed; its stored checkpoint; the command's JSON; the page's grid, copying, amplification
and diversity figures recomputed here from the stored samples (brute-force float64 distances, plain counts); the
lesson's answers against the page; a dataset without images.

Everything runs in a private cache root (no face embeddings there: copying is measured in pixels, which this module
can recompute exactly).
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.__main__ import main as cli
from core.classify.models import TrainConfig
from core.classify.pixels import load_pixel_cache
from core.classify.store import ClassifierMeta, load_classifier
from core.classify.train import train_attribute_model
from core.cli.generate import generate_job_spec
from core.data.ingest import open_dataset
from core.errors import ModelFileError
from core.generate import store
from core.generate.audit import audit_generator, load_audit, nearest
from core.generate.faces import faces_at
from core.generate.models import IMAGE_SIZES, Discriminator, GanConfig, Generator, build_pair, validate_config
from core.generate.sample import asked_conditions, interpolate, seed_faces, switch_attribute, tile
from core.generate.store import GeneratorMeta
from core.generate.train import train_generator
from core.jobs import job_status, jobs_root, start_job
from core.lessons.catalogue import lesson_by_id
from core.lessons.data import LessonData
from tests.cache_support import private_cache
from tests.support import PROJECT, opened_at, wait_for

PAGE = str(PROJECT / "pages" / "8_Generated_faces.py")
TINY = GanConfig(image_size=16, width=8, batch_size=32)
SAMPLES = 64
SCORED = ("Male", "Smiling")
JOB_WAIT_S = 600  # a safety net on a loaded machine, not a timing


@dataclass(frozen=True)
class GenEnv:
    ds: object
    generator: GeneratorMeta
    classifier: ClassifierMeta
    cache: Path


@pytest.fixture(scope="module")
def gen_env(demo_home, tmp_path_factory):
    """A private cache with a tiny generator (2 epochs, measured) and a small CNN that scores two attributes."""
    path = tmp_path_factory.mktemp("gen-cache")
    with private_cache(path):
        ds = open_dataset(demo_home / "data" / "demo", name="demo")
        classifier = train_attribute_model(
            ds, TrainConfig(model="cnn", attributes=SCORED, epochs=1, image_size=64, batch_size=32)
        )
        meta = train_generator(ds, TINY, 2).meta
        audit_generator(ds, meta, SAMPLES)
        yield GenEnv(ds, meta, classifier, path)


def _page(**params) -> AppTest:
    at = opened_at(PAGE, {"dataset": "demo", **params})
    assert not at.error, [e.value for e in at.error]
    return at


def _metric(at: AppTest, label: str) -> str:
    shown = [m.value for m in at.metric if m.label == label]
    assert len(shown) == 1, (label, [(m.label, m.value) for m in at.metric])
    return shown[0]


def _text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info") for e in at.get(kind))


def _image_captions(at: AppTest) -> list[str]:
    return [caption for image in at.get("image") for caption in image.captions]


def _faces_16(pixels_64: np.ndarray) -> np.ndarray:
    """64 px faces to 16 px as the issue describes them (4x4 block means, rounded), computed here."""
    blocks = np.asarray(pixels_64, np.float64).reshape(len(pixels_64), 16, 4, 16, 4, 3).mean(axis=(2, 4))
    return np.rint(blocks)


# ---- the networks


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_networks_follow_the_recipe(size):
    import torch

    config = GanConfig(image_size=size, attributes=("Male", "Smiling"), width=8)
    generator, discriminator = build_pair(config, seed=0)
    z = torch.randn(5, config.latent_dim)
    c = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]], dtype=torch.float32)
    images = generator(z, c)
    assert images.shape == (5, 3, size, size)
    assert float(images.detach().abs().max()) <= 1.0  # tanh
    assert discriminator(images, c).shape == (5,)
    layers = list(discriminator.main)
    assert isinstance(layers[1], torch.nn.LeakyReLU) and layers[1].negative_slope == 0.2  # no batch norm first
    assert isinstance(list(generator.main)[-1], torch.nn.Tanh)
    convs = [m for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert all(abs(float(m.weight.detach().std()) - 0.02) < 0.006 for m in convs if m.weight.numel() > 2000)
    unconditional = GanConfig(image_size=size, width=8)
    assert Generator(unconditional)(z).shape == (5, 3, size, size)
    assert Discriminator(unconditional)(images).shape == (5,)


def test_choices_are_checked_with_what_to_do():
    attributes = ("Male", "Smiling", "Bald", "Young", "Eyeglasses")
    with pytest.raises(ValueError, match="16, 32, 64"):
        validate_config(GanConfig(image_size=48), attributes)
    with pytest.raises(ValueError, match="at most 4"):
        validate_config(GanConfig(attributes=attributes), attributes)
    with pytest.raises(ValueError, match="Unknown attributes Nope"):
        validate_config(GanConfig(attributes=("Nope",)), attributes)


def test_nearest_faces_leave_a_face_out_and_measure_in_float64():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(40, 12)).astype(np.uint8)
    queries = np.vstack([base[[3, 7]], rng.integers(0, 256, size=(5, 12)).astype(np.uint8)])
    exclude = np.array([3, -1, -1, -1, -1, -1, -1])
    rows, distance = nearest(queries, base, scale=0.5, exclude=exclude)
    brute = np.sqrt(((queries[:, None, :].astype(np.float64) - base[None].astype(np.float64)) ** 2).sum(-1))
    brute[0, 3] = np.inf
    assert np.array_equal(rows, brute.argmin(axis=1)) and rows[1] == 7 and distance[1] == 0.0
    assert np.array_equal(distance, brute.min(axis=1) * 0.5)


def test_faces_are_cut_to_smaller_sizes_by_block_means():
    faces = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    small = faces_at(faces, 2)
    assert small.shape == (2, 2, 2, 3) and small.dtype == np.uint8
    assert small[1, 0, 1, 2] == round(faces[1, 0:2, 2:4, 2].astype(float).mean())
    assert np.array_equal(faces_at(faces, 4), faces)
    with pytest.raises(ValueError, match="whole fraction"):
        faces_at(faces, 3)


def test_interpolation_starts_and_ends_on_the_chosen_faces():
    import torch

    a, b = torch.randn(100, generator=torch.Generator().manual_seed(1)), torch.randn(100)
    path = interpolate(a, b, 8)
    assert path.shape == (8, 100)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    sheet = tile(np.zeros((10, 4, 4, 3), np.uint8), columns=8)
    assert sheet.shape == (2 * 5 - 1, 8 * 5 - 1, 3)


# ---- training, the checkpoint, the resume


def test_training_stores_a_checkpoint_per_epoch(gen_env):
    ds, meta = gen_env.ds, gen_env.generator
    with private_cache(gen_env.cache):
        batches = ds.n_images // TINY.batch_size
        assert meta.epochs_done == 2 and meta.steps_per_epoch == batches and meta.faces == ds.n_images
        grids, steps = store.load_grids(meta), store.load_steps(meta)
        assert grids.shape == (3, 64, 16, 16, 3) and grids.dtype == np.uint8  # before training, after each epoch
        assert len(steps) == 2 * batches
        second = steps[(steps[:, 0] > 1) & (steps[:, 0] <= 2)]
        assert meta.epochs[1].d_fake == pytest.approx(second[:, 4].astype(np.float64).mean())
        checkpoint = store.load_checkpoint(meta.generator_id)
        assert checkpoint["epoch"] == 2 and set(store.CHECKPOINT_PARTS) <= set(checkpoint)
        assert store.generator_id(ds, TINY) == meta.generator_id  # found again by what it learns from
        assert store.generator_id(ds, GanConfig(image_size=16, width=8, batch_size=16)) != meta.generator_id
        again = train_generator(ds, TINY, 2)  # already there: nothing trained
        assert again.resumed_from == 2 and again.meta.updated == meta.updated


def test_a_checkpoint_that_would_run_code_is_refused(gen_env, tmp_path, monkeypatch):
    import pickle

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    monkeypatch.setenv("FACEATLAS_CACHE", str(tmp_path / "cache"))
    folder = store.generator_folder("gan-16px-bad")
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(pickle.dumps({"generator": Payload()}, protocol=2))
    with pytest.raises(ModelFileError, match="refused without running anything"):
        store.load_checkpoint("gan-16px-bad")
    assert not (tmp_path / "ran").exists()


def _epochs_stored(gid: str) -> int:
    meta = store.read_meta(gid)
    return meta.epochs_done if meta else 0


@pytest.mark.slow  # two job processes (torch imported twice); minutes when the machine is busy, jobs run niced
def test_the_job_resumes_after_a_kill(gen_env):
    """Killed (SIGKILL) after some epoch k of a long run, the same generator's next job starts from epoch k: the
    epochs before are neither redone nor lost."""
    config = GanConfig(image_size=16, width=8, batch_size=32, max_images=128, seed=1)
    ds = gen_env.ds
    with private_cache(gen_env.cache):
        gid = store.generator_id(ds, config)
        long = generate_job_spec(ds, config, 500, samples=16)
        start_job(long.kind, list(long.argv))
        pid = json.loads((jobs_root() / long.job_id / "spec.json").read_text())["pid"]
        try:
            wait_for(lambda: _epochs_stored(gid) >= 1, JOB_WAIT_S, poll_s=0.05)  # killed soon after epoch 1
        finally:
            os.killpg(pid, signal.SIGKILL)
        wait_for(lambda: job_status(long.job_id).finished, 30)
        assert job_status(long.job_id).state == "failed"
        k = int(store.load_checkpoint(gid)["epoch"])
        assert 1 <= k < 500
        grids_before = np.load(store.generator_folder(gid) / "grids.npy")[: k + 1]
        short = generate_job_spec(ds, config, k + 1, samples=16)
        start_job(short.kind, list(short.argv))
        wait_for(lambda: job_status(short.job_id).finished, JOB_WAIT_S)
        status = job_status(short.job_id)
        assert status.state == "done", status
        assert status.result == {"generator_id": gid, "epochs": k + 1, "resumed_from": k}
        meta = store.read_meta(gid)
        assert meta.epochs_done == k + 1 and [e.epoch for e in meta.epochs] == list(range(1, k + 2))
        assert len(store.load_steps(meta)) == (k + 1) * (128 // 32)  # the killed epoch's steps were dropped
        assert np.array_equal(store.load_grids(meta)[: k + 1], grids_before)
        assert store.load_checkpoint(gid)["epoch"] == k + 1
        assert load_audit(meta)[0].copying.generated == 16


def test_the_command_says_in_a_sentence_what_it_cannot_do(tmp_path, capsys):
    """A setting it cannot use: exit status 2, the sentence on stderr and, with --json, as the object's error."""
    assert cli(["generate", str(tmp_path), "--samples", "0", "--json"]) == 2
    said = capsys.readouterr()
    assert json.loads(said.out) == {"error": "The audit needs at least 1 sample (--samples)."}
    assert said.err.strip() == "error: The audit needs at least 1 sample (--samples)."


def test_the_command_prints_the_issues_keys(gen_env, capsys):
    ds, meta = gen_env.ds, gen_env.generator
    with private_cache(gen_env.cache):
        argv = ["generate", str(ds.root), "--name", "demo", "--epochs", "2", "--image-size", "16", "--width", "8"]
        assert cli([*argv, "--batch-size", "32", "--samples", str(SAMPLES), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        audit = load_audit(meta)[0]
    assert set(out) == {"epochs", "seconds", "checkpoint", "copying", "prevalence", "identities"}
    assert out["epochs"] == 2 and out["seconds"] >= 0
    assert out["checkpoint"] == f"{gen_env.cache.name}/generators/{meta.generator_id}/checkpoint.pt"
    assert (gen_env.cache.parent / out["checkpoint"]).is_file()
    assert out["copying"] == {
        "share_below_same_person": audit.copying.generated_below / SAMPLES,
        "threshold": audit.copying.threshold,
    }
    assert set(out["prevalence"]) == set(SCORED)
    labels = ds.attribute_matrix()
    for attribute, shares in out["prevalence"].items():
        assert set(shares) == {"real", "generated"}
        assert shares["real"] == labels[:, ds.attributes.index(attribute)].mean()
    assert set(out["identities"]) == {"generated", "real"} and out["identities"]["generated"] >= 1


# ---- the page


def test_the_page_shows_the_grid_and_the_audit_recomputed_from_the_samples(gen_env):
    ds, meta = gen_env.ds, gen_env.generator
    with private_cache(gen_env.cache):
        at = _page(gan=meta.generator_id)
        folder = store.generator_folder(meta.generator_id)
        summary = json.loads((folder / "audit.json").read_text())
        with np.load(folder / "audit.npz") as z:
            samples, probabilities, real_rows = z["samples"], z["probabilities"], z["real_rows"]
        pixels, _ = load_pixel_cache(ds, 64)
        classifier = load_classifier(gen_env.classifier.model_id)
    assert len(at.get("image")) >= 3  # the epoch grid, the new faces, the interpolation strip
    assert _metric(at, "Epochs trained") == "2"
    steps = np.load(folder / "steps.npy").astype(np.float64)
    assert _metric(at, "D(fake), last epoch") == f"{steps[steps[:, 0] > 1, 4].mean():.2f}"

    # Copying: every generated face's nearest training face, brute force in float64 on 16 px pixels.
    rows = np.load(folder / "rows.npy")
    scale = 255.0 * np.sqrt(16 * 16 * 3)
    train = _faces_16(pixels[rows]).reshape(len(rows), -1) / scale
    generated = samples.reshape(len(samples), -1).astype(np.float64) / scale
    distance = np.sqrt(((generated[:, None, :] - train[None, :, :]) ** 2).sum(-1))
    threshold = summary["copying"]["threshold"]
    below = (distance.min(axis=1) < threshold).mean()
    assert _metric(at, "Generated faces closer than the same-person distance") == f"{100 * below:.1f}%"
    real = _faces_16(pixels[real_rows]).reshape(len(real_rows), -1) / scale
    real_distance = np.sqrt(((real[:, None, :] - train[None, :, :]) ** 2).sum(-1))
    real_distance[np.arange(len(real_rows)), np.searchsorted(rows, real_rows)] = np.inf  # its own photo
    assert _metric(at, "Real faces closer than it") == f"{100 * (real_distance.min(axis=1) < threshold).mean():.1f}%"
    assert _metric(at, "Same-person distance") == f"{threshold:.3f}"

    # Amplification: the classifier's verdicts on the stored samples, and the labels of the training faces.
    text = _text(at)
    resized = np.stack([np.asarray(Image.fromarray(f).resize((64, 64), Image.Resampling.BILINEAR)) for f in samples])
    fresh = classifier.predict(resized)
    for j, p in enumerate(summary["prevalence"]):
        attribute = p["attribute"]
        column = classifier.attributes.index(attribute)
        assert np.allclose(fresh[:, column], probabilities[:, j], atol=1e-5)
        generated_share = (probabilities[:, j] >= gen_env.classifier.threshold(attribute)).mean()
        real_share = ds.attribute_matrix(rows)[:, ds.attributes.index(attribute)].mean()
        assert f"{attribute}: {100 * generated_share:.1f}% of generated faces" in text, text
        assert f"vs {100 * real_share:.1f}% of the training faces" in text
    assert [p["attribute"] for p in summary["prevalence"]] == list(SCORED)

    # Diversity: the identities of those nearest training faces.
    identity = ds.table["identity"].to_numpy()
    people = len(set(identity[rows[distance.argmin(axis=1)]]))
    assert _metric(at, "People among generated faces") == f"{people:,}"


def test_the_view_round_trips_through_the_url(gen_env):
    meta = gen_env.generator
    with private_cache(gen_env.cache):
        at = _page(gan=meta.generator_id)
        at.number_input(key="gen-seed").set_value(7).run()
        at.slider(key="gen-epoch").set_value(1).run()
        at.number_input(key="gen-from").set_value(3).run()
        at.number_input(key="gen-to").set_value(9).run()
        at.select_slider(key="gen-px").set_value(32).run()
        assert not at.exception, at.exception
        params = dict(at.query_params)
        assert params == {
            "dataset": "demo",
            "gan": meta.generator_id,
            "seed": "7",
            "epoch": "1",
            "from": "3",
            "to": "9",
            "px": "32",
        }
        assert "From face 3 to face 9 of seed 7, in 8 steps" in _image_captions(at)
        assert "The same 64 noise vectors after epoch 1 of 2" in _image_captions(at)
        again = _page(**{k: v for k, v in params.items() if k != "dataset"})
        assert dict(again.query_params) == params
        assert again.number_input(key="gen-seed").value == 7 and again.slider(key="gen-epoch").value == 1
        garbled = _page(gan=meta.generator_id, seed="-4", epoch="99", to="x")
        assert garbled.number_input(key="gen-seed").value == 0 and garbled.slider(key="gen-epoch").value == 2
        assert not {"seed", "epoch", "to"} & set(garbled.query_params)


def test_a_conditional_generator_is_asked_for_attributes(gen_env):
    ds = gen_env.ds
    config = GanConfig(image_size=16, attributes=("Male", "Eyeglasses"), width=8, batch_size=32)
    with private_cache(gen_env.cache):
        meta = train_generator(ds, config, 1).meta
        net = store.load_generator(meta)
        labels = ds.attribute_matrix(store.load_rows(meta))[:, [ds.attributes.index("Male")]]
        asked = asked_conditions(np.hstack([labels, labels]), 64, seed=3, asked={1: 1})
        assert asked[:, 1].all() and np.array_equal(asked[:, 0], asked_conditions(labels, 64, 3, {})[:, 0])
        off, on = switch_attribute(net, config.latent_dim, 3, asked, column=0)
        assert off.shape == on.shape == (8, 16, 16, 3) and not np.array_equal(off, on)
        assert np.array_equal(seed_faces(net, config.latent_dim, 3, asked, 8), seed_faces(net, 100, 3, asked)[:8])
        at = _page(gan=meta.generator_id, ask="Male:0,Eyeglasses:1", switch="Eyeglasses")
        groups = {g.proto.label: g.value for g in at.get("button_group")}
        assert groups == {"Male": ["no"], "Eyeglasses": ["yes"]} or groups == {"Male": "no", "Eyeglasses": "yes"}
        assert at.query_params["ask"] in ("Male:0,Eyeglasses:1", ["Male:0,Eyeglasses:1"])
        assert "Top: not Eyeglasses. Bottom: Eyeglasses." in _image_captions(at)
        assert any("has not been measured yet" in i.value for i in at.info)  # and the button that measures it
        assert "Measure the generator" in [b.label for b in at.button]


def test_a_dataset_without_images_says_why(gen_env):
    with private_cache(gen_env.cache):
        at = _page(dataset="annotations_only")
    assert any("has no image files, so there is nothing to generate from" in i.value for i in at.info)
    assert "Train the generator" not in [b.label for b in at.button]


def test_a_dataset_smaller_than_a_batch_says_so(people_home):
    at = _page(dataset="people")
    assert any("people has 6 images: a generator learns from batches of 64 faces" in i.value for i in at.info)
    assert "Train the generator" not in [b.label for b in at.button]


def test_no_generator_yet_offers_to_train_one(gen_env, tmp_path):
    with private_cache(tmp_path / "cache"):
        at = _page()
        assert any("No generator has been trained on demo yet" in i.value for i in at.info)
        button = next(b for b in at.button if b.label == "Train the generator")
        assert "Takes about" in button.help
        assert any("8 epochs on up to 400 faces take about" in c.value for c in at.caption)


# ---- the lesson


def test_the_lessons_answers_are_the_pages_figures(gen_env):
    lesson = lesson_by_id("generator")
    with private_cache(gen_env.cache):
        data = LessonData(gen_env.ds, generators=lambda ds: [gen_env.generator])
        for k, step in enumerate(lesson.steps):
            answer = step.answer(data)
            assert answer.available, (k, answer)
            params = step.params(data)
            assert params["gan"] == gen_env.generator.generator_id
            at = _page(**params)
            for figure in answer.figures:
                if figure.shown == "metric":
                    assert _metric(at, figure.label) == figure.value, (k, figure)
                else:
                    assert figure.value in _text(at), (k, figure)
        assert at.slider(key="gen-epoch").value == 2
        first = _page(**lesson.steps[0].params(data))
        assert first.slider(key="gen-epoch").value == 1


def test_the_lesson_says_what_a_dataset_lacks(gen_env, demo_home):
    lesson = lesson_by_id("generator")
    with private_cache(gen_env.cache):
        none_yet = LessonData(gen_env.ds, generators=lambda ds: [])
        assert {s.answer(none_yet).missing for s in lesson.steps} == {"generator"}
        assert all(s.params(none_yet) == {} for s in lesson.steps)
        unmeasured = LessonData(gen_env.ds, generators=lambda ds: [gen_env.generator], audits=lambda meta: None)
        assert "measure it" in lesson.steps[1].answer(unmeasured).text
        annotations = open_dataset(demo_home / "data" / "annotations_only", name="annotations_only")
        assert {s.answer(LessonData(annotations)).missing for s in lesson.steps} == {"images"}


@pytest.mark.slow  # finds and aligns the faces of 24 real photos with dlib first
def test_a_folder_of_real_photos_trains_on_its_aligned_faces(tmp_path):
    import shutil

    from tests.support import WILD_SAMPLE

    if not WILD_SAMPLE.exists():
        pytest.skip("../shared/real/celeba_wild_sample is not here")
    lines = (WILD_SAMPLE / "identity.txt").read_text().splitlines()
    folder = tmp_path / "data" / "wild"
    folder.mkdir(parents=True)
    for line in lines[1:25]:
        shutil.copy(WILD_SAMPLE / line.split()[0], folder / line.split()[0])
    (folder / "identity.txt").write_text("\n".join(lines[:25]) + "\n")
    with private_cache(tmp_path / "cache"):
        ds = open_dataset(folder, name="wild")
        assert not ds.aligned and ds.n_images == 24
        meta = train_generator(ds, GanConfig(image_size=16, width=8, batch_size=8), 1).meta
        assert load_pixel_cache(ds, 64) is None  # photos are not cut as aligned crops: their faces are aligned first
        assert 16 <= meta.faces <= 24
        audit = audit_generator(ds, meta, 16)
        assert audit.copying.space == "pixels" and audit.copying.generated == 16
