"""`python -m core audit DATASET [--checks labels,identities,duplicates,images] [--workers N] [--json]`."""

from __future__ import annotations

import json
import sys
import time

from core import format as fmt
from core.data.dataset import Dataset
from core.data.ingest import open_dataset
from core.errors import DatasetError
from core.jobs import JobSpec, ProgressReporter, dataset_job_spec
from core.quality import CHECK_TITLES, CHECKS, parse_checks, run_audit
from core.quality.audit import AuditClock, stage_seconds, stages

COMMAND = "audit"
HELP = "Audit a dataset: suspect attribute and identity labels, duplicate and unusable images (results cached)."


def audit_job_spec(ds: Dataset, checks: tuple[str, ...] = CHECKS) -> JobSpec:
    """The background job that audits a dataset (what the Data quality page starts)."""
    return dataset_job_spec(COMMAND, ds, "--checks", ",".join(checks))


def add_arguments(parser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder, or the name of a dataset under data/")
    parser.add_argument("--name", default=None, help="name of the dataset (as the app shows it)")
    parser.add_argument(
        "--checks", default=",".join(CHECKS), help=f"comma-separated checks to run (default: all of {','.join(CHECKS)})"
    )
    parser.add_argument("--workers", type=int, default=None, help="processes reading images (default: one per core)")
    parser.add_argument("--rerun", action="store_true", help="recompute results already stored for the same data")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _describe(check: str, summary: dict) -> str:
    """One line per check for the terminal."""
    if "skipped" in summary:
        return f"{CHECK_TITLES[check]}: skipped ({summary['skipped']})"
    if check == "labels":
        return (
            f"{CHECK_TITLES[check]}: about {fmt.count(summary['estimated_errors'])} wrong labels estimated over "
            f"{summary['attributes']} attributes ({', '.join(summary['features'])})"
        )
    if check == "identities":
        return (
            f"{CHECK_TITLES[check]}: {fmt.count(summary['misfiled'])} photos look like another identity, "
            f"{fmt.count(summary['unlike'])} unlike their own, {fmt.count(summary['twins'])} identity pairs look like "
            f"one person (same-person cut {fmt.decimal(summary['threshold'])}, ROC AUC {fmt.decimal(summary['auc'])})"
        )
    if check == "duplicates":
        return (
            f"{CHECK_TITLES[check]}: {fmt.count(summary['exact_groups'])} exact and "
            f"{fmt.count(summary['near_groups'])} near groups ({fmt.count(summary['within_identity'])} within one "
            f"identity, {fmt.count(summary['across_identities'])} across identities)"
        )
    counts = ", ".join(f"{fmt.count(n)} {p}" for p, n in summary["counts"].items() if n)
    return f"{CHECK_TITLES[check]}: {fmt.count(summary['images_with_problems'])} images ({counts or 'none'})"


def run(args) -> int:
    try:
        checks = parse_checks(args.checks)
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    ds = open_dataset(args.dataset, name=args.name)
    reporter = ProgressReporter(args.progress_file)
    plan = stages(ds, checks)
    # Progress counts images: every stage goes over the dataset once.
    total = max(1, len(plan)) * ds.n_images
    t0 = time.perf_counter()
    clock = AuditClock(stage_seconds(ds, checks))

    def progress(stage: str, fraction: float, message: str) -> None:
        step = plan.index(stage) if stage in plan else 0
        done = int((step + min(max(fraction, 0.0), 1.0)) * ds.n_images)
        text = f"step {step + 1} of {len(plan)}: {message}"
        reporter.update(done, text, total=total, force=fraction == 0.0, left_s=clock.left(stage, fraction))
        print(f"\raudit {ds.name}: {text}   ", end="", file=sys.stderr, flush=True)

    try:
        result = run_audit(ds, checks, args.workers, progress, reuse=not args.rerun)
    except Exception as exc:
        reporter.fail(str(exc))
        raise
    print(file=sys.stderr)
    seconds = round(time.perf_counter() - t0, 1)
    reporter.finish({"checks": result, "seconds": seconds}, f"audit finished in {fmt.duration(seconds)}")
    if args.json:
        print(json.dumps({"dataset": ds.name, "checks": result, "seconds": seconds}, default=str))
        return 0
    for check, summary in result.items():
        print(_describe(check, summary))
    return 0
