"""`python -m core search DATASET --photo FILE [-k K] [--metric euclidean|cosine] [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

from core import format as fmt
from core.data.images import read_photo
from core.data.ingest import open_dataset
from core.errors import DatasetError
from core.faces.calibration import SamePersonBasis, SamePersonRule
from core.faces.search import search_photo

COMMAND = "search"
HELP = "The faces of a photo and, for each (largest first), the k most similar faces of a dataset."


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument("--photo", required=True, type=Path, help="a photo (JPEG, PNG, WebP or BMP)")
    parser.add_argument("-k", type=int, default=10, help="neighbours per face")
    parser.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


# What the same-person column means, by the rule's basis (the Face search page says the same at length).
SAME_PERSON_NOTES = {
    SamePersonBasis.CALIBRATED: "calibrated on the dataset's own identities",
    SamePersonBasis.DLIB_DEFAULT: "dlib's threshold for its descriptor on photos of real people",
    SamePersonBasis.NOT_EUCLIDEAN: "same-person distances are calibrated for euclidean distance only",
    SamePersonBasis.DRAWN_FACES: "the photo is not one of the demo's images, whose people are drawn: it is none of them",
    SamePersonBasis.TOO_FEW_PAIRS: "too few faces per identity to calibrate a same-person distance",
    SamePersonBasis.POOR_SEPARATION: "no distance finds the dataset's own identities precisely enough",
    SamePersonBasis.NO_KNOWN_THRESHOLD: "no identity labels to calibrate these embeddings on",
}


def same_person_line(rule: SamePersonRule) -> str:
    """'same person: closer than 0.60 (…)' or 'same person: no face is called so (…)'."""
    note = SAME_PERSON_NOTES[rule.basis]
    if rule.threshold is None:
        return f"same person: no face is called so ({note})"
    cut = rule.calibration.same_person if rule.calibration is not None else None
    if cut is not None:
        note += f": {fmt.percent(cut.precision)} of the faces that close are that person"
    return f"same person: closer than {fmt.decimal(rule.threshold, 3)} ({note})"


def rule_json(rule: SamePersonRule) -> dict:
    """The rule as the JSON output carries it: threshold, basis and, where measured, its precision and recall."""
    cut = rule.calibration.same_person if rule.calibration is not None and rule.threshold is not None else None
    return {
        "threshold": rule.threshold,
        "basis": str(rule.basis),
        "precision": None if cut is None else round(cut.precision, 4),
        "recall": None if cut is None else round(cut.recall, 4),
    }


def run(args) -> int:
    if args.k < 1:
        raise DatasetError("-k must be at least 1.")
    ds = open_dataset(args.dataset)
    result = search_photo(ds, read_photo(args.photo), args.k, args.metric)
    if args.json:
        faces = [
            {"box": list(m.box), "dataset_image": m.dataset_image, "neighbours": m.neighbours.drop("row").to_dicts()}
            for m in result.faces
        ]
        rule = result.same_person
        print(json.dumps({"faces": faces, "same_person_threshold": rule.threshold, "same_person": rule_json(rule)}))
        return 0
    if not result.faces:
        print(f"No face was found in {args.photo.name}.")
        return 0
    print(same_person_line(result.same_person))
    for i, m in enumerate(result.faces, 1):
        print(f"face {i} at {m.box}:" + (f" {m.dataset_image} of {ds.name}" if m.dataset_image else ""))
        for row in m.neighbours.iter_rows(named=True):
            same = "  same person" if row["same_person"] else ""
            print(f"  {fmt.decimal(row['distance'])}  {row['image_id']}  {row['identity'] or ''}{same}")
    return 0
