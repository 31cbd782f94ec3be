"""`python -m core demo [--images N] [--identities K] [--name NAME | --out DIR] [--seed S] [--workers W] [--if-missing]`.

Draws the synthetic demo at any size: `--images 202599 --identities 10177 --name demo-celeba` is CelebA's size
and shape. Its labels are written first, then its faces are drawn by every core; rerun the same command after an
interruption and it continues where it stopped.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from core import format as fmt
from core.data.paths import demo_dir
from core.demo import DEFAULT_IMAGES, DrawingProgress, demo_exists, demo_size, generate_demo
from core.jobs import JobSpec, ProgressReporter

COMMAND = "demo"
HELP = "Draw the synthetic demo dataset (CelebA layout) into data/demo/, or data/NAME/ at any size."
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")
STAGE_TEXT = {"labels": "planning the labels", "images": "drawing faces", "done": "done"}


def demo_job_spec(out: Path, images: int | None = None, identities: int | None = None) -> JobSpec:
    """The background job that draws a demo into `out` (what the first visitor of a fresh deploy starts)."""
    argv = [COMMAND, "--out", str(out), "--images", str(images or demo_size())]
    if identities is not None:
        argv += ["--identities", str(identities)]
    return JobSpec("demo", (*argv, "--if-missing"))


def add_arguments(parser) -> None:
    parser.add_argument(
        "--images", type=int, default=None, help=f"number of images (default {fmt.count(DEFAULT_IMAGES)})"
    )
    parser.add_argument(
        "--identities",
        type=int,
        default=None,
        help="number of people, with CelebA's spread of images per person (default: one per 20 images, 5-40 each)",
    )
    parser.add_argument("--seed", type=int, default=0)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--name", default=None, help="draw into data/NAME (default data/demo)")
    where.add_argument("--out", type=Path, default=None, help="output folder (default data/demo)")
    parser.add_argument("--workers", type=int, default=None, help="drawing processes (default: every core)")
    parser.add_argument("--if-missing", action="store_true", help="do nothing when the demo already exists")


def _out(args) -> Path | None:
    if args.name is None:
        return args.out or demo_dir()
    return demo_dir().parent / args.name if NAME.match(args.name) else None


def progress_line(event: DrawingProgress) -> str:
    """'drawing faces 1,234 / 20,000 · 44.6/s · about 7 minutes left'."""
    if event.stage == "done":
        return f"done: {fmt.count(event.total)} faces"
    rate = f" · {fmt.decimal(event.rate, 1)}/s" if event.rate else ""
    counts = f" {fmt.count(event.done)} / {fmt.count(event.total)}" if event.stage == "images" else ""
    return f"{STAGE_TEXT[event.stage]}{counts}{rate} · {fmt.about(event.left_s)} left"


def run(args) -> int:
    out = _out(args)
    if out is None:
        print("--name takes letters, digits, '.', '_' and '-' (a folder under data/)", file=sys.stderr)
        return 2
    if args.if_missing and demo_exists(out):
        print(f"demo dataset present in {out}")
        return 0
    images = args.images or demo_size()
    if images < 1:
        print("--images must be at least 1", file=sys.stderr)
        return 2
    if args.identities is not None and not 1 <= args.identities <= images:
        print(f"--identities must be between 1 and the number of images ({images:,})", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    reporter = ProgressReporter(args.progress_file, total=images)

    last: list[DrawingProgress] = []

    def show(event: DrawingProgress) -> None:
        last[:] = [event]
        line = progress_line(event)
        print(f"\r{line}   ", end="", file=sys.stderr, flush=True)
        reporter.update(event.done, line, total=event.total, force=True, left_s=event.left_s)

    generate_demo(out, n_images=images, seed=args.seed, progress=show, workers=args.workers, identities=args.identities)
    seconds = time.perf_counter() - t0
    rate = last[0].rate if last else None
    reporter.finish({"path": str(out), "images": images, "seconds": round(seconds, 1), "faces_per_s": rate})
    drawn = f"; {fmt.decimal(rate, 1)} faces/s drawn" if rate else ""
    print(f"\ndemo dataset: {fmt.count(images)} images in {out} ({fmt.duration(seconds)}{drawn})")
    return 0
