"""Generated faces (issue 32): the default DCGAN and the seed's ten-epoch recipe on the 6,000-face demo at 64 px.

    python -m bench.bench_generate [--demo PATH] [--skip-seed] [--skip-wild]

For each recipe, trained the same way in this process (core.generate.train, one torch thread on 2 cores): seconds
per epoch, wall and CPU time of the whole training with the load average beside it, D(real) and D(fake) over the
last epoch, and the audit the page shows (copying in dlib's embedding against the demo's calibrated same-person
distance, the prevalence of Male, Smiling, Eyeglasses, Blond_Hair and Wearing_Hat among 1,000 generated faces scored
by the CNN the page offers, beside the labels and beside real faces scored the same way, the identities they fall
into). The grids land in docs/bench/generate-*.jpg. Then the same pipeline on ../shared/real/celeba_wild_sample (a
folder of real photos: faces found and aligned first) at 32 px.

Everything lives in a private cache (cache/bench-generate/), so nothing stored earlier by the app helps; a rerun
reuses what this bench stored there (a trained generator is not trained again: its timings are the recorded ones).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import PROJECT, SECTIONS, SHARED, fmt_s, table, write_section
from tests.cache_support import private_cache

SLOW = True
CACHE = PROJECT / "cache" / "bench-generate"
FIVE = ("Male", "Smiling", "Eyeglasses", "Blond_Hair", "Wearing_Hat")
MEASURED = CACHE / "measured.json"  # CPU time and load of trainings done by earlier runs of this bench
WILD = SHARED / "real" / "celeba_wild_sample"


@dataclass(frozen=True)
class Recipe:
    name: str
    label: str
    width: int
    batch_size: int
    epochs: int
    image_size: int = 64


def recipes():
    from core.generate.models import DEFAULT_EPOCHS, SEED_RECIPE, GanConfig

    default = GanConfig()
    return [
        Recipe("default", "FaceAtlas default", default.width, default.batch_size, DEFAULT_EPOCHS),
        Recipe("seed", "seed's recipe", SEED_RECIPE["width"], SEED_RECIPE["batch_size"], SEED_RECIPE["epochs"]),
    ]


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measured() -> dict:
    try:
        return json.loads(MEASURED.read_text())
    except (OSError, ValueError):
        return {}


def _remember(key: str, value: dict) -> None:
    MEASURED.write_text(json.dumps(_measured() | {key: value}, indent=2))


def prepare(ds) -> list[str]:
    """The demo's dlib embeddings and the offered CNN, made here once; lines saying what it took."""
    from core.classify.train import train_attribute_model
    from core.data.embeddings import list_embeddings
    from core.generate.audit import classifier_config, scoring_models

    notes = list(_measured().get("prepare", []))
    if "dlib" not in list_embeddings(ds):
        t0 = time.perf_counter()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        subprocess.run([sys.executable, "-m", "core", "embed", str(ds.root), "--name", ds.name], check=True, env=env)
        notes.append(f"dlib embeddings of the demo computed in {fmt_s(time.perf_counter() - t0)}")
    if not set(FIVE) <= set(scoring_models(ds, "embeddings")):
        t0 = time.perf_counter()
        meta = train_attribute_model(ds, classifier_config(ds))
        notes.append(f"the offered CNN ({meta.model_id}) trained in {fmt_s(time.perf_counter() - t0)}")
    _remember("prepare", notes)
    return notes


def train(ds, recipe: Recipe):
    """(TrainingRun, audit, measured dict) of one recipe, trained (or found) and measured."""
    from core.generate.audit import audit_generator, audit_token, load_audit
    from core.generate.models import GanConfig
    from core.generate.train import train_generator

    config = GanConfig(image_size=recipe.image_size, width=recipe.width, batch_size=recipe.batch_size)
    before, cpu0, t0 = load(), cpu_seconds(), time.perf_counter()
    run = train_generator(ds, config, recipe.epochs)
    if run.resumed_from < recipe.epochs:
        measured = {
            "wall": time.perf_counter() - t0,
            "cpu": cpu_seconds() - cpu0,
            "load_before": before,
            "load_after": load(),
            "resumed_from": run.resumed_from,
        }
        _remember(run.meta.generator_id, measured)
    stored = load_audit(run.meta)
    fresh = stored is None or stored[0].token != audit_token(ds, run.meta)
    before = load()
    audit = audit_generator(ds, run.meta)
    if fresh:
        _remember(f"{run.meta.generator_id}:audit", {"audit_load": f"{before} → {load()}"})
    measured = _measured()
    return run, audit, measured.get(run.meta.generator_id, {}) | measured.get(f"{run.meta.generator_id}:audit", {})


def save_pictures(meta, name: str) -> tuple[str, str]:
    """The last epoch's grid and the first 8 faces of every epoch, as JPEGs in docs/bench/ (noisy faces make large
    PNGs)."""
    from core.generate.sample import enlarge, tile
    from core.generate.store import load_grids

    grids = load_grids(meta)
    factor = max(1, 512 // (8 * (grids.shape[2] + 1)))
    last = f"generate-{name}.jpg"
    evolution = f"generate-{name}-epochs.jpg"
    Image.fromarray(enlarge(tile(grids[-1]), factor)).save(SECTIONS / last, quality=90)
    sheet = enlarge(tile(grids[:, :8].reshape(-1, *grids.shape[2:])), factor)
    Image.fromarray(sheet).save(SECTIONS / evolution, quality=90)
    return last, evolution


def recipe_rows(results) -> list[list]:
    """One row per recipe: its training figures."""
    rows = []
    for recipe, run, _, measured in results:
        meta = run.meta
        seconds = [e.seconds for e in meta.epochs]
        last = meta.last_epoch
        within = "yes" if 0.1 <= last.d_fake <= 0.9 else "no"
        cpu = fmt_s(measured["cpu"]) if "cpu" in measured else "–"
        rows.append(
            [
                recipe.label,
                f"width {recipe.width}, batch {recipe.batch_size}",
                meta.epochs_done,
                f"{meta.steps_per_epoch * meta.epochs_done:,}",
                fmt_s(float(np.median(seconds))),
                fmt_s(meta.seconds),
                cpu,
                f"{measured.get('load_before', '–')} → {measured.get('load_after', '–')}",
                f"{last.d_real:.3f}",
                f"{last.d_fake:.3f} ({within})",
            ]
        )
    return rows


def comparison(results) -> str:
    """One sentence: the default against the seed's recipe (time per epoch, in all, D(fake) in range)."""
    if len(results) < 2:
        return ""
    (_, default, _, _), (_, seed, _, _) = results[:2]
    per_epoch = np.median([e.seconds for e in seed.meta.epochs]) / np.median([e.seconds for e in default.meta.epochs])
    verdict = {True: "within 0.1-0.9", False: "outside 0.1-0.9"}
    return (
        f"The default takes {per_epoch:.1f}x less time per epoch than the seed's recipe and "
        f"{seed.meta.seconds / default.meta.seconds:.1f}x less in all (on a machine whose load moved between the two "
        f"runs: compare the CPU column too); D(fake) over the last epoch is "
        f"{verdict[0.1 <= default.meta.last_epoch.d_fake <= 0.9]} for the default and "
        f"{verdict[0.1 <= seed.meta.last_epoch.d_fake <= 0.9]} for the seed's recipe."
    )


def audit_rows(results) -> list[list]:
    rows = []
    for recipe, _, audit, measured in results:
        c, d = audit.copying, audit.diversity
        rows.append(
            [
                recipe.label,
                f"{c.generated_below:,} of {c.generated:,} ({c.share_below:.1%})",
                f"{c.real_below:,} of {c.real:,} ({c.real_share_below:.1%})",
                f"{c.threshold:.3f} ({c.source})",
                f"{d.generated:,}" if d.generated is not None else "–",
                f"{d.real:,}" if d.real is not None else "–",
                f"{fmt_s(audit.seconds)} (load {measured.get('audit_load', 'not recorded')})",
            ]
        )
    return rows


def prevalence_rows(results) -> list[list]:
    rows = []
    for attribute in FIVE:
        found = [audit.prevalence_of(attribute) for _, _, audit, _ in results]
        first = next((p for p in found if p is not None), None)
        row = [attribute, f"{first.real_share:.1%}" if first else "–"]
        row.append(f"{first.balanced_accuracy:.3f}" if first else "–")
        for p in found:
            row += [f"{p.generated_share:.1%}", f"{p.scored_real / p.scored_real_n:.1%}"] if p else ["–", "–"]
        rows.append(row)
    return rows


def wild_check() -> tuple[str, str | None]:
    """The pipeline on a folder of real photos (faces aligned first) at 32 px; (markdown, picture name)."""
    from core import format as fmt
    from core.data.ingest import open_dataset
    from core.generate.audit import audit_generator
    from core.generate.faces import face_pixels
    from core.generate.models import GanConfig
    from core.generate.train import train_generator

    if not WILD.is_dir():
        return "../shared/real/celeba_wild_sample is not here: skipped.", None
    ds = open_dataset(WILD, name="celeba_wild_sample")
    t0 = time.perf_counter()
    _, ok = face_pixels(ds)
    aligned = time.perf_counter() - t0
    config = GanConfig(image_size=32, batch_size=32)
    before, t0 = load(), time.perf_counter()
    run = train_generator(ds, config, 20)
    if run.resumed_from == 0:  # trained now: the first alignment and the training are this run's
        _remember("wild", {"aligned_seconds": aligned, "train_seconds": time.perf_counter() - t0, "load": before})
    first = _measured().get("wild", {})
    audit = audit_generator(ds, run.meta)
    _, picture = save_pictures(run.meta, "wild")
    c = audit.copying
    text = (
        f"{ds.n_images:,} photos of {ds.n_identities} people: a face found and aligned in {int(ok.sum()):,} of them "
        f"({fmt_s(first.get('aligned_seconds', aligned))}, HOG only). A 32 px generator (width {config.width}, "
        f"batch {config.batch_size}) trained {run.meta.epochs_done} epochs in {fmt_s(run.meta.seconds)} (load "
        f"{first.get('load', before)}); D(fake) over the last epoch {run.meta.last_epoch.d_fake:.3f}. "
        f"Audit in pixels (no embeddings computed for this folder): {fmt.percent(c.share_below)} of generated "
        f"faces closer than the same-person distance {fmt.decimal(c.threshold, 3)} ({c.source}, ROC AUC "
        f"{fmt.decimal(c.auc, 3)}), real faces {fmt.percent(c.real_share_below)}; {audit.diversity.generated} people "
        f"among generated faces, {audit.diversity.real} among real ones. First 8 faces of every epoch: "
        f"![wild by epoch]({picture})."
    )
    return text, picture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=PROJECT / "data" / "demo")
    parser.add_argument("--skip-seed", action="store_true", help="leave out the seed's recipe (about an hour)")
    parser.add_argument("--skip-wild", action="store_true")
    args = parser.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    with private_cache(CACHE / "cache"):
        from core.data.ingest import open_dataset
        from core.demo import DEMO_VERSION, demo_exists, generate_demo

        if not demo_exists(args.demo):
            generate_demo(args.demo, n_images=6000, seed=0)
        ds = open_dataset(args.demo, name="demo")
        notes = prepare(ds)
        chosen = [r for r in recipes() if not (args.skip_seed and r.name == "seed")]
        results = []
        for recipe in chosen:
            print(f"training {recipe.label} (load {load()})", flush=True)
            run, audit, measured = train(ds, recipe)
            save_pictures(run.meta, recipe.name)
            results.append((recipe, run, audit, measured))
        wild_text = "Skipped." if args.skip_wild else wild_check()[0]
    body = [
        f"The default demo (version {DEMO_VERSION}: {ds.n_images:,} drawn faces, seed 0), 64 px, trained in this "
        "process on one torch thread "
        f"(2 cores, shared with other work: the load average is beside each figure). "
        + ("Made once for it: " + "; ".join(notes) + "." if notes else ""),
        "",
        "### Training",
        "",
        table(
            [
                "recipe",
                "networks",
                "epochs",
                "steps",
                "per epoch (median)",
                "training (wall)",
                "CPU",
                "load before → after",
                "D(real), last epoch",
                "D(fake), last epoch (0.1-0.9?)",
            ],
            recipe_rows(results),
        ),
        "",
        comparison(results),
        "",
        "Faces after the last epoch (left) and the first 8 faces of every epoch, from epoch 0 at the top (right):",
        "",
        *[
            f"- {recipe.label}: ![{recipe.name}](generate-{recipe.name}.jpg) "
            f"![{recipe.name} by epoch](generate-{recipe.name}-epochs.jpg)"
            for recipe, *_ in results
        ],
        "",
        "### What it copies and how many people",
        "",
        "1,000 generated faces and 1,000 real training faces cut to 64 px, each described by dlib's descriptor as the "
        "dataset's own faces were, against the nearest training face (a real face's own photo left out).",
        "",
        table(
            [
                "recipe",
                "generated closer than same-person",
                "real closer than same-person",
                "same-person distance",
                "people among generated",
                "people among real",
                "audit took",
            ],
            audit_rows(results),
        ),
        "",
        "### What it amplifies",
        "",
        "Share of faces with each attribute: the training labels, then per recipe the generated faces and real faces "
        "at 64 px, both scored by the page's offered CNN (64 px, at its own thresholds).",
        "",
        table(
            ["attribute", "training labels", "classifier's balanced accuracy"]
            + [h for recipe, *_ in results for h in (f"generated ({recipe.label})", f"real scored ({recipe.label})")],
            prevalence_rows(results),
        ),
        "",
        "### A folder of real photos",
        "",
        wild_text,
    ]
    write_section("generate", "Generated faces (DCGAN)", "\n".join(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
