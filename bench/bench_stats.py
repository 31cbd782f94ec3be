"""Attribute statistics at CelebA scale, and the Dataset / Attribute-relations pages on the demo.

Run: `python -m bench.bench_stats` (writes docs/bench/stats.md).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import PROJECT, fmt_s, table, timeit, write_section
from core.data.ingest import open_dataset
from core.demo import generate_demo
from core.stats import relations as stats

log = logging.getLogger(__name__)

CELEBA_ROWS = 202_599
N_ATTRIBUTES = 40
DEMO_IMAGES = 6000


def celeba_sized_matrix(seed: int = 0) -> np.ndarray:
    """(202,599, 40) uint8 with CelebA-like spread of prevalences and correlated attributes."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((CELEBA_ROWS, 6)).astype(np.float32)
    loadings = rng.normal(0, 0.8, (6, N_ATTRIBUTES)).astype(np.float32)
    scores = latent @ loadings + rng.standard_normal((CELEBA_ROWS, N_ATTRIBUTES)).astype(np.float32)
    thresholds = np.quantile(scores, 1 - rng.uniform(0.01, 0.85, N_ATTRIBUTES), axis=0).diagonal()
    return (scores > thresholds).astype(np.uint8)


def core_work(X: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rel = stats.relation_stats(X, names)
    return rel.prevalence, rel.conditional, rel.phi


def pandas_loop(df: pd.DataFrame) -> np.ndarray:
    """The per-pair filtering baseline: for A, for B: df[df[B] == 1][A].mean()."""
    cols = list(df.columns)
    out = np.empty((len(cols), len(cols)))
    for i, a in enumerate(cols):
        for j, b in enumerate(cols):
            out[i, j] = df[df[b] == 1][a].mean()
    return out


def best_of(fn, repeat: int = 7) -> float:
    """Fastest of `repeat` runs (the figure least disturbed by other processes on a shared machine)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def core_section() -> str:
    X = celeba_sized_matrix()
    names = tuple(f"attr{k:02d}" for k in range(N_ATTRIBUTES))
    fast, (_prev, cond, _phi) = timeit(lambda: core_work(X, names), repeat=7)
    fastest = best_of(lambda: core_work(X, names))
    df = pd.DataFrame(X, columns=names)
    slow, loop_cond = timeit(lambda: pandas_loop(df), repeat=1, warmup=0)
    np.testing.assert_allclose(cond, loop_cond, rtol=1e-12)
    blas_s, _ = timeit(lambda: stats.cooccurrence_blas(X), repeat=7)
    int64_s, _ = timeit(lambda: X.astype(np.int64).T @ X.astype(np.int64), repeat=1, warmup=0)
    split = stats.model_split(
        np.where(np.arange(CELEBA_ROWS) % 10 < 8, "train", "test").astype(object), np.full(CELEBA_ROWS, None, object)
    )
    models_s, models = timeit(lambda: stats.predict_all_attributes(X, names, split), repeat=1, warmup=0)
    rows = [
        [r"prevalence + 40x40 P(A\|B) + phi (core.stats.relations: bit-packed AND + popcount)", fmt_s(fast), "1x"],
        [r"same, fastest of 7 runs", fmt_s(fastest), ""],
        [
            r"co-occurrence alone via float32 BLAS X.T @ X (multi-threaded)",
            fmt_s(blas_s),
            f"{blas_s / fast:.0f}x slower",
        ],
        [r"co-occurrence alone via an int64 X.T @ X (no BLAS)", fmt_s(int64_s), f"{int64_s / fast:.0f}x slower"],
        [r"P(A\|B) by the per-pair pandas loop (1,600 filterings)", fmt_s(slow), f"{slow / fast:.0f}x slower"],
        [
            f"all 40 attribute-from-attributes models (train sample {stats.MODEL_TRAIN_CAP:,})",
            fmt_s(models_s),
            f"median test accuracy {models['accuracy'].median():.3f}",
        ],
    ]
    load = os.getloadavg()[0]
    return (
        f"Load average during the run: {load:.1f} on this shared machine (other jobs running).\n\n"
        f"Generated {CELEBA_ROWS:,} x {N_ATTRIBUTES} uint8 attribute table (correlated, prevalences 1-85 %). "
        f"Target: < 50 ms for prevalence + P(A|B) + phi; measured **{fmt_s(fast)}** (median; fastest run "
        f"{fmt_s(fastest)}), "
        f"**{slow / fast:.0f}x** faster than the pandas loop (results equal to 1e-12).\n\n"
        + table(["work", "time (median)", "vs core"], rows)
    )


def _timed_run(at) -> str:
    """Wall and CPU time of one AppTest run (CPU time counts every thread of this process only)."""
    t0, c0 = time.perf_counter(), time.process_time()
    at.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return f"{fmt_s(wall)} | {fmt_s(cpu)}"


def page_section() -> str:
    from streamlit.testing.v1 import AppTest

    home = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    os.environ["FACEATLAS_HOME"] = str(home)
    os.environ["FACEATLAS_CACHE"] = str(home / "cache")
    generate_demo(home / "data" / "demo", n_images=DEMO_IMAGES, seed=0)
    ds = open_dataset(home / "data" / "demo", name="demo")  # ingest once, as the app's first start does
    busiest = ds.table["identity"].value_counts(sort=True)["identity"][0]
    rows = []
    dataset = AppTest.from_file(str(PROJECT / "pages" / "1_Dataset.py"), default_timeout=120)
    rows.append(["Dataset", "first render (cold caches)", _timed_run(dataset)])
    dataset.multiselect(key="donut-attrs").set_value(["Bald", "Young", "Male", "Smiling"])
    rows.append(["Dataset", "pick donut attributes", _timed_run(dataset)])
    dataset.selectbox(key="identity").select(busiest)
    rows.append(["Dataset", "pick an identity", _timed_run(dataset)])
    dataset.multiselect(key="gallery-attrs").set_value(["Male"])
    rows.append(["Dataset", "gallery filter Male present", _timed_run(dataset)])
    relations = AppTest.from_file(str(PROJECT / "pages" / "2_Attribute_relations.py"), default_timeout=120)
    rows.append(["Attribute relations", "first render", _timed_run(relations)])
    relations.selectbox(key="pair_a").set_value("Smiling")
    rows.append(["Attribute relations", "change the pair", _timed_run(relations)])
    relations.button_group(key="measure").set_value("phi")
    rows.append(["Attribute relations", "heatmap measure phi (re-clustered)", _timed_run(relations)])
    relations.multiselect(key="rel-attrs").set_value(["Male"])
    rows.append(["Attribute relations", "condition on Male=1 (all figures + model recomputed)", _timed_run(relations)])
    relations.button(key="model-all").click()
    rows.append(["Attribute relations", "all 40 models button", _timed_run(relations)])
    return (
        f"Pages run through streamlit.testing AppTest (script run, no browser) on a {DEMO_IMAGES:,}-image demo "
        "(placeholder drawer). Targets: first render < 3 s, widget change < 0.5 s. On a machine shared with other "
        "jobs the wall time includes waiting for a core; the CPU time is the work itself.\n\n"
        + table(["page", "step", "wall time", "CPU time"], rows)
    )


def main() -> None:
    body = "### Core statistics at CelebA scale\n\n" + core_section()
    body += "\n\n### Pages\n\n" + page_section() + f"\n\nLoad average at the end: {os.getloadavg()[0]:.1f}."
    write_section("stats", "Attribute statistics (Dataset and Attribute-relations pages)", body)


if __name__ == "__main__":
    main()
