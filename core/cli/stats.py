"""`python -m core stats DATASET [--where Male=1 ...] [--partition test] [--json]`."""

from __future__ import annotations

import json
import math

from core import format as fmt
from core.data.ingest import open_dataset
from core.data.subset import Subset, subset_rows
from core.errors import DatasetError
from core.stats import relations as stats

COMMAND = "stats"
HELP = "Attribute prevalence and P(A=1 | B=1) for every pair, on the whole dataset or a filtered subset."


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="ATTR=0|1",
        help="keep only rows with this attribute value (repeatable)",
    )
    parser.add_argument("--partition", choices=("train", "val", "test"), default=None, help="keep one partition")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def parse_conditions(items: list[str], attributes: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """['Male=1', 'Young=0'] -> (('Male', 1), ('Young', 0)), with a clear error for anything else."""
    conditions = []
    for item in items:
        name, _, value = item.partition("=")
        if name not in attributes or value not in ("0", "1"):
            raise DatasetError(
                f"--where {item!r}: expected ATTRIBUTE=0 or ATTRIBUTE=1 with one of: {', '.join(attributes)}."
            )
        conditions.append((name, int(value)))
    return tuple(conditions)


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def stats_summary(ds, subset: Subset) -> dict:
    """Rows, prevalence {A: share} and conditional {A: {B: P(A=1|B=1)}} (null where undefined)."""
    rel = stats.relation_stats(ds.attribute_matrix(subset_rows(ds, subset)), ds.attributes)
    prev, cond, phi = rel.prevalence, rel.conditional, rel.phi
    names = ds.attributes
    return {
        "dataset": ds.name,
        "subset": subset.describe(),
        "rows": rel.n,
        "prevalence": {a: _clean(prev[i]) for i, a in enumerate(names)},
        "counts": {a: int(rel.counts[i]) for i, a in enumerate(names)},
        "conditional": {a: {b: _clean(cond[i, j]) for j, b in enumerate(names)} for i, a in enumerate(names)},
        "phi": {a: {b: _clean(phi[i, j]) for j, b in enumerate(names)} for i, a in enumerate(names)},
    }


def run(args) -> int:
    ds = open_dataset(args.dataset)
    subset = Subset(parse_conditions(args.where, ds.attributes), args.partition)
    summary = stats_summary(ds, subset)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{summary['dataset']}: {fmt.count(summary['rows'])} rows ({summary['subset']})")
    for name, share in sorted(summary["prevalence"].items(), key=lambda kv: -(kv[1] or 0)):
        print(f"{name:22s} {fmt.percent(share, 2, missing='undefined'):>7}")
    return 0
