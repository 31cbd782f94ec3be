"""Running the checks on a dataset and finding their stored results: what each needs and depends on.

The image scan runs first whenever a requested check reads pixels (and is reused while the images are unchanged);
each check's result is stored under a token of its true inputs (the image files' content, the labels it reads, the
embeddings; core.quality.store), so the page finds the results of the current data after a harmless change (a touched
folder, a copy) and asks for a new run only when what a check reads changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core import format as fmt
from core.data.dataset import Dataset
from core.data.embeddings import Embeddings, load_embeddings
from core.data.ingest import identities_key
from core.demo.labels import UNDRAWN
from core.errors import DatasetError
from core.faces.calibration import MIN_PAIRS, calibrate, pair_counts
from core.faces.embed_job import MODEL as DLIB_MODEL
from core.faces.embed_job import load_face_counts, load_status
from core.processes import usable_cores
from core.quality import duplicates, identities, images, labels
from core.quality.scan import SCAN_VERSION, scan_images
from core.quality.store import StoredResult, has_result, load_result, quality_dir, result_token, save_result

log = logging.getLogger(__name__)

CHECKS = ("labels", "identities", "duplicates", "images")
CHECK_TITLES = {
    "labels": "Suspect attribute labels",
    "identities": "Suspect identity labels",
    "duplicates": "Duplicates",
    "images": "Unusable images",
}
VERSIONS = {"scan": SCAN_VERSION, "labels": 3, "identities": 2, "duplicates": 1, "images": 1}
READS_PIXELS = ("labels", "duplicates", "images")

# (fraction of the stage done, what is happening); the CLI turns it into job progress.
ProgressFn = Callable[[str, float, str], None]
EmbeddingLoader = Callable[[Dataset, str | None], Embeddings | None]


class CheckCannotRunError(DatasetError):
    """A check found while running that this dataset cannot have it: the audit skips it with this reason."""


def parse_checks(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Check names from "labels,images" (or a sequence), in CHECKS order; raises ValueError listing the choices."""
    if text is None or text == "" or text == ():
        return CHECKS
    names = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"Unknown check {', '.join(map(repr, unknown))}; choose from {', '.join(CHECKS)}.")
    return tuple(c for c in CHECKS if c in names)


def _embedding_signature(emb: Embeddings | None) -> list | None:
    return None if emb is None else [emb.model, str(emb.meta.get("created", "")), emb.meta.get("token", "")]


@dataclass(frozen=True)
class AuditInputs:
    """What the checks of one dataset read: its embeddings (default model) and the dlib run's face records."""

    embeddings: Embeddings | None
    status: np.ndarray | None  # (N,) int8 STATUS_* of the dlib run, None without one
    n_faces: np.ndarray | None  # (N,) faces found per image by that run
    faces_signature: list | None  # what identifies that run (its results depend on it)

    @classmethod
    def of(cls, ds: Dataset, load: EmbeddingLoader = load_embeddings) -> AuditInputs:
        """`load(ds, model)` reads the embeddings (the page passes its cached reader: one matrix per server)."""
        emb = load(ds, None)
        dlib = emb if emb is not None and emb.model == DLIB_MODEL else load(ds, DLIB_MODEL)
        status = load_status(ds) if dlib is not None else None
        if status is None or len(status) != ds.n_images:
            return cls(emb, None, None, None)
        return cls(emb, status, load_face_counts(ds), _embedding_signature(dlib))


def missing(ds: Dataset, check: str, inputs: AuditInputs | None = None) -> str | None:
    """Why `check` cannot run on this dataset (what it needs, said for the user), or None when it can."""
    inputs = inputs or AuditInputs.of(ds)
    has_embeddings = inputs.embeddings is not None
    if check == "labels":
        if not ds.attributes:
            return f"{ds.name} has no attribute annotations, so there are no attribute labels to check."
        if not has_embeddings and not ds.has_images:
            return "The label check needs the images or face embeddings; this dataset has neither."
    elif check == "identities":
        if not ds.has_identity:
            return f"{ds.name} has no identity labels, so there are no identities to check."
        if not has_embeddings:
            return "The identity check compares faces: compute the face embeddings first (Face search page)."
        pairs = pair_counts(ds.table["identity"], inputs.embeddings.has_face)
        if not pairs.enough:
            return (
                f"The identity check measures where the same person ends on pairs of faces, and needs at least "
                f"{MIN_PAIRS} pairs of one person's faces and {MIN_PAIRS} of different people's; the faces found in "
                f"{ds.name} make {fmt.count(pairs.same)} and {fmt.count(pairs.different)}. More photos per person "
                "would make it possible."
            )
    elif check == "duplicates":
        if not ds.has_images and not has_embeddings:
            return "The duplicate check needs the image files or face embeddings; this dataset has neither."
    elif check == "images":
        if not ds.has_images:
            return "The image check reads the image files; this dataset has none (annotations only)."
    else:
        raise ValueError(f"Unknown check {check!r}; choose from {', '.join(CHECKS)}.")
    return None


def _scan_token(ds: Dataset) -> str | None:
    """The scan reads the image files: their content, in row order (the images key)."""
    return result_token("scan", {"version": VERSIONS["scan"], "images": ds.images_key}) if ds.has_images else None


def check_token(ds: Dataset, check: str, inputs: AuditInputs | None = None) -> str:
    """The token of `check`'s result for the dataset's current inputs (what the page looks up)."""
    inputs = inputs or AuditInputs.of(ds)
    depends: dict = {"version": VERSIONS[check], "data": ds.images_key or ds.key}
    if check == "labels":
        depends["labels"] = ds.labels_key
    elif check in ("identities", "duplicates"):
        depends["identities"] = identities_key(ds.table)
    if check in READS_PIXELS:
        depends["scan"] = _scan_token(ds)
    if check in ("labels", "identities", "duplicates"):
        depends["embeddings"] = _embedding_signature(inputs.embeddings)
    if check == "labels":
        depends |= {"folds": labels.N_FOLDS, "C": labels.C, "components": labels.PIXEL_COMPONENTS}
        depends |= {"min_auc": labels.MIN_AUC, "unseen": sorted(known_unseen(ds))}
    elif check == "duplicates":
        depends["cuts"] = [
            duplicates.LOOK_RADIUS,
            duplicates.FINE_RADIUS,
            duplicates.CANDIDATE_RADIUS,
            duplicates.EMBEDDING_RADIUS,
        ]
        depends["crops"] = duplicates.CROPS
    elif check == "images":
        depends["faces"] = inputs.faces_signature
        depends["cuts"] = [
            images.BLURRY_BELOW,
            images.BLANK_BELOW,
            images.DARK_BELOW,
            images.BRIGHT_ABOVE,
            images.TINY_BELOW,
        ]
    return result_token(check, depends)


def load_check(ds: Dataset, check: str, inputs: AuditInputs | None = None) -> StoredResult | None:
    """The stored result of `check` for the dataset's current inputs, or None (never run, or the data changed)."""
    return load_result(quality_dir(ds), check, check_token(ds, check, inputs))


def image_scan(ds: Dataset, workers: int | None = None, progress: Callable[[float, str], None] | None = None):
    """The stored scan of the dataset's images, computed (in worker processes) when missing."""
    token = _scan_token(ds)
    if token is None:
        return None
    stored = load_result(quality_dir(ds), "scan", token)
    if stored is not None:
        return stored
    t0 = time.perf_counter()

    def tick(done: int, total: int) -> None:
        if progress:
            progress(done / max(total, 1), f"reading images: {fmt.count(done)} / {fmt.count(total)}")

    scan = scan_images(ds, workers, tick)
    summary = {
        "images": ds.n_images,
        "readable": int(scan.readable.sum()),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    result = StoredResult("scan", token, summary, {"table": scan.table}, {"thumbs": scan.thumbs})
    save_result(quality_dir(ds), result)
    return result


def known_unseen(ds: Dataset) -> dict[str, str]:
    """{attribute: why} of labels known not to show in the dataset's images (the demo's undrawn ones)."""
    return {a: "not drawn on the demo" for a in UNDRAWN if a in ds.attributes} if ds.is_demo else {}


def _run_labels(ds, inputs, scan, progress) -> StoredResult:
    emb = inputs.embeddings
    feats = labels.label_features(
        None if emb is None else emb.vectors,
        None if emb is None else emb.has_face,
        None if scan is None else scan.arrays["thumbs"],
        None if scan is None else scan.tables["table"]["readable"].to_numpy(),
    )
    found = labels.audit_labels(ds.table, ds.attributes, feats, progress=progress, unseen=known_unseen(ds))
    unseen = [{"attribute": u.attribute, "reason": u.reason, "auc": u.auc} for u in found.unseen]
    checked_or_unseen = set(found.summary["attribute"].to_list()) | {u["attribute"] for u in unseen}
    summary = {
        "features": list(found.sources),
        "images": int(feats.usable.sum()),
        "attributes": found.summary.height,
        "skipped_attributes": [a for a in ds.attributes if a not in checked_or_unseen],  # too few of one value
        "unseen_attributes": unseen,
        "min_auc": labels.MIN_AUC,
        "estimated_errors": int(found.summary["estimated_errors"].sum()),
        "folds": labels.N_FOLDS,
    }
    return StoredResult("labels", "", summary, {"summary": found.summary, "suspects": found.suspects})


def _run_identities(ds, inputs, scan, progress) -> StoredResult:
    emb = inputs.embeddings
    identity = ds.table["identity"].to_list()
    cal = calibrate(emb.vectors, identity, emb.has_face)
    if cal is None:  # `missing` counted enough pairs, but too few were drawn (a sampling corner case)
        raise CheckCannotRunError(
            f"Too few pairs of faces could be drawn to measure the same-person distance (at least {MIN_PAIRS} of "
            "each kind are needed)."
        )
    found = identities.audit_identities(ds.table, emb.vectors, emb.has_face, cal, progress)
    kinds = found.suspects["kind"].to_list()
    summary = {
        "threshold": cal.threshold,
        "auc": cal.auc,
        "accuracy": cal.accuracy,
        "trustworthy": cal.trustworthy,
        "judged": found.judged,
        "misfiled": kinds.count(identities.SUSPECT_KINDS[0]),
        "unlike": kinds.count(identities.SUSPECT_KINDS[1]),
        "twins": found.twins.height,
        "match_cut": found.match_cut,
        "model": emb.model,
    }
    return StoredResult("identities", "", summary, {"suspects": found.suspects, "twins": found.twins})


def _run_duplicates(ds, inputs, scan, progress) -> StoredResult:
    emb = inputs.embeddings
    table = None if scan is None else scan.tables["table"]
    thumbs = None if scan is None else scan.arrays["thumbs"]
    vectors, has_face = (None, None) if emb is None else (emb.vectors, emb.has_face)
    paths = [ds.image_path(i) for i in ds.table["image_id"].to_list()] if ds.has_images else None
    found = duplicates.audit_duplicates(ds.table, table, thumbs, vectors, has_face, paths, progress)
    groups = found.groups
    sources = (["content hashes", "thumbnails"] if scan is not None else []) + (
        ["face descriptors"] if emb is not None else []
    )
    summary = {
        "sources": sources,
        "exact_groups": int((groups["kind"] == "exact").sum()),
        "near_groups": int((groups["kind"] == "near").sum()),
        "images_in_groups": int(found.members["row"].n_unique()),
        "within_identity": int((groups["scope"] == "within one identity").sum()),
        "across_identities": int((groups["scope"] == "across identities").sum()),
        "look_radius": duplicates.LOOK_RADIUS,
    }
    return StoredResult("duplicates", "", summary, {"groups": groups, "members": found.members})


def _run_images(ds, inputs, scan, progress) -> StoredResult:
    table = None if scan is None else scan.tables["table"]
    found = images.audit_images(ds.table, table, inputs.status, inputs.n_faces)
    counts = found.problems.group_by("problem").len()
    by_problem = dict(zip(counts["problem"].to_list(), counts["len"].to_list()))
    summary = {
        "counts": {p: int(by_problem.get(p, 0)) for p in images.PROBLEMS},
        "images_with_problems": int(found.problems["row"].n_unique()),
        "faces_checked": found.faces_checked,
        "scanned": 0 if scan is None else int(scan.summary["images"]),
    }
    return StoredResult("images", "", summary, {"problems": found.problems})


RUNNERS = {"labels": _run_labels, "identities": _run_identities, "duplicates": _run_duplicates, "images": _run_images}


def run_audit(
    ds: Dataset,
    checks: Sequence[str] = CHECKS,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    reuse: bool = True,
) -> dict[str, dict]:
    """Run the checks (skipping those the dataset cannot have, and with reuse those already stored); store each.

    Returns {check: summary} with {"skipped": reason} for a check that could not run.
    """
    checks = parse_checks(checks)
    inputs = AuditInputs.of(ds)
    runnable = [c for c in checks if missing(ds, c, inputs) is None]
    out: dict[str, dict] = {c: {"skipped": missing(ds, c, inputs)} for c in checks if c not in runnable}
    todo = []
    for check in runnable:
        stored = load_check(ds, check, inputs) if reuse else None
        if stored is not None:
            out[check] = stored.summary
        else:
            todo.append(check)
    scan = None
    if any(c in READS_PIXELS for c in todo) and ds.has_images:
        scan = image_scan(ds, workers, (lambda f, m: progress("scan", f, m)) if progress else None)
    for check in todo:
        t0 = time.perf_counter()
        stage = (lambda f, m, c=check: progress(c, f, m)) if progress else None
        if stage:
            stage(0.0, f"starting {CHECK_TITLES[check].lower()}")
        try:
            result = RUNNERS[check](ds, inputs, scan, stage)
        except CheckCannotRunError as exc:
            out[check] = {"skipped": str(exc)}
            continue
        summary = result.summary | {"seconds": round(time.perf_counter() - t0, 1)}
        token = check_token(ds, check, inputs)
        save_result(quality_dir(ds), StoredResult(check, token, summary, result.tables))
        out[check] = summary
    return {c: out[c] for c in checks}


# (fixed seconds, seconds per image) of each stage on the 2-core reference machine, measured on the 6,000-image demo
# and the 202,599-image drawn set (docs/bench/fullscale.md); the scan's are divided among the cores.
STAGE_SECONDS = {
    "scan": (1.5, 0.0006),
    "labels": (4.0, 0.00055),
    "identities": (0.5, 0.00015),
    "duplicates": (1.0, 0.0003),
    "images": (0.0, 0.00001),
}
START_SECONDS = 3.0  # a new process importing numpy, polars, scipy
PRIOR_SECONDS = 10.0  # the expected pace weighs as much as this many seconds measured (early progress is noisy)


def stage_seconds(ds: Dataset, checks: Sequence[str]) -> dict[str, float]:
    """{stage: expected seconds} of a run of `checks` on `ds`, in order (a stored scan costs nothing)."""
    plan = stages(ds, checks)
    scan_stored = "scan" in plan and has_result(quality_dir(ds), "scan", _scan_token(ds))
    cores = max(1, usable_cores())
    out = {}
    for stage in plan:
        fixed, per_image = STAGE_SECONDS[stage]
        seconds = fixed + per_image * ds.n_images
        out[stage] = (0.0 if scan_stored else seconds * 2 / cores) if stage == "scan" else seconds
    return out


def estimated_seconds(ds: Dataset, checks: Sequence[str]) -> float:
    """How long a run of `checks` on `ds` should take on a quiet machine (the scan counted when not stored yet)."""
    return START_SECONDS + sum(stage_seconds(ds, checks).values())


class AuditClock:
    """Seconds an audit has left: its stages' expected seconds, at the pace this machine has kept so far.

    On a busy machine every stage runs slower alike, so how far behind the finished work is says how far behind
    the rest will be (the audit at CelebA's size took 3x its quiet-machine time beside other work).
    """

    def __init__(self, expected: dict[str, float], clock: Callable[[], float] = time.monotonic) -> None:
        self.expected = expected
        self.clock = clock
        self.started = clock()

    def left(self, stage: str, fraction: float) -> float:
        """Seconds left while `stage` is `fraction` done."""
        names = list(self.expected)
        at = names.index(stage) if stage in names else 0
        done = sum(self.expected[s] for s in names[:at]) + min(max(fraction, 0.0), 1.0) * self.expected.get(stage, 0.0)
        elapsed = self.clock() - self.started
        pace = (elapsed + PRIOR_SECONDS) / (START_SECONDS + done + PRIOR_SECONDS)
        return max(sum(self.expected.values()) - done, 0.0) * pace


def stages(ds: Dataset, checks: Sequence[str]) -> list[str]:
    """The stages a run of `checks` goes through, in order (the scan first when one of them reads pixels)."""
    checks = parse_checks(checks)
    return (["scan"] if ds.has_images and any(c in READS_PIXELS for c in checks) else []) + list(checks)
