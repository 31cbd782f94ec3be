"""Duplicate images: exact copies (same bytes) and near copies (re-encoded, resized, slightly cropped).

Exact groups share a content hash. Near copies must look alike as whole images: their 24 x 30 thumbnails (each
scaled to zero mean and unit length) within LOOK_RADIUS once the better of a few centred crops of either is
allowed for (a cropped copy is a zoomed one); and, where both faces were found, as faces: descriptors within
EMBEDDING_RADIUS. Candidates come from a neighbour search through k-means cells (core.quality.neighbours), never
from all pairs: the descriptor search for rows with a face, a looser thumbnail search for the others. Groups are the
connected pieces of the pairs, listed by whether their photos carry one identity or several.

The cuts were measured on the real wild CelebA sample (../shared/real/celeba_wild_sample) with 20 planted copies
(JPEG quality 60, resized to 90 %, 4 % cut off each side) and on the 6,000-image demo: the copies lie within 0.13
as faces and 0.16 as thumbnails; two different photos of one sitting lie 0.17 and 0.22 apart; the closest drawn
demo faces 0.22 as thumbnails (thousands of them within 0.15 as faces). A 64-bit perceptual hash could not separate
copies from distinct photos (the cropped copies differed in up to 16 bits; 112 pairs of distinct wild photos, and
one demo pair in ten, are that close). The wild sample itself holds 3 pairs within both cuts, each the same photo
saved twice (checked by eye).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from PIL import Image

from core.quality.neighbours import close_pairs

# Lazy imports: scipy.sparse.csgraph is imported inside the function that uses it.

LOOK_RADIUS = 0.19  # thumbnails (best centred crop) at most this far apart look like the same image
CANDIDATE_LOOK_RADIUS = 0.6  # uncropped thumbnails of a copy lie within this (the search for rows without a face)
CROPS = (0.96, 0.92, 0.88)  # centred crops (share of width and height) tried against the other thumbnail
EMBEDDING_RADIUS = 0.15  # face descriptors at most this far apart (euclidean, dlib units) are the same face shot

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


def _centre_crop(thumb: np.ndarray, share: float) -> np.ndarray:
    """The centred `share` of an (h, w, 3) uint8 thumbnail, resampled back to (h, w)."""
    img = Image.fromarray(thumb)
    w, h = img.size
    box = ((1 - share) / 2 * w, (1 - share) / 2 * h, (1 + share) / 2 * w, (1 + share) / 2 * h)
    return np.asarray(img.resize((w, h), Image.Resampling.BILINEAR, box=box))


def look_distances(thumbs: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m,) float64 distance of each pair's thumbnails: the least over uncropped and one side cropped by CROPS."""
    rows = np.unique(np.concatenate([a, b]))
    if not len(rows):
        return np.zeros(0)
    where = np.searchsorted(rows, [a, b])
    views = [look_vectors(thumbs[rows]).astype(np.float64)]
    views += [look_vectors(np.stack([_centre_crop(thumbs[r], s) for r in rows])).astype(np.float64) for s in CROPS]
    full_a, full_b = views[0][where[0]], views[0][where[1]]
    best = np.sqrt(((full_a - full_b) ** 2).sum(axis=1))
    for view in views[1:]:
        best = np.minimum(best, np.sqrt(((view[where[0]] - full_b) ** 2).sum(axis=1)))
        best = np.minimum(best, np.sqrt(((full_a - view[where[1]]) ** 2).sum(axis=1)))
    return best


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
) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs that look like copies, from (N, h, w, 3) thumbnails and/or (N, D) face descriptors (either may be None).

    Rows with a face: descriptors within EMBEDDING_RADIUS and, where both thumbnails exist, thumbnails within
    LOOK_RADIUS. Rows without one (or without descriptors): thumbnails within LOOK_RADIUS.
    """
    n = len(thumbs) if thumbs is not None else len(vectors) if vectors is not None else 0
    face = np.zeros(n, bool) if has_face is None or vectors is None else np.asarray(has_face, bool)
    ok = np.zeros(n, bool) if thumbs is None else np.asarray(readable, bool)
    cand_a, cand_b = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    if face.any():
        rows = np.flatnonzero(face)
        found = close_pairs(np.asarray(vectors)[rows], EMBEDDING_RADIUS)
        cand_a.append(rows[found.a])
        cand_b.append(rows[found.b])
    rest = np.flatnonzero(ok & ~face)
    if len(rest) >= 2:
        found = close_pairs(look_vectors(thumbs[rest]), CANDIDATE_LOOK_RADIUS)
        cand_a.append(rest[found.a])
        cand_b.append(rest[found.b])
    a, b = np.concatenate(cand_a), np.concatenate(cand_b)
    both = ok[a] & ok[b]
    keep = ~both  # descriptor pairs without two thumbnails stand on the descriptors alone
    keep[both] = look_distances(thumbs, a[both], b[both]) <= LOOK_RADIUS
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
    progress: ProgressFn | None = None,
) -> DuplicateAudit:
    """Exact and near duplicate groups from the image scan (content hashes, thumbnails) and/or face descriptors."""
    content = scan_table["content_hash"].to_list() if scan_table is not None else [None] * table.height
    readable = scan_table["readable"].to_numpy() if scan_table is not None else None
    if progress:
        progress(0.1, "searching near copies (face descriptors and thumbnails)")
    a, b = near_pairs(thumbs if scan_table is not None else None, readable, vectors, has_face)
    if progress:
        progress(0.9, "grouping duplicates")
    return group_duplicates(table, content, a, b)
