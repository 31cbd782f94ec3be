"""Unusable images: unreadable, no face found, several faces, very blurry, very dark or bright, tiny.

The face problems come from the dlib embedding run (core.faces.embed_job.load_status and its per-row face
counts); the others from the image scan (core.quality.scan). The cuts are fixed, not relative to the dataset, so
a clean dataset shows none; they were read off the demo (whose Blurry images are drawn blurred) and the real wild
CelebA sample (../shared/real/celeba_wild_sample).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from core.faces import pipeline as faces

# Sharpness is the variance of the Laplacian at an 88-pixel short side (core.quality.scan.MEASURE_SIDE). On the
# demo, images labelled Blurry have a median of 0.0006 and the sharpest 10 % of them 0.0011; the rest have 1 % below
# 0.0014. The sharpest real wild photo of the sample's blurriest 1 % has 0.0033.
BLURRY_BELOW = 0.0005
BLANK_BELOW = 0.03  # contrast (standard deviation of grey levels, 0-1) of a blank image: not called blurry
DARK_BELOW = 0.12  # mean brightness (0-1); the darkest 1 % of the real wild sample are about 0.15
BRIGHT_ABOVE = 0.90  # the brightest 1 % of the real wild sample are about 0.82
TINY_BELOW = 64  # pixels on the short side: below dlib's smallest findable face at upsample 1 after any crop

PROBLEM_SCHEMA = {"row": pl.Int64, "problem": pl.Utf8, "value": pl.Float64}
PROBLEMS = ("unreadable", "no face found", "several faces", "very blurry", "very dark", "very bright", "tiny")


@dataclass(frozen=True)
class ImageAudit:
    """Images with a problem (one row per image and problem) and what the check could look at."""

    problems: pl.DataFrame  # row, image_id, identity, problem, value
    faces_checked: bool  # False when the dataset has no dlib embedding run to read face counts from


def _rows(mask: np.ndarray, problem: str, values: np.ndarray | None = None) -> pl.DataFrame:
    rows = np.flatnonzero(mask)
    vals = np.full(len(rows), np.nan) if values is None else np.asarray(values, np.float64)[rows]
    return pl.DataFrame(
        {"row": rows.astype(np.int64), "problem": [problem] * len(rows), "value": vals}, schema=PROBLEM_SCHEMA
    )


def audit_images(
    table: pl.DataFrame,
    scan_table: pl.DataFrame | None,
    status: np.ndarray | None,
    n_faces: np.ndarray | None,
) -> ImageAudit:
    """Every (image, problem) pair found from the scan and the embedding run's per-image status and face counts."""
    parts = []
    if scan_table is not None:
        ok = scan_table["readable"].to_numpy()
        parts.append(_rows(~ok, "unreadable"))
        short = np.minimum(scan_table["width"].fill_null(0).to_numpy(), scan_table["height"].fill_null(0).to_numpy())
        sharp = scan_table["sharpness"].fill_null(np.nan).to_numpy()
        bright = scan_table["brightness"].fill_null(np.nan).to_numpy()
        contrast = scan_table["contrast"].fill_null(np.nan).to_numpy()
        parts += [
            _rows(ok & (sharp < BLURRY_BELOW) & (contrast >= BLANK_BELOW), "very blurry", sharp),
            _rows(ok & (bright < DARK_BELOW), "very dark", bright),
            _rows(ok & (bright > BRIGHT_ABOVE), "very bright", bright),
            _rows(ok & (short < TINY_BELOW), "tiny", short),
        ]
    if status is not None:
        readable_by_dlib = status != faces.STATUS_FAILED
        parts.append(_rows(status == faces.STATUS_NO_FACE, "no face found"))
        if scan_table is None:
            parts.append(_rows(~readable_by_dlib, "unreadable"))
    if n_faces is not None:
        parts.append(_rows(n_faces > 1, "several faces", n_faces))
    frame = (
        pl.concat(parts) if parts else pl.DataFrame(schema={"row": pl.Int64, "problem": pl.Utf8, "value": pl.Float64})
    )
    frame = frame.with_columns(
        pl.Series("image_id", table["image_id"].gather(frame["row"]).to_list(), dtype=pl.Utf8),
        pl.Series("identity", table["identity"].gather(frame["row"]).to_list(), dtype=pl.Utf8),
        pl.col("problem").replace_strict({p: i for i, p in enumerate(PROBLEMS)}, return_dtype=pl.Int8).alias("order"),
    )
    frame = frame.sort(["order", "value", "row"]).select("row", "image_id", "identity", "problem", "value")
    return ImageAudit(frame, faces_checked=status is not None)
