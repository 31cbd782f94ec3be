"""`python -m core sprites DATASET [--size 32] [--workers N] [--json]`: the map's face thumbnails (sprite atlas).

Every image is decoded once into a small face (core/data/sprites.py), by every core; run it again after an
interruption and it continues where it stopped.
"""

from __future__ import annotations

import json
import time

from core import format as fmt
from core.cluster.sprite_job import build_atlas
from core.data.dataset import Dataset
from core.data.ingest import open_dataset
from core.data.sprites import SPRITE_SIZES
from core.jobs import JobSpec, ProgressReporter, dataset_job_spec

COMMAND = "sprites"
HELP = "Decode every image once into small face thumbnails for the Clustering page's map of faces."


def sprites_job_spec(ds: Dataset, size: int = SPRITE_SIZES[0]) -> JobSpec:
    """The background job that builds the dataset's sprite atlas of `size` px (one per image files and size)."""
    return dataset_job_spec(COMMAND, ds, "--size", str(size))


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument("--name", default=None, help="name to show for the dataset")
    parser.add_argument("--size", type=int, choices=SPRITE_SIZES, default=SPRITE_SIZES[0], help="pixels per face")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: every core)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    t0 = time.perf_counter()
    ds = open_dataset(args.dataset, name=args.name)
    reporter = ProgressReporter(args.progress_file, total=ds.n_images)
    began, first = time.time(), []

    def progress(done: int, total: int) -> None:
        if not first:  # a resumed build: the rate counts this run's faces only
            first.append(done)
        rate = (done - first[0]) / max(time.time() - began, 1e-9)
        left = (total - done) / rate if rate else None
        reporter.update(done, f"{fmt.count(done)} / {fmt.count(total)} faces", total=total, left_s=left)

    atlas = build_atlas(ds, args.size, args.workers, progress)
    result = {
        "dataset": ds.name,
        "size": atlas.size,
        "faces": int(atlas.ok.sum()),
        "unreadable": int((~atlas.ok).sum()),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    reporter.finish(result, f"{fmt.count(result['faces'])} faces")
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{ds.name}: {fmt.count(result['faces'])} face thumbnails of {atlas.size} px in "
            f"{fmt.duration(result['seconds'])}"
            + (f"; {fmt.count(result['unreadable'])} images could not be read" if result["unreadable"] else "")
        )
    return 0
