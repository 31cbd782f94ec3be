"""`python -m core ingest PATH [--name NAME] [--json]`."""

from __future__ import annotations

import json
import time

from core import format as fmt
from core.data.ingest import open_dataset
from core.data.summary import dataset_summary

COMMAND = "ingest"
HELP = "Ingest a dataset folder (any known layout) into the cache and print a summary."


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="PATH", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument("--name", default=None, help="name to show for the dataset")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    t0 = time.perf_counter()
    ds = open_dataset(args.dataset, name=args.name)
    summary = dataset_summary(ds) | {"seconds": round(time.perf_counter() - t0, 3)}
    if args.json:
        print(json.dumps(summary))
        return 0
    print(
        f"{summary['name']} ({summary['layout']}): {fmt.count(summary['rows'])} images, {len(summary['attributes'])} "
        f"attributes, {fmt.count(summary['identities'])} identities"
    )
    print(f"partitions: {summary['partitions'] or 'none'}; images found: {fmt.count(summary['images_found'])}")
    for w in summary["warnings"]:
        print(f"warning: {w}")
    return 0
