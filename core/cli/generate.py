"""`python -m core generate DATASET [--epochs N] [--image-size 64] [--attributes A,B] [--json]`."""

from __future__ import annotations

import json
import time

from core import format as fmt
from core.cli import comma_list
from core.data.dataset import Dataset
from core.data.ingest import open_dataset
from core.errors import FaceAtlasError
from core.generate import report, store
from core.generate.audit import AUDIT_SAMPLES, GeneratorAudit, audit_generator
from core.generate.models import DEFAULT_EPOCHS, IMAGE_SIZES, GanConfig
from core.generate.train import train_generator
from core.jobs import JobSpec, ProgressReporter, dataset_job_spec

COMMAND = "generate"
HELP = (
    "Train (or resume) a face generator (DCGAN) on a dataset's faces, a checkpoint per epoch, then measure what it "
    "copies and what it amplifies."
)


def generate_job_spec(ds: Dataset, config: GanConfig, epochs: int, samples: int = AUDIT_SAMPLES) -> JobSpec:
    """The background job that trains `config` on a dataset to `epochs` epochs and audits it (the page starts it)."""
    options = ["--epochs", str(epochs), "--image-size", str(config.image_size)]
    if config.attributes:
        options += ["--attributes", ",".join(config.attributes)]
    defaults = GanConfig()
    for flag, value, default in (
        ("--width", config.width, defaults.width),
        ("--batch-size", config.batch_size, defaults.batch_size),
        ("--max-images", config.max_images, defaults.max_images),
        ("--seed", config.seed, defaults.seed),
        ("--samples", samples, AUDIT_SAMPLES),
    ):
        if value != default:
            options += [flag, str(value)]
    return dataset_job_spec(COMMAND, ds, *options)


def add_arguments(parser) -> None:
    defaults = GanConfig()
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument("--name", default=None, help="name of the dataset (as the app shows it)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="train until the generator has this many")
    parser.add_argument("--image-size", type=int, default=defaults.image_size, choices=IMAGE_SIZES)
    parser.add_argument(
        "--attributes", default="", help="comma-separated attributes to condition on (at most 4; default: none)"
    )
    parser.add_argument(
        "--width", type=int, default=defaults.width, help="network width (the seed's recipe used 64; default 32)"
    )
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--max-images", type=int, default=0, help="train on at most this many faces (0 = all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--samples", type=int, default=AUDIT_SAMPLES, help="generated (and real) faces the audit measures"
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: a GPU when present")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    t0 = time.perf_counter()
    reporter = ProgressReporter(args.progress_file)
    config = GanConfig(
        image_size=args.image_size,
        attributes=comma_list(args.attributes),
        width=args.width,
        batch_size=args.batch_size,
        max_images=args.max_images,
        seed=args.seed,
    )
    try:
        if args.samples < 1:
            raise ValueError("The audit needs at least 1 sample (--samples).")
        ds = open_dataset(args.dataset, name=args.name)
        trained = train_generator(ds, config, args.epochs, reporter, args.device)
        audit = audit_generator(ds, trained.meta, args.samples, reporter)
    except ValueError as exc:  # a setting or dataset it cannot use: core.__main__ says so (progress, --json, stderr)
        raise FaceAtlasError(str(exc)) from None
    meta = trained.meta
    checkpoint = store.shown_path(store.generator_folder(meta.generator_id) / "checkpoint.pt")
    summary = json_summary(meta.epochs_done, time.perf_counter() - t0, checkpoint, audit)
    reporter.finish(
        {"generator_id": meta.generator_id, "epochs": meta.epochs_done, "resumed_from": trained.resumed_from},
        message=f"saved {meta.generator_id}",
    )
    if args.json:
        print(json.dumps(summary))
        return 0
    print(
        f"{meta.generator_id}: {fmt.plural(meta.epochs_done, 'epoch')} on {fmt.plural(meta.faces, 'face')} ({checkpoint})"
    )
    if trained.resumed_from:
        print(f"  resumed from epoch {trained.resumed_from}")
    print(f"  {report.threshold_sentence(audit.copying, ds.name)}")
    print(f"  {report.copying_sentence(audit.copying)}")
    for p in audit.prevalence:
        print(f"  {report.prevalence_sentence(p)}")
    print(f"  {report.diversity_sentence(audit.diversity)}")
    return 0


def json_summary(epochs: int, seconds: float, checkpoint: str, audit: GeneratorAudit) -> dict:
    """The one object `--json` prints (keys fixed by issue 32)."""
    return {
        "epochs": epochs,
        "seconds": round(seconds, 2),
        "checkpoint": checkpoint,
        "copying": {"share_below_same_person": audit.copying.share_below, "threshold": audit.copying.threshold},
        "prevalence": {p.attribute: {"real": p.real_share, "generated": p.generated_share} for p in audit.prevalence},
        "identities": {"generated": audit.diversity.generated, "real": audit.diversity.real},
    }
