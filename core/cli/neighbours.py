"""`python -m core neighbours DATASET --image IMAGE_ID -k K [--by embedding|attributes] [--json]`."""

from __future__ import annotations

import json

from core.data.ingest import open_dataset
from core.errors import DatasetError
from core.faces.search import neighbours_of_image

COMMAND = "neighbours"
HELP = "The k images nearest to one image of a dataset (by face embedding or attribute vector)."


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument("--image", required=True, help="image id (file name) of the query")
    parser.add_argument("-k", type=int, default=10, help="number of neighbours")
    parser.add_argument("--by", choices=("embedding", "attributes"), default="embedding")
    parser.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    if args.k < 1:
        raise DatasetError("-k must be at least 1.")
    ds = open_dataset(args.dataset)
    hits = neighbours_of_image(ds, args.image, args.k, by=args.by, metric=args.metric)
    if args.json:
        print(json.dumps({"query": args.image, "neighbours": hits.to_dicts()}))
        return 0
    for row in hits.iter_rows(named=True):
        print(f"{row['distance']:8.4f}  {row['image_id']}  {row['identity'] or ''}")
    return 0
