"""The Clustering page's 2-D map as data: the points' table, what a selection picked, the job that computes it."""

from __future__ import annotations

import numpy as np
import polars as pl

from core.data.dataset import Dataset

MAP_DRAW_MAX = 20_000  # points drawn on the map; beyond, a browser redraws ~10 MB of JSON on every interaction


def drawn_positions(n: int, seed: int = 0, limit: int | None = None) -> np.ndarray:
    """Sorted positions of the points to draw: all of them, or a seeded sample of `limit` (MAP_DRAW_MAX)."""
    limit = MAP_DRAW_MAX if limit is None else limit
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def map_frame(
    ds: Dataset, rows: np.ndarray, coords: np.ndarray, labels: np.ndarray, color_attribute: str | None
) -> pl.DataFrame:
    """x, y, image_id, identity, cluster (str, 'noise' for -1) and optionally one attribute as 'present'/'absent'."""
    table = ds.table[rows]
    names = np.where(labels < 0, "noise", labels.astype(str))
    frame = pl.DataFrame(
        {
            "x": coords[:, 0],
            "y": coords[:, 1],
            "image_id": table["image_id"],
            "identity": table["identity"].fill_null("–"),
            "cluster": names.tolist(),
        }
    )
    if color_attribute:
        frame = frame.with_columns(
            pl.Series(color_attribute, np.where(table[color_attribute].to_numpy() > 0, "present", "absent"))
        )
    return frame


def picked_image_ids(picked, frame: pl.DataFrame) -> list[str]:
    """Image ids a map selection picked: a list of clicked points, or an {x: [..], y: [..]} box."""
    if not picked:
        return []
    if isinstance(picked, list):
        return [p["image_id"] for p in picked if "image_id" in p]
    if "x" in picked and "y" in picked:
        (x0, x1), (y0, y1) = sorted(picked["x"]), sorted(picked["y"])
        inside = frame.filter(pl.col("x").is_between(x0, x1) & pl.col("y").is_between(y0, y1))
        return inside["image_id"].to_list()
    return list(picked.get("image_id", []))
