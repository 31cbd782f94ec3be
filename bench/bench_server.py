"""One shared server doing real work: memory after tours of every page, concurrent uploads, and page times of
10 sessions working at once while a background job runs.

A local `streamlit run Home.py` serves the default demo with its real face embeddings (and one trained
classifier). A *tour* is one browser session (a Chromium context) that opens every page and does on each what a
student would: Dataset adds a donut, Relations picks a pair, Classifiers opens its model and uploads a photo to
try it, Clustering switches the algorithm, Face search uploads a photo and gets its look-alikes.

Scenarios, each on a fresh server (memory is the VmRSS of the server process; tree peak includes children):
- one tour: server RSS after it (target < 1 GB);
- ten tours at once: RSS after them (target < 1.5 GB), and each page's time, median / 95th percentile;
- the same ten tours while an embedding job of another dataset runs (a job through core.jobs);
- four sessions uploading four different face-less 1024x1024 PNGs to Face search at once (the CNN rescue's
  worst case): peak RSS, and the time until all four answered.

    python -m bench.bench_server [--images 6000] [--tours 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.bench_load import PAGE_TIMEOUT_S, MemoryWatch, rss_mb, settle
from bench.common import fmt_s, table, write_section
from core.classify.models import TrainConfig
from core.classify.train import train_attribute_model
from core.cli.embed import embed_job_spec
from core.data.ingest import open_dataset
from core.demo import DEFAULT_IMAGES, generate_demo
from core.faces.embed_job import embed_dataset
from core.jobs import cancel_job, start_job
from tests.browser_support import CHROMIUM, launch_chromium, start_server, stop_server

SLOW = True
VIEWPORT = {"width": 1366, "height": 900}


async def open_page(page, url: str, title: str) -> float:
    t0 = time.perf_counter()
    await page.goto(url, wait_until="domcontentloaded")
    return await settle(page, t0, title)


async def act(page, action, title: str) -> float:
    t0 = time.perf_counter()
    await action()
    return await settle(page, t0, title)


async def new_context(browser):
    """A browser session that waits as long as a page may take on a crowded server (Playwright's 30 s is short)."""
    context = await browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_S * 1000)
    context.set_default_navigation_timeout(PAGE_TIMEOUT_S * 1000)
    return context


async def tour(browser, base: str, photo: Path, times: dict[str, list[float]], errors: list[str]) -> None:
    """One student through every page, doing one real thing on each."""
    context = await new_context(browser)
    page = await context.new_page()

    def widget(key: str):
        return page.locator(f".st-key-{key}")

    async def pick(key: str, option: str) -> None:
        await widget(key).locator("input").first.click()
        await page.get_by_role("option", name=option, exact=True).click()

    async def upload(key: str) -> None:
        await widget(key).locator('input[type="file"]').set_input_files(str(photo))

    steps = [
        ("Home", "", "FaceAtlas", None),
        ("Dataset", "Dataset", "Dataset", None),
        ("Attribute relations", "Attribute_relations", "Attribute relations", None),
        ("Attribute classifiers", "Attribute_classifiers", "Attribute classifiers", lambda: upload("clf-photo")),
        ("Clustering", "Clustering", "Clustering", lambda: pick("cl-algo", "k-means")),
        ("Face search", "Face_search", "Face search", lambda: upload("fs-upload")),
    ]
    try:
        for label, path, title, action in steps:
            times.setdefault(label, []).append(await open_page(page, f"{base}/{path}?dataset=demo", title))
            if action is not None:
                times.setdefault(f"{label}: action", []).append(await act(page, action, title))
            shown = await page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count()
            if shown:
                errors.append(f"{label}: {shown} error boxes")
    except Exception as exc:  # a failed session is reported, not fatal for the others
        errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    finally:
        await context.close()


async def uploads(browser, base: str, photos: list[Path], times: list[float], errors: list[str]) -> None:
    """Sessions each uploading one photo to Face search at the same moment."""

    async def one(photo: Path) -> None:
        context = await new_context(browser)
        page = await context.new_page()
        try:
            await open_page(page, f"{base}/Face_search?dataset=demo", "Face search")
            t0 = time.perf_counter()
            await page.locator(".st-key-fs-upload").locator('input[type="file"]').set_input_files(str(photo))
            times.append(await settle(page, t0, "Face search"))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        finally:
            await context.close()

    await asyncio.gather(*(one(p) for p in photos))


async def run_tours(base: str, n: int, photo: Path) -> tuple[dict[str, list[float]], list[str], float]:
    from playwright.async_api import async_playwright

    times: dict[str, list[float]] = {}
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await launch_chromium(pw.chromium)
        t0 = time.perf_counter()
        await asyncio.gather(*(tour(browser, base, photo, times, errors) for _ in range(n)))
        wall = time.perf_counter() - t0
        await browser.close()
    return times, errors, wall


async def run_uploads(base: str, photos: list[Path]) -> tuple[list[float], list[str], float]:
    from playwright.async_api import async_playwright

    times: list[float] = []
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await launch_chromium(pw.chromium)
        t0 = time.perf_counter()
        await uploads(browser, base, photos, times, errors)
        wall = time.perf_counter() - t0
        await browser.close()
    return times, errors, wall


def faceless_pngs(folder: Path, n: int = 4) -> list[Path]:
    """Different 1024x1024 PNGs without a face (noise): detection falls through to the CNN rescue."""
    rng = np.random.default_rng(7)
    paths = []
    for k in range(n):
        path = folder / f"wall-{k}.png"
        Image.fromarray((rng.random((1024, 1024, 3)) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def p50_p95(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{fmt_s(statistics.median(values))} / {fmt_s(float(np.percentile(values, 95)))}"


def prepare(home: Path, images: int) -> tuple[Path, Path]:
    """The demo with real embeddings and one trained classifier; a second dataset for the background job."""
    generate_demo(home / "data" / "demo", n_images=images, seed=0)
    ds = open_dataset(home / "data" / "demo", name="demo")
    t0 = time.perf_counter()
    embed_dataset(ds, workers=os.cpu_count())
    print(f"demo embedded in {time.perf_counter() - t0:.0f}s", flush=True)
    train_attribute_model(ds, TrainConfig(model="logreg", attributes=("Male", "Smiling", "Eyeglasses", "Bald")))
    other = home / "data" / "other"
    shutil.copytree(home / "data" / "demo", other)  # the same images under another name: a real embedding job
    (other / "FACEATLAS_DEMO.json").unlink()
    photo = ds.image_path(ds.table["image_id"][3])
    return photo, other


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES)
    parser.add_argument("--tours", type=int, default=10)
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"chromium not found at {CHROMIUM}", file=sys.stderr)
        return 1
    rows, times_rows, notes = [], [], []
    with tempfile.TemporaryDirectory(prefix="faceatlas-server-") as tmp:
        home = Path(tmp)
        os.environ.update(FACEATLAS_HOME=str(home), FACEATLAS_CACHE=str(home / "cache"), FACEATLAS_AUTO_EMBED="0")
        photo, other = prepare(home, args.images)
        load0 = os.getloadavg()[0]

        def fresh(label: str):
            return start_server(home, home / "logs" / f"{label}.log")

        # one tour
        proc, base = fresh("one")
        try:
            idle = rss_mb(proc.pid)
            times, errors, wall = asyncio.run(run_tours(base, 1, photo))
            rows.append(["1 tour", f"{idle:.0f} MB", f"{rss_mb(proc.pid):.0f} MB", "–", fmt_s(wall), len(errors)])
            times_rows.append(("1 tour", times))
            notes += errors
        finally:
            stop_server(proc)
        # ten tours, then ten tours with a job running
        for label, with_job in ((f"{args.tours} tours", False), (f"{args.tours} tours + embedding job", True)):
            proc, base = fresh(label.replace(" ", "_"))
            job_id = None
            try:
                idle = rss_mb(proc.pid)
                watch = MemoryWatch(proc.pid)
                watch.start()
                if with_job:
                    other_ds = open_dataset(other, name="other")
                    job = embed_job_spec(other_ds)
                    job_id = start_job(job.kind, list(job.argv))
                times, errors, wall = asyncio.run(run_tours(base, args.tours, photo))
                after = rss_mb(proc.pid)
                peak = watch.stop()
                rows.append([label, f"{idle:.0f} MB", f"{after:.0f} MB", f"{peak:.0f} MB", fmt_s(wall), len(errors)])
                times_rows.append((label, times))
                notes += errors
            finally:
                if job_id:
                    cancel_job(job_id)
                stop_server(proc)
        # four concurrent face-less uploads
        proc, base = fresh("uploads")
        try:
            idle = rss_mb(proc.pid)
            watch = MemoryWatch(proc.pid)
            watch.start()
            upload_times, errors, wall = asyncio.run(run_uploads(base, faceless_pngs(home)))
            peak = watch.stop()
            alive = proc.poll() is None
            rows.append(["4 face-less 1024² uploads at once", f"{idle:.0f} MB", f"{rss_mb(proc.pid):.0f} MB",
                         f"{peak:.0f} MB", fmt_s(wall), len(errors)])  # fmt: skip
            notes += errors + ([] if alive else ["the server died during the uploads"])
        finally:
            stop_server(proc)
    labels = sorted({k for _, t in times_rows for k in t}, key=lambda k: (k.split(":")[0], k))
    page_rows = [[k] + [p50_p95(t.get(k, [])) for _, t in times_rows] for k in labels]
    body = [
        __doc__.split("\n\n", 2)[1],
        "",
        table(["Scenario", "Server RSS idle", "Server RSS after", "Peak RSS (tree)", "Wall", "Errors"], rows),
        "",
        "Page and action times, median / 95th percentile (the browser runs on the same 2 cores):",
        "",
        table(["Page / action"] + [label for label, _ in times_rows], page_rows),
        "",
        f"Upload answers (4 at once): {', '.join(fmt_s(t) for t in sorted(upload_times))}. "
        f"Load average at the start: {load0:.1f} on {os.cpu_count()} cores; demo of {args.images:,} images.",
    ]
    if notes:
        body += ["", "Errors seen:", "", *[f"- {n}" for n in sorted(set(notes))[:20]]]
    write_section("server", "A shared server doing real work", "\n".join(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
