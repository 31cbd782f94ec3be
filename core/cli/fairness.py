"""`python -m core fairness DATASET --model ID --target A --groups B[,C] [--by image|person] [--image ID] [--json]`."""

from __future__ import annotations

import json

from core import format as fmt
from core.classify.fairness import (
    GROUP_SOURCES,
    WORST_BY,
    FairnessAudit,
    audit_model,
    nearest_answered_otherwise,
    threshold_tradeoff,
)
from core.classify.store import list_models, load_test_predictions, verified_meta
from core.cli import comma_list
from core.data.embeddings import load_embeddings
from core.data.ingest import open_dataset
from core.errors import DatasetError

COMMAND = "fairness"
HELP = (
    "Worst-group audit of a trained attribute classifier: per-group rates with 95% intervals, the worst group, "
    "equal-opportunity and demographic-parity differences, per-group thresholds that equalise true-positive rates."
)
RATES = ("accuracy", "balanced_accuracy", "tpr", "fpr")


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument("--name", default=None, help="name of the dataset (as the app shows it)")
    parser.add_argument("--model", default="", help="model id (default: the newest model predicting --target)")
    parser.add_argument("--target", required=True, help="the predicted attribute to audit")
    parser.add_argument("--groups", required=True, help="one or two attributes to group the faces by, comma-separated")
    parser.add_argument(
        "--by", choices=tuple(GROUP_SOURCES), default="image", help="group by each image's label or the person's"
    )
    parser.add_argument("--worst-by", choices=tuple(WORST_BY), default="balanced_accuracy")
    parser.add_argument("--image", default=None, help="a test image: its nearest face the model answers the other way")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    ds = open_dataset(args.dataset, name=args.name)
    model_id = args.model or next(
        (m.model_id for m in list_models(ds.key, ds.labels_key) if args.target in m.attributes), ""
    )
    if not model_id:
        raise DatasetError(
            f"No trained model of {ds.name} predicts {args.target}: train one first (`python -m core train`)."
        )
    meta = verified_meta(model_id)
    groups = comma_list(args.groups)
    try:
        audit = audit_model(ds, meta, load_test_predictions(model_id), args.target, groups, args.by, args.worst_by)
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    tradeoff = threshold_tradeoff(audit)
    result = audit.to_json() | {"dataset": ds.name, "tradeoff": tradeoff.to_json() if tradeoff else None}
    if args.image:
        result["nearest_answered_otherwise"] = _counterpart(ds, audit, args.image)
    if args.json:
        print(json.dumps(result))
        return 0
    print(_report(audit, result))
    return 0


def _counterpart(ds, audit: FairnessAudit, image_id: str) -> dict:
    """The chosen test image and its nearest face (by embedding) that the model answers the other way."""
    row = ds.row_of(image_id)
    where = [int(i) for i in (audit.rows == row).nonzero()[0]] if row is not None else []
    if not where:
        raise DatasetError(f"{image_id} is not one of the model's test images.")
    emb = load_embeddings(ds)
    if emb is None:
        raise DatasetError(f"{ds.name} has no face embeddings yet: `python -m core embed {ds.name}` first.")
    found = nearest_answered_otherwise(emb.vectors[audit.rows], audit.answers, where[0], emb.has_face[audit.rows])
    image_ids = ds.table["image_id"].to_numpy()

    def face(i: int) -> dict:
        return {
            "image": str(image_ids[audit.rows[i]]),
            "label": int(audit.labels[i]),
            "probability": round(float(audit.probs[i]), 6),
            "answer": bool(audit.answers[i]),
        }

    if found is None:
        return {"query": face(where[0]), "nearest": None, "distance": None}
    return {"query": face(where[0]), "nearest": face(found.index), "distance": round(found.distance, 6)}


def _report(audit: FairnessAudit, result: dict) -> str:
    """The audit as terminal lines: one per group, then the summary figures."""
    lines = [
        f"{audit.model_id}: {audit.target} at threshold {fmt.decimal(audit.threshold, 2)}, grouped by "
        f"{' and '.join(audit.groups_by)} ({GROUP_SOURCES[audit.source]})"
    ]
    for g in (*audit.groups, audit.overall):
        figures = "  ".join(
            f"{m.replace('_', ' ')} {fmt.percent(g.value(m))} [{fmt.percent(low)}-{fmt.percent(high)}]"
            for m in RATES
            for low, high in [g.interval(m)]
        )
        small = "  (few images)" if g.small and g is not audit.overall else ""
        lines.append(f"  {g.name:32s} {fmt.count(g.n):>7} images {fmt.count(g.positives):>6} yes  {figures}{small}")
    worst = audit.worst
    if worst is not None:
        lines.append(
            f"worst group by {WORST_BY[audit.worst_by]}: {worst.name}, {fmt.percent(worst.value(audit.worst_by))} "
            f"({fmt.signed_points(audit.worst_gap)} against all test images)"
        )
    lines.append(f"equal-opportunity difference: {fmt.points(audit.equal_opportunity.value)}")
    lines.append(f"demographic-parity difference: {fmt.points(audit.demographic_parity.value)}")
    equalised = (result["tradeoff"] or {}).get("equalised")
    if equalised:
        cuts = ", ".join(f"{n} {fmt.decimal(t, 2)}" for n, t in zip(audit.names, equalised["thresholds"]))
        lines.append(
            f"per-group thresholds ({cuts}): accuracy {fmt.percent(equalised['accuracy'])}, true-positive-rate gap "
            f"{fmt.points(equalised['tpr_gap'])} (one threshold: {fmt.percent(result['tradeoff']['model']['accuracy'])}, "
            f"{fmt.points(result['tradeoff']['model']['tpr_gap'])})"
        )
    return "\n".join(lines)
