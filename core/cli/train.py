"""`python -m core train DATASET --features embeddings|pixels --model logreg|mlp|cnn [...] --json`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from core import format as fmt
from core.classify.metrics import CLI_METRICS, below_majority
from core.classify.models import LOSSES, MODEL_FEATURES, MODELS, TrainConfig
from core.classify.pixels import IMAGE_SIZES
from core.classify.train import HISTORY_FILE, train_attribute_model
from core.cli import comma_list
from core.data.dataset import Dataset
from core.data.ingest import open_dataset
from core.errors import FaceAtlasError
from core.jobs import JobSpec, ProgressReporter, dataset_job_spec

DEFAULTS = TrainConfig()  # the page's defaults: the command trains what the page's Train button would
COMMAND = "train"
HELP = "Train an attribute classifier, measure it on the test split and save it under cache/models/."


def train_job_spec(ds: Dataset, config: TrainConfig) -> JobSpec:
    """The background job that trains `config` on a dataset (what the classifiers page starts)."""
    options = ["--model", config.model, "--attributes", ",".join(config.attributes), "--loss", config.loss]
    options += ["--epochs", str(config.epochs), "--image-size", str(config.image_size)]
    options += ["--pos-weight"] * config.pos_weight + ["--augment" if config.augment else "--no-augment"]
    return dataset_job_spec(COMMAND, ds, *options)


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument(
        "--name", default=None, help="name to show for the dataset (keeps its cache key when given a path)"
    )
    parser.add_argument(
        "--features", choices=("embeddings", "pixels"), default=None, help="input features (implied by --model)"
    )
    parser.add_argument("--model", choices=tuple(MODELS), default="logreg")
    parser.add_argument("--attributes", default="", help="comma-separated attribute names (default: all)")
    parser.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help=f"at most (default {DEFAULTS.epochs})")
    parser.add_argument("--image-size", type=int, default=80, choices=IMAGE_SIZES)
    parser.add_argument("--loss", choices=tuple(LOSSES), default="bce")
    parser.add_argument(
        "--pos-weight", action="store_true", help="weight positives by negatives/positives per attribute"
    )
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS.augment,
        help="augment CNN batches: flip, small rotation, shift, zoom, brightness, saturation (default: on, as on the page)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--max-minutes", type=float, default=0.0, help="stop training after this many minutes (0 = no limit)"
    )
    parser.add_argument("--max-train", type=int, default=0, help="use at most this many training images (0 = all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    t0 = time.perf_counter()
    reporter = ProgressReporter(args.progress_file)
    if args.features and MODEL_FEATURES[args.model] != args.features:
        reporter.fail(f"--model {args.model} works on {MODEL_FEATURES[args.model]}, not {args.features}.")
        raise SystemExit(f"error: --model {args.model} works on {MODEL_FEATURES[args.model]}, not {args.features}")
    config = TrainConfig(
        model=args.model,
        attributes=comma_list(args.attributes),
        epochs=args.epochs,
        image_size=args.image_size,
        loss=args.loss,
        pos_weight=args.pos_weight,
        batch_size=args.batch_size,
        augment=args.augment,
        max_minutes=args.max_minutes,
        max_train=args.max_train,
        seed=args.seed,
    )
    history_path = Path(args.progress_file).parent / HISTORY_FILE if args.progress_file else None
    try:
        ds = open_dataset(args.dataset, name=args.name)
        meta = train_attribute_model(ds, config, reporter, history_path)
    except ValueError as exc:  # a setting or dataset it cannot use: core.__main__ says so (progress, --json, stderr)
        raise FaceAtlasError(str(exc)) from None
    summary = {
        "model_id": meta.model_id,
        "attributes": {a: {k: m[k] for k in CLI_METRICS} for a, m in meta.metrics.items()},
        "mean": {k: meta.mean[k] for k in CLI_METRICS},
        "below_majority": below_majority(meta.metrics),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    reporter.finish({"model_id": meta.model_id, "mean": summary["mean"]}, message=f"saved {meta.model_id}")
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{meta.model_id}: {meta.split_note}")
    below = summary["below_majority"]
    for name, m in summary["attributes"].items():
        flag = "  not above majority" if name in below else ""
        print(
            f"  {name:22s} acc {fmt.decimal(m['accuracy']):>5}  bal {fmt.decimal(m['balanced_accuracy']):>5}  majority "
            f"{fmt.decimal(m['majority_accuracy']):>5}" + flag
        )
    judged = [a for a, m in summary["attributes"].items() if None not in (m["accuracy"], m["majority_accuracy"])]
    print(
        f"  {'mean':22s} acc {fmt.decimal(summary['mean']['accuracy']):>5}  bal "
        f"{fmt.decimal(summary['mean']['balanced_accuracy']):>5}  "
        f"{len(judged) - len(below)} of {len(judged)} attributes beat their majority-class accuracy"
    )
    return 0
