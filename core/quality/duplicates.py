"""Duplicate images: exact copies (same bytes) and near copies (re-encoded, resized, slightly cropped).

Exact groups share a content hash. Near copies look alike as whole images: their 24 x 30 thumbnails (each scaled
to zero mean and unit length) lie within LOOK_RADIUS once the better of a few centred crops of either is allowed
for (a cropped copy is a zoomed one), and so do 64 x 80 grey versions read again from the files for the few pairs
that pass (FINE_RADIUS: at 24 x 30, two drawings of one demo person on the same background passed). Candidates come from neighbour searches, never from all pairs: photos whose
face descriptors lie within CANDIDATE_RADIUS (k-means cells, core.quality.neighbours), and each photo without a
face against its nearest photos by a 64-number projection of the thumbnails. Without image files, descriptors within
EMBEDDING_RADIUS decide alone. Groups are the connected pieces of the pairs, listed by whether their photos carry
one identity or several.

The cuts were measured on the real wild CelebA sample (../shared/real/celeba_wild_sample) with 20 planted copies
(JPEG quality 60, resized to 90 %, 4 % cut off each side) and on the 6,000-image demo: the copies lie within 0.13
as thumbnails (0.14 at 64 x 80), and within 0.13 as faces (0.17 when the photos are shrunk to 360 pixels: the face
is found a little differently); two different photos of one sitting lie 0.24 apart as thumbnails (0.29 at 64 x 80),
two drawings of one demo person on the same background 0.14 (0.21 at 64 x 80). A 64-bit perceptual hash could not separate copies from distinct photos (the cropped copies differed in up to
16 bits; 112 pairs of distinct wild photos, and one demo pair in ten, are that close). The wild sample itself holds
3 pairs within the cut, each the same photo saved twice (checked by eye).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from PIL import Image

from core import format as fmt
from core.data.images import MAX_PIXELS
from core.distances import pair_distances
from core.quality.neighbours import close_pairs
from core.quality.projection import principal_axes

# Lazy imports: scipy.sparse.csgraph is imported inside the function that uses it.

LOOK_RADIUS = 0.19  # thumbnails (best centred crop) at most this far apart may be the same image...
FINE_RADIUS = 0.17  # ...and are when their 64 x 80 grey versions, read again from the files, are this close
FINE_SIZE = (64, 80)
CANDIDATE_RADIUS = 0.25  # face descriptors of copies lie within this (candidates; the thumbnails decide)
EMBEDDING_RADIUS = 0.15  # without thumbnails, descriptors at most this far apart (dlib units) are copies
CANDIDATE_LOOK_RADIUS = 0.6  # uncropped thumbnails of a copy lie within this (candidates for photos without a face)
FACELESS_NEIGHBOURS = 10  # nearest thumbnails each photo without a face is compared with
LOOK_COMPONENTS = 64  # thumbnail projection the photos without a face are searched by
FLAT_STD = 4.0  # thumbnails whose grey levels vary less than this (0-255) are blank, not compared
CROPS = (0.96, 0.92, 0.88)  # centred crops (share of width and height) tried against the other thumbnail
BOUND_SLACK = 1e-3  # float32 rounding of the projected bound (far below the cuts' spacing)
ROWS_PER_BLOCK = 20_000  # thumbnails turned into floats at once (a float copy of every one is gigabytes)
PAIR_CHUNK = 5_000  # candidate pairs verified at once (bounds the memory of the cropped thumbnails)

ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class DuplicateAudit:
    """Groups of duplicate images; `groups` has one row per group, `members` one row per image in a group."""

    groups: pl.DataFrame  # group, kind (exact | near), size, identities, scope
    members: pl.DataFrame  # group, row, image_id, identity, content_hash


def look_vectors(thumbs: np.ndarray) -> np.ndarray:
    """(N, h * w * 3) float32 thumbnails scaled to zero mean and unit length (brightness and contrast ignored)."""
    flat = np.asarray(thumbs, np.float32).reshape(len(thumbs), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    return flat / np.where(norms > 0, norms, 1.0)


def _flat(thumbs: np.ndarray) -> np.ndarray:
    """(N,) bool: thumbnails of (nearly) one colour; they all look alike and say nothing about being copies."""
    out = np.zeros(len(thumbs), bool)
    for start in range(0, len(thumbs), ROWS_PER_BLOCK):
        block = np.asarray(thumbs[start : start + ROWS_PER_BLOCK], np.float32)
        out[start : start + ROWS_PER_BLOCK] = block.reshape(len(block), -1).std(axis=1) < FLAT_STD
    return out


def _resample_matrix(n: int, share: float) -> np.ndarray:
    """(n, n) float32 bilinear weights that sample the centred `share` of n pixels back onto n pixels."""
    pos = np.clip((1 - share) / 2 * n + (np.arange(n) + 0.5) * share - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    weights = np.zeros((n, n), np.float32)
    np.add.at(weights, (np.arange(n), lo), 1 - (pos - lo))
    np.add.at(weights, (np.arange(n), hi), pos - lo)
    return weights


def centre_crops(images: np.ndarray, share: float) -> np.ndarray:
    """The centred `share` of each of (m, h, w[, 3]) images, resampled back to (h, w): float32, same shape."""
    h, w = images.shape[1:3]
    rows, cols = _resample_matrix(h, share), _resample_matrix(w, share)
    return np.einsum("ij,mjk...,lk->mil...", rows, np.asarray(images, np.float32), cols, optimize=True)


def look_distances(thumbs, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m,) float64 distance of each pair's thumbnails: the least over uncropped and one side cropped by CROPS.

    thumbs: an (N, h, w[, 3]) array, or anything indexable by row giving such an image.
    """
    out = np.zeros(len(a))
    for start in range(0, len(a), PAIR_CHUNK):
        out[start : start + PAIR_CHUNK] = _look_distances(
            thumbs, a[start : start + PAIR_CHUNK], b[start : start + PAIR_CHUNK]
        )
    return out


def _look_distances(thumbs, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    rows = np.unique(np.concatenate([a, b]))
    if not len(rows):
        return np.zeros(0)
    where = np.searchsorted(rows, [a, b])
    images = np.stack([thumbs[r] for r in rows]).astype(np.float32)
    full = look_vectors(images).astype(np.float64)  # float64 dot products: no rounding-dependent cut
    best = np.sqrt(np.maximum(2.0 - 2.0 * np.einsum("ij,ij->i", full[where[0]], full[where[1]]), 0.0))
    for share in CROPS:
        view = look_vectors(centre_crops(images, share)).astype(np.float64)
        for x, y in ((view[where[0]], full[where[1]]), (full[where[0]], view[where[1]])):
            best = np.minimum(best, np.sqrt(np.maximum(2.0 - 2.0 * np.einsum("ij,ij->i", x, y), 0.0)))
    return best.astype(np.float64)


def _fine_grey(path) -> np.ndarray:
    """(FINE_SIZE[1], FINE_SIZE[0]) uint8 grey version of an image file (zeros when it cannot be read)."""
    try:
        img = Image.open(path)
        if img.width * img.height > MAX_PIXELS:
            raise ValueError("too large")
        img.draft("L", (FINE_SIZE[0] * 2, FINE_SIZE[1] * 2))
        return np.asarray(img.convert("L").resize(FINE_SIZE, Image.Resampling.BILINEAR, reducing_gap=2.0))
    except Exception:  # an unreadable file is no copy of anything
        return np.zeros((FINE_SIZE[1], FINE_SIZE[0]), np.uint8)


def fine_look_distances(paths: Sequence, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m,) look distances of row pairs at FINE_SIZE, each image read once from `paths` (one per row)."""
    rows = np.unique(np.concatenate([a, b]))
    grey = dict(zip(rows.tolist(), (_fine_grey(paths[r]) for r in rows)))
    return look_distances(_RowImages(grey), a, b)


class _RowImages:
    """Row -> image lookup standing in for an (N, h, w) array in look_distances."""

    def __init__(self, images: dict):
        self.images = images

    def __getitem__(self, row) -> np.ndarray:
        return self.images[int(row)]


def projected_looks(thumbs: np.ndarray, rows: np.ndarray, axes: np.ndarray, share: float | None = None) -> np.ndarray:
    """(len(rows), k) float32: those rows' look vectors (of their centred `share` crop if given) on (D, k) axes.

    No centring: differences of projections are then projections of differences.
    """
    out = np.empty((len(rows), axes.shape[1]), np.float32)
    for start in range(0, len(rows), ROWS_PER_BLOCK):
        images = thumbs[rows[start : start + ROWS_PER_BLOCK]]
        if share is not None:
            images = centre_crops(images, share)
        out[start : start + ROWS_PER_BLOCK] = look_vectors(images) @ axes
    return out


@dataclass(frozen=True)
class LookProjection:
    """Look vectors on their leading principal axes (orthonormal, so no distance grows by projecting)."""

    axes: np.ndarray  # (h * w * 3, k) float32
    scores: np.ndarray  # (N, k) float32: each row's uncropped look vector projected; zeros for unusable rows


def look_projection(thumbs: np.ndarray, ok: np.ndarray, seed: int = 0) -> LookProjection:
    """PCA of the look vectors (LOOK_COMPONENTS axes fitted on a seeded sample), every usable row projected."""
    rows = np.flatnonzero(ok)
    if not len(rows):  # nothing to project: one zero axis, every score zero
        return LookProjection(
            np.zeros((int(np.prod(thumbs.shape[1:])), 1), np.float32), np.zeros((len(thumbs), 1), np.float32)
        )

    rng = np.random.default_rng(seed)
    sample = look_vectors(thumbs[np.sort(rng.choice(rows, min(len(rows), 20_000), replace=False))])
    axes = principal_axes(sample, LOOK_COMPONENTS, seed)[1].astype(np.float32).T
    scores = np.zeros((len(thumbs), axes.shape[1]), np.float32)
    scores[rows] = projected_looks(thumbs, rows, axes)
    return LookProjection(axes, scores)


def look_distance_bound(thumbs: np.ndarray, projection: LookProjection, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m,) float32 lower bound of each pair's look_distances: the same least over crops, of projected vectors.

    Each crop's distance is at least its projected distance, so a pair whose bound exceeds LOOK_RADIUS is no copy;
    the full comparison is left to the rest (on the CelebA-size drawn set 356 of 305,544 pairs, a minute saved).
    """
    rows = np.unique(np.concatenate([a, b]))
    where = np.searchsorted(rows, [a, b])
    uncropped = projection.scores
    best = np.linalg.norm(uncropped[a] - uncropped[b], axis=1)
    for share in CROPS:
        cropped = projected_looks(thumbs, rows, projection.axes, share)
        best = np.minimum(best, np.linalg.norm(cropped[where[0]] - uncropped[b], axis=1))
        best = np.minimum(best, np.linalg.norm(uncropped[a] - cropped[where[1]], axis=1))
    return best


def faceless_candidates(proj: np.ndarray, ok: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (query, another readable row): the query's FACELESS_NEIGHBOURS nearest by projected thumbnail, if within
    CANDIDATE_LOOK_RADIUS (a copy is among a photo's very nearest; the cap bounds the work when many look alike)."""
    if not len(queries):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows = np.flatnonzero(ok)
    target, tsq = proj[rows], np.einsum("ij,ij->i", proj[rows], proj[rows])
    out_a, out_b = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    limit = CANDIDATE_LOOK_RADIUS**2 + 1e-3
    k = min(FACELESS_NEIGHBOURS + 1, len(rows))
    for start in range(0, len(queries), 1_024):
        q = queries[start : start + 1_024]
        d2 = np.einsum("ij,ij->i", proj[q], proj[q])[:, None] - 2.0 * (proj[q] @ target.T) + tsq[None, :]
        nearest = (
            np.argpartition(d2, k - 1, axis=1)[:, :k] if k < len(rows) else np.tile(np.arange(len(rows)), (len(q), 1))
        )
        close = np.take_along_axis(d2, nearest, axis=1) <= limit
        i, j = np.nonzero(close)
        a, b = q[i], rows[nearest[i, j]]
        out_a.append(a[a != b])
        out_b.append(b[a != b])
    return np.concatenate(out_a), np.concatenate(out_b)


def exact_pairs(content_hash: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (first row of each hash, each other row with that hash) of rows with equal, non-null content hashes."""
    frame = pl.DataFrame({"h": pl.Series(list(content_hash), dtype=pl.Utf8)}).with_row_index("row")
    frame = frame.drop_nulls("h").with_columns(pl.col("row").min().over("h").alias("first"))
    frame = frame.filter(pl.col("row") != pl.col("first"))
    return frame["first"].to_numpy().astype(np.int64), frame["row"].to_numpy().astype(np.int64)


def near_pairs(
    thumbs: np.ndarray | None,
    readable: np.ndarray | None,
    vectors: np.ndarray | None,
    has_face: np.ndarray | None,
    paths: Sequence | None = None,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs that look like copies, from (N, h, w, 3) thumbnails and/or (N, D) face descriptors (either may be None).

    With thumbnails, the thumbnails decide (LOOK_RADIUS, then FINE_RADIUS on the files at `paths`, one per row)
    among the candidates: descriptor neighbours within CANDIDATE_RADIUS, and for rows without a face, thumbnail
    neighbours. Without thumbnails, descriptors within EMBEDDING_RADIUS. progress(fraction, message) of this step.
    """

    def tell(fraction: float, message: str) -> None:
        if progress:
            progress(fraction, message)

    n = len(thumbs) if thumbs is not None else len(vectors) if vectors is not None else 0
    face = np.zeros(n, bool) if has_face is None or vectors is None else np.asarray(has_face, bool)
    ok = np.zeros(n, bool) if thumbs is None else np.asarray(readable, bool) & ~_flat(thumbs)
    cand_a, cand_b = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    if face.any():
        tell(0.0, "pairing faces that look alike")
        rows = np.flatnonzero(face)
        found = close_pairs(np.asarray(vectors)[rows], CANDIDATE_RADIUS if thumbs is not None else EMBEDDING_RADIUS)
        cand_a.append(rows[found.a])
        cand_b.append(rows[found.b])
    if thumbs is None:
        return np.concatenate(cand_a), np.concatenate(cand_b)
    tell(0.2, "projecting thumbnails")
    projection = look_projection(thumbs, ok)
    proj = projection.scores
    a, b = faceless_candidates(proj, ok, np.flatnonzero(ok & ~face))
    a, b = np.concatenate([*cand_a, a]), np.concatenate([*cand_b, b])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    codes = np.unique(lo * np.int64(max(n, 1)) + hi)
    a, b = codes // max(n, 1), codes % max(n, 1)
    both = ok[a] & ok[b]
    # Pairs where a thumbnail is missing or blank stand on the descriptors alone, at the strict cut.
    keep = ~both & face[a] & face[b]
    keep[keep] = pair_distances(vectors, a[keep], b[keep]) <= EMBEDDING_RADIUS
    # Projected thumbnails first (cheap, never closer than the thumbnails), then the crop-aware comparison.
    near = both & (np.sqrt(((proj[a] - proj[b]) ** 2).sum(axis=1)) <= CANDIDATE_LOOK_RADIUS + 1e-3)
    tell(0.4, f"comparing {fmt.count(int(near.sum()))} pairs of thumbnails")
    near[near] = look_distance_bound(thumbs, projection, a[near], b[near]) <= LOOK_RADIUS + BOUND_SLACK
    keep[near] = look_distances(thumbs, a[near], b[near]) <= LOOK_RADIUS
    if paths is not None:
        fine = keep & both
        tell(0.8, f"reading {fmt.count(int(fine.sum()))} likely pairs again from their files")
        keep[fine] = fine_look_distances(paths, a[fine], b[fine]) <= FINE_RADIUS
    return a[keep], b[keep]


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) component label of every row in the graph of pairs (a, b)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def group_duplicates(
    table: pl.DataFrame, content_hash: Sequence, near_a: np.ndarray, near_b: np.ndarray
) -> DuplicateAudit:
    """Exact groups (same content hash) and near groups (pieces of near + exact pairs with 2+ distinct contents)."""
    n = table.height
    ex_a, ex_b = exact_pairs(content_hash)
    hashes = np.array([h if h is not None else f"\0{i}" for i, h in enumerate(content_hash)], dtype=object)
    pieces = []
    exact_label = _components(n, ex_a, ex_b)
    near_label = _components(n, np.concatenate([ex_a, near_a]), np.concatenate([ex_b, near_b]))
    for kind, label in (("exact", exact_label), ("near", near_label)):
        sizes = np.bincount(label)
        rows = np.flatnonzero(sizes[label] >= 2)
        frame = pl.DataFrame(
            {"piece": label[rows].astype(np.int64), "row": rows.astype(np.int64), "content": hashes[rows].tolist()},
            schema={"piece": pl.Int64, "row": pl.Int64, "content": pl.Utf8},
        )
        if kind == "near":  # a piece of one content only is an exact group, already listed
            frame = frame.filter(pl.col("content").n_unique().over("piece") > 1)
        pieces.append(frame.with_columns(pl.lit(kind).alias("kind")))
    members = pl.concat(pieces).sort(["kind", "piece", "row"])
    identity = table["identity"]
    members = members.with_columns(
        pl.Series("image_id", table["image_id"].gather(members["row"]).to_list(), dtype=pl.Utf8),
        pl.Series("identity", identity.gather(members["row"]).to_list(), dtype=pl.Utf8),
    )
    # Number groups: exact first, then near; each by first row.
    order = members.group_by(["kind", "piece"], maintain_order=True).agg(pl.col("row").min().alias("first"))
    order = order.sort(["kind", "first"]).with_row_index("group", offset=1)
    members = members.join(order.select("kind", "piece", "group"), on=["kind", "piece"]).drop("piece")
    groups = (
        members.group_by(["group", "kind"])
        .agg(
            pl.len().alias("size"),
            pl.col("identity").drop_nulls().n_unique().alias("identities"),
            pl.col("identity").null_count().alias("unlabelled"),
        )
        .with_columns(
            pl.when(pl.col("identities") >= 2)
            .then(pl.lit("across identities"))
            .when((pl.col("identities") == 1) & (pl.col("unlabelled") == 0))
            .then(pl.lit("within one identity"))
            .otherwise(pl.lit("no identity labels"))
            .alias("scope")
        )
        .drop("unlabelled")
        .sort("group")
    )
    members = members.select("group", "row", "image_id", "identity", pl.col("content").alias("content_hash"))
    return DuplicateAudit(
        groups.with_columns(pl.col("size").cast(pl.Int64), pl.col("identities").cast(pl.Int64)), members
    )


def audit_duplicates(
    table: pl.DataFrame,
    scan_table: pl.DataFrame | None,
    thumbs: np.ndarray | None,
    vectors: np.ndarray | None,
    has_face: np.ndarray | None,
    paths: Sequence | None = None,
    progress: ProgressFn | None = None,
) -> DuplicateAudit:
    """Exact and near duplicate groups from the image scan (content hashes, thumbnails) and/or face descriptors."""
    content = scan_table["content_hash"].to_list() if scan_table is not None else [None] * table.height
    readable = scan_table["readable"].to_numpy() if scan_table is not None else None
    near = (lambda f, m: progress(0.05 + 0.85 * f, m)) if progress else None
    a, b = near_pairs(thumbs if scan_table is not None else None, readable, vectors, has_face, paths, near)
    if progress:
        progress(0.9, "grouping duplicates")
    return group_duplicates(table, content, a, b)
