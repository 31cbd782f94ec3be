"""`python -m core embed DATASET [--workers N] [--backend dlib|torch] [--ray [ADDRESS]] [--json]`."""

from __future__ import annotations

import json
import os
import sys
import time

from core import format as fmt
from core.data.dataset import Dataset
from core.data.ingest import open_dataset
from core.faces.embed_job import DEFAULT_CHUNK, embed_dataset
from core.faces.pipeline import DEFAULT_BACKEND, DESCRIPTOR_BACKENDS, FaceConfig
from core.faces.ray_runner import RayTarget
from core.jobs import JobSpec, ProgressReporter, dataset_job_spec

COMMAND = "embed"
HELP = "Compute (or resume) the dlib face embeddings of every image of a dataset."
# Set in the app server's environment, the page's embedding jobs run on Ray: "local", or a cluster's address.
RAY_ENV_VAR = "FACEATLAS_RAY"


def embed_job_spec(ds: Dataset) -> JobSpec:
    """The background job that embeds a dataset's faces (what the pages start); on Ray when FACEATLAS_RAY is set."""
    ray = os.environ.get(RAY_ENV_VAR, "").strip()
    return dataset_job_spec(COMMAND, ds, *(("--ray", ray) if ray else ()))


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument("--name", default=None, help="name of the dataset (as the app shows it)")
    parser.add_argument(
        "--workers", type=int, default=None, help=f"worker processes (default: {os.cpu_count()} = cores)"
    )
    parser.add_argument(
        "--backend",
        choices=sorted(DESCRIPTOR_BACKENDS),
        default=DEFAULT_BACKEND,
        help="descriptor implementation (same descriptors; torch is faster)",
    )
    parser.add_argument("--no-mirror", action="store_true", help="plain descriptors (no mirror averaging)")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help="images per chunk written to the cache")
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run the chunks as Ray tasks: on a local Ray instance, or on the cluster at ADDRESS "
        "(or RAY_ADDRESS); every node must see the images at the same path",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    ds = open_dataset(args.dataset, name=args.name)
    reporter = ProgressReporter(args.progress_file)
    t0 = time.perf_counter()
    start: dict[str, int] = {}  # images already done when this run began (a resume)
    ray = RayTarget.from_flag(args.ray) if args.ray is not None else None

    def progress(done: int, total: int, message: str) -> None:
        first_call = not start
        start.setdefault("done", done)
        rate = (done - start["done"]) / max(time.perf_counter() - t0, 1e-9)
        left = (total - done) / rate if rate > 0 else None
        text = f"{fmt.count(done)} / {fmt.count(total)} images · {fmt.decimal(rate, 1)}/s" + (
            f" · {fmt.duration(left)} left" if left is not None else ""
        )
        if first_call and ray is not None:
            text += f" · handing the chunks to {ray.where}…"  # a local Ray takes seconds to start
        reporter.update(done, text, total=total, force=first_call)
        print(f"\rembedding {ds.name}: {text}   ", end="", file=sys.stderr, flush=True)

    config = FaceConfig(mirror=not args.no_mirror)
    summary = embed_dataset(ds, args.workers, config, args.backend, args.chunk_size, progress, ray=ray)
    print(file=sys.stderr)
    result = summary.as_dict()
    reporter.finish(result, f"{fmt.count(summary.embedded)} faces embedded")
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{ds.name}: {fmt.count(summary.images)} images, {fmt.count(summary.embedded)} embedded, "
        f"{fmt.count(summary.no_face)} without a face, {fmt.count(summary.failed)} unreadable, "
        f"{fmt.count(summary.fallback)} fixed-box fallbacks ({fmt.duration(summary.seconds)}, model {summary.model})"
    )
    for name in summary.failed_files[:10]:
        print(f"unreadable: {name}")
    return 0
