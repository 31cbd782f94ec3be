"""Suspect identity labels: photos filed under the wrong person, and people filed under two identities.

Both use the dataset's own same-person distance (core.faces.calibration: the cut between distances of
same-identity and different-identity pairs, measured on this dataset's labels).

- A photo is suspect when the median distance to the other photos of its identity is above the cut (it does not
  look like them). It looks like another identity when its median distance to that identity's photos is as small
  as most photos' median distance to their own identity's (at most MATCH_QUANTILE of them): "below the cut" alone
  took look-alikes for misfiled photos (23 of the 6,000-image demo's correctly filed photos; none with this rule,
  and 108 of 120 photos moved to another identity found with no false one, docs/bench/quality.md). The identities
  compared are each photo's nearest identity centroids, so the cost grows with photos x candidates, not
  photos x identities x photos. A photo far from its own identity and like no other is listed apart ("unlike its
  identity": a bad crop, a different person not in the dataset, or a look change).
- Two identities look like one person filed twice when the median distance between their photos is below the cut
  and about that within the looser of the two (TWIN_SLACK; look-alikes are close, not that close).
Medians, not means or nearest photos: one wrong photo must not make a person look like someone else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from core.faces.calibration import Calibration

CANDIDATES = 3  # other identities (nearest centroids) each photo is compared with
TWIN_CANDIDATES = 3  # other identities each identity is compared with
# Twins: the median distance across two identities at most this many times the looser one's own median. On the
# wild sample one identity split in two gave 0.40 across against 0.45 and 0.38 within; the closest look-alike
# identities 0.63 across against 0.52 within.
TWIN_SLACK = 1.1
MIN_OTHERS = 2  # a photo needs this many other photos of its identity to be judged
# "Looks like that identity": as close to its photos as this share of the photos judged are to their own identity's.
MATCH_QUANTILE = 0.9
BLOCK = 4_096

ProgressFn = Callable[[float, str], None]

SUSPECT_KINDS = ("another identity's face", "unlike its identity")


@dataclass(frozen=True)
class IdentityAudit:
    """What the identity check found; the tables are what the page shows and exports."""

    suspects: pl.DataFrame  # row, image_id, identity, kind, own_median, own_photos, match_identity, match_median
    twins: pl.DataFrame  # identity_a, identity_b, photos_a, photos_b, cross_median, within_a, within_b
    threshold: float
    judged: int  # photos with enough other photos of their identity to be judged
    match_cut: float  # median distance to another identity's photos below which a photo looks like that identity


@dataclass(frozen=True)
class _Groups:
    """Rows grouped by identity: rows[starts[g]:starts[g] + sizes[g]] are identity g's rows."""

    names: np.ndarray  # (G,) str
    rows: np.ndarray  # (n,) int64, sorted by group
    starts: np.ndarray  # (G,) int64
    sizes: np.ndarray  # (G,) int64
    group_of: np.ndarray  # (N,) int64, -1 for rows outside every group

    def members(self, g: int) -> np.ndarray:
        return self.rows[self.starts[g] : self.starts[g] + self.sizes[g]]


def _groups(identity: Sequence, usable: np.ndarray) -> _Groups:
    labels = np.array(["" if v is None else str(v) for v in identity], dtype=str)
    keep = np.flatnonzero(usable & (labels != ""))
    names, inverse = np.unique(labels[keep], return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    sizes = np.bincount(inverse, minlength=len(names)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    group_of = np.full(len(labels), -1, np.int64)
    group_of[keep] = inverse
    return _Groups(names, keep[order].astype(np.int64), starts, sizes, group_of)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) float64 euclidean distances, computed as differences (exact, BLAS-independent)."""
    out = np.empty((len(a), len(b)))
    for start in range(0, len(a), 256):
        diff = a[start : start + 256, None, :] - b[None, :, :]
        out[start : start + 256] = np.sqrt((diff**2).sum(axis=2))
    return out


def _centroids(X: np.ndarray, groups: _Groups) -> np.ndarray:
    sums = np.add.reduceat(X[groups.rows], groups.starts, axis=0) if len(groups.rows) else np.zeros((0, X.shape[1]))
    return sums / groups.sizes[:, None]


def _nearest_other(C: np.ndarray, Q: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    """(len(Q), k) indices of the k centroids nearest to each query, leaving out its own group (-1 pads)."""
    k = min(k, len(C) - 1)
    out = np.full((len(Q), max(k, 0)), -1, np.int64)
    if k <= 0:
        return out
    c32 = C.astype(np.float32)
    csq = np.einsum("ij,ij->i", c32, c32)
    for start in range(0, len(Q), BLOCK):
        q = Q[start : start + BLOCK].astype(np.float32)
        d2 = csq[None, :] - 2.0 * (q @ c32.T)  # ranking only: the query's own norm is a constant
        mine = own[start : start + BLOCK]
        valid = mine >= 0
        d2[np.flatnonzero(valid), mine[valid]] = np.inf
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d2, part, axis=1), axis=1, kind="stable")
        out[start : start + len(q)] = np.take_along_axis(part, order, axis=1)
    return out


def _own_medians(X: np.ndarray, groups: _Groups) -> tuple[np.ndarray, np.ndarray]:
    """(N,) median distance of each photo to the other photos of its identity (nan below MIN_OTHERS), and counts."""
    median = np.full(len(X), np.nan)
    others = np.zeros(len(X), np.int64)
    for g in np.flatnonzero(groups.sizes > MIN_OTHERS):
        rows = groups.members(g)
        d = _distances(X[rows], X[rows])
        np.fill_diagonal(d, np.nan)
        median[rows] = np.nanmedian(d, axis=1)
        others[rows] = len(rows) - 1
    return median, others


def _candidate_medians(X: np.ndarray, groups: _Groups, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(len(rows), k) median distance of each photo to the photos of each of its candidate identities."""
    out = np.full(candidates.shape, np.inf)
    flat = candidates.ravel()
    owner = np.repeat(np.arange(len(rows)), candidates.shape[1])
    col = np.tile(np.arange(candidates.shape[1]), len(rows))
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(len(groups.names) + 1))
    for g in np.flatnonzero(np.diff(bounds)):
        picks = order[bounds[g] : bounds[g + 1]]
        d = _distances(X[rows[owner[picks]]], X[groups.members(g)])
        out[owner[picks], col[picks]] = np.median(d, axis=1)
    return out


def suspect_photos(
    X: np.ndarray, groups: _Groups, threshold: float, table: pl.DataFrame
) -> tuple[pl.DataFrame, int, float]:
    """Photos unlike their identity's other photos (and the identity they resemble, if any); how many were judged;
    and the median distance below which a photo looks like another identity (match cut)."""
    own, others = _own_medians(X, groups)
    judged = np.flatnonzero(~np.isnan(own))
    match_cut = min(threshold, float(np.quantile(own[judged], MATCH_QUANTILE))) if len(judged) else threshold
    far = judged[own[judged] > threshold]
    centroids = _centroids(X, groups)
    candidates = _nearest_other(centroids, X[far], groups.group_of[far], CANDIDATES)
    medians = _candidate_medians(X, groups, far, candidates) if len(far) else np.zeros((0, CANDIDATES))
    best = np.argmin(medians, axis=1) if medians.shape[1] else np.zeros(len(far), np.int64)
    match_median = medians[np.arange(len(far)), best] if medians.shape[1] else np.full(len(far), np.inf)
    match = candidates[np.arange(len(far)), best] if medians.shape[1] else np.full(len(far), -1)
    resembles = match_median < match_cut
    frame = pl.DataFrame(
        {
            "row": far.astype(np.int64),
            "image_id": table["image_id"].gather(far).to_list(),
            "identity": groups.names[groups.group_of[far]].tolist(),
            "kind": np.where(resembles, SUSPECT_KINDS[0], SUSPECT_KINDS[1]).tolist(),
            "own_median": own[far],
            "own_photos": others[far],
            "match_identity": [groups.names[m] if r else None for m, r in zip(match, resembles)],
            "match_median": np.where(resembles, match_median, np.nan),
        },
        schema=SUSPECT_SCHEMA,
    )
    # Misfiled photos first (largest margin between own and matching identity), then the rest by own distance.
    frame = frame.with_columns(
        (pl.col("own_median") - pl.col("match_median").fill_nan(None).fill_null(pl.col("own_median"))).alias("margin")
    ).sort(["kind", "margin", "own_median"], descending=[False, True, True])
    return frame.drop("margin"), len(judged), match_cut


def twin_identities(X: np.ndarray, groups: _Groups, threshold: float) -> pl.DataFrame:
    """Pairs of identities (each with 2+ photos) whose photos are, in median, closer than the same-person cut."""
    multi = np.flatnonzero(groups.sizes >= 2)
    centroids = _centroids(X, groups)
    if len(multi) < 2:
        return pl.DataFrame(schema=TWIN_SCHEMA)
    near = _nearest_other(centroids[multi], centroids[multi], np.arange(len(multi)), TWIN_CANDIDATES)
    pairs = {tuple(sorted((int(multi[i]), int(multi[j])))) for i in range(len(multi)) for j in near[i] if j >= 0}
    records = []
    for a, b in sorted(pairs):
        ra, rb = groups.members(a), groups.members(b)
        cross = float(np.median(_distances(X[ra], X[rb])))
        within_a, within_b = _within_median(X[ra]), _within_median(X[rb])
        # About as close across the two identities as within the looser one: a look-alike pair is not.
        if cross < threshold and cross <= TWIN_SLACK * np.nanmax([within_a, within_b]):
            records.append(
                {
                    "identity_a": str(groups.names[a]),
                    "identity_b": str(groups.names[b]),
                    "photos_a": len(ra),
                    "photos_b": len(rb),
                    "cross_median": cross,
                    "within_a": within_a,
                    "within_b": within_b,
                }
            )
    frame = pl.DataFrame(records, schema=TWIN_SCHEMA) if records else pl.DataFrame(schema=TWIN_SCHEMA)
    return frame.sort("cross_median")


def _within_median(V: np.ndarray) -> float:
    d = _distances(V, V)
    upper = d[np.triu_indices(len(V), 1)]
    return float(np.median(upper)) if len(upper) else float("nan")


def audit_identities(
    table: pl.DataFrame,
    vectors: np.ndarray,
    has_face: np.ndarray,
    calibration: Calibration,
    progress: ProgressFn | None = None,
) -> IdentityAudit:
    """Suspect photos and twin identities of a dataset from its (N, D) face descriptors and calibrated cut."""
    X = np.asarray(vectors, np.float64)
    groups = _groups(table["identity"].to_list(), np.asarray(has_face, bool))
    if progress:
        progress(0.0, "comparing each photo with its identity's other photos")
    suspects, judged, match_cut = suspect_photos(X, groups, calibration.threshold, table)
    if progress:
        progress(0.6, "comparing identities with their nearest identities")
    twins = twin_identities(X, groups, calibration.threshold)
    return IdentityAudit(suspects, twins, calibration.threshold, judged, match_cut)


SUSPECT_SCHEMA = {
    "row": pl.Int64,
    "image_id": pl.Utf8,
    "identity": pl.Utf8,
    "kind": pl.Utf8,
    "own_median": pl.Float64,
    "own_photos": pl.Int64,
    "match_identity": pl.Utf8,
    "match_median": pl.Float64,
}
TWIN_SCHEMA = {
    "identity_a": pl.Utf8,
    "identity_b": pl.Utf8,
    "photos_a": pl.Int64,
    "photos_b": pl.Int64,
    "cross_median": pl.Float64,
    "within_a": pl.Float64,
    "within_b": pl.Float64,
}
