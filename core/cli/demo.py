"""`python -m core demo [--images N] [--seed S] [--out DIR] [--if-missing]`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from core.demo import DEFAULT_IMAGES, demo_exists, generate_demo
from core.paths import demo_dir

COMMAND = "demo"
HELP = "Draw the synthetic demo dataset (CelebA layout) into data/demo/."


def add_arguments(parser) -> None:
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES, help="number of images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default data/demo)")
    parser.add_argument("--if-missing", action="store_true", help="do nothing when the demo already exists")


def run(args) -> int:
    out = args.out or demo_dir()
    if args.if_missing and demo_exists(out):
        print(f"demo dataset present in {out}")
        return 0
    t0 = time.perf_counter()

    def show(done: int, total: int) -> None:
        print(f"\rdrawing faces {done}/{total}", end="", file=sys.stderr, flush=True)

    generate_demo(out, n_images=args.images, seed=args.seed, progress=show)
    print(f"\ndemo dataset: {args.images} images in {out} ({time.perf_counter() - t0:.1f}s)")
    return 0
