"""`python -m core search DATASET --photo FILE [-k K] [--metric euclidean|cosine] [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

from core.data.images import read_photo
from core.data.ingest import open_dataset
from core.errors import DatasetError
from core.faces.search import search_photo

COMMAND = "search"
HELP = "The faces of a photo and, for each (largest first), the k most similar faces of a dataset."


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument("--photo", required=True, type=Path, help="a photo (JPEG, PNG, WebP or BMP)")
    parser.add_argument("-k", type=int, default=10, help="neighbours per face")
    parser.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    if args.k < 1:
        raise DatasetError("-k must be at least 1.")
    ds = open_dataset(args.dataset)
    matches = search_photo(ds, read_photo(args.photo), args.k, args.metric)
    if args.json:
        faces = [{"box": list(m.box), "neighbours": m.neighbours.drop("row").to_dicts()} for m in matches]
        print(json.dumps({"faces": faces}))
        return 0
    if not matches:
        print(f"No face was found in {args.photo.name}.")
    for i, m in enumerate(matches, 1):
        print(f"face {i} at {m.box}:")
        for row in m.neighbours.iter_rows(named=True):
            print(f"  {row['distance']:.3f}  {row['image_id']}  {row['identity'] or ''}")
    return 0
