"""`python -m core demo [--images N] [--seed S] [--out DIR] [--workers W] [--if-missing]`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from core import format as fmt
from core.data.paths import demo_dir
from core.demo import DEFAULT_IMAGES, demo_exists, demo_size, generate_demo
from core.jobs import JobSpec, ProgressReporter

COMMAND = "demo"
HELP = "Draw the synthetic demo dataset (CelebA layout) into data/demo/."


def demo_job_spec(out: Path, images: int | None = None) -> JobSpec:
    """The background job that draws the demo into `out` (what the first visitor of a fresh deploy starts)."""
    return JobSpec("demo", (COMMAND, "--out", str(out), "--images", str(images or demo_size()), "--if-missing"))


def add_arguments(parser) -> None:
    parser.add_argument(
        "--images", type=int, default=None, help=f"number of images (default {fmt.count(DEFAULT_IMAGES)})"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default data/demo)")
    parser.add_argument("--workers", type=int, default=None, help="drawing processes (default 2)")
    parser.add_argument("--if-missing", action="store_true", help="do nothing when the demo already exists")


def run(args) -> int:
    out = args.out or demo_dir()
    if args.if_missing and demo_exists(out):
        print(f"demo dataset present in {out}")
        return 0
    args.images = args.images or demo_size()
    if args.images < 1:
        print("--images must be at least 1", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    reporter = ProgressReporter(args.progress_file, total=args.images)

    def show(done: int, total: int) -> None:
        print(f"\rdrawing faces {done}/{total}", end="", file=sys.stderr, flush=True)
        reporter.update(done, f"drawing faces {fmt.count(done)}/{fmt.count(total)}", total=total)

    generate_demo(out, n_images=args.images, seed=args.seed, progress=show, workers=args.workers)
    seconds = time.perf_counter() - t0
    reporter.finish({"path": str(out), "images": args.images, "seconds": round(seconds, 1)})
    print(f"\ndemo dataset: {args.images} images in {out} ({fmt.duration(seconds)})")
    return 0
