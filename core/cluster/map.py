"""The Clustering page's 2-D map as data: the points' table, their colours, what a selection picked.

Two ways to draw it (core/charts/cluster.py): every point on the GPU (WebGL, any size) or an Altair chart of at most
MAP_DRAW_MAX points. Colours: the largest groups get distinct colours, the rest one muted colour, so a map with
hundreds of clusters never recycles a palette; or each point coloured by how crowded its neighbourhood is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from core import format as fmt
from core.data.dataset import Dataset

MAP_DRAW_MAX = 20_000  # Altair's limit: beyond, a browser redraws ~10 MB of JSON on every interaction
ALTAIR_MAX = 5_000  # "auto" draws maps up to this size with Altair, larger ones with WebGL (docs/bench/map.md)
DRAW_METHODS = ("auto", "webgl", "altair")
SELECT_MODES = ("click", "box", "lasso")
DISTINCT_COLOURS = (  # Tableau 20 without its greys: distinct on white, the largest groups get them in this order
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#eeca3b", "#17becf",
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#bcbd22", "#ff7f0e", "#393b79",
)  # fmt: skip
MUTED = "#b4b4b4"  # every group beyond the distinct ones
NOISE = "#dedede"  # points no cluster took (DBSCAN, HDBSCAN)
DENSITY_GRID = 200  # cells per side of the grid that counts neighbours for the density colouring
CROWDED_CELL = 20  # a point in a cell of a 150 x 150 grid with more points than this is hidden by its neighbours
CROWDED_SHARE = 0.5  # ... and when this share of the points is, the page suggests the density colouring
# Selections are computed on the server from their shape: these bound the work one request can ask for (a hand-made
# lasso of 550,000 corners took 14.6 s of CPU). A browser drawing on the map stays far below them.
MAX_SELECTION_VERTICES = 256  # lasso corners; ui/scatter_gl.js sends at most ~200
MAX_LASSO_TESTS = 64_000_000  # corners x points in the lasso's bounding box (in_polygon's work): ~1.5 s here
MAP_VIEW_PARAM = "mview"  # the WebGL map's view in a page link: centre x, centre y (data units), zoom (1: whole map)


@dataclass(frozen=True)
class Palette:
    """Colour groups of a map: per point its group's position in `names` (drawn in that order), and a colour each."""

    names: tuple[str, ...]
    colours: tuple[str, ...]
    counts: tuple[int, ...]
    group: np.ndarray  # (n,) int16 index into names


def draw_method(requested: str, n: int, select_mode: str = "click") -> str:
    """'webgl' or 'altair': what was asked for, or for 'auto' Altair up to ALTAIR_MAX points (lasso: WebGL only)."""
    if requested not in DRAW_METHODS:
        raise ValueError(f"unknown drawing method {requested!r}; choose one of {', '.join(DRAW_METHODS)}")
    if requested != "auto":
        return requested
    return "altair" if n <= ALTAIR_MAX and select_mode != "lasso" else "webgl"


def drawn_positions(n: int, seed: int = 0, limit: int | None = None) -> np.ndarray:
    """Sorted positions of the points to draw: all of them, or a seeded sample of `limit` (MAP_DRAW_MAX)."""
    limit = MAP_DRAW_MAX if limit is None else limit
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def cluster_names(labels: np.ndarray) -> np.ndarray:
    """(n,) str: the cluster number, or 'noise' for -1."""
    return np.where(labels < 0, "noise", labels.astype(str))


def largest_first(
    values: np.ndarray, what: str, distinct: int = len(DISTINCT_COLOURS), rest: str = "", noise=None
) -> Palette:
    """The `distinct` most frequent values each get a colour, every other value one muted colour (`noise` its own).

    values: (n,) str or int (cluster labels, noise=-1). Groups are listed (and drawn) muted first, so the distinct
    colours sit on top; ties in size go in order of the value.
    """
    codes, uniq = pd.factorize(np.asarray(values), sort=True)  # hashing: 10x faster than np.unique on 200k strings
    counts = np.bincount(codes, minlength=len(uniq))
    is_noise = uniq == noise if noise is not None else np.zeros(len(uniq), bool)
    ranked = [int(i) for i in np.lexsort((np.arange(len(uniq)), -counts)) if not is_noise[i]]
    top, others = ranked[:distinct], ranked[distinct:]
    names, colours, sizes, slot = [], [], [], np.zeros(len(uniq), np.int16)
    if is_noise.any():
        slot[is_noise] = len(names)
        names.append("noise")
        colours.append(NOISE)
        sizes.append(int(counts[is_noise].sum()))
    if others:
        slot[others] = len(names)
        names.append(f"other {len(others):,} {rest or what + 's'}")
        colours.append(MUTED)
        sizes.append(int(counts[others].sum()))
    for k, i in enumerate(reversed(top)):  # the largest last: drawn on top
        slot[i] = len(names)
        names.append(f"{what} {uniq[i]}")
        colours.append(DISTINCT_COLOURS[len(top) - 1 - k])
        sizes.append(int(counts[i]))
    return Palette(tuple(names), tuple(colours), tuple(sizes), slot[codes])


def present_absent(values: np.ndarray, attribute: str) -> Palette:
    """Two groups: images with the attribute (drawn on top) and without."""
    has = np.asarray(values) > 0
    return Palette(
        (f"no {attribute}", attribute),
        (MUTED, DISTINCT_COLOURS[1]),
        (int((~has).sum()), int(has.sum())),
        has.astype(np.int16),
    )


def density(coords: np.ndarray, grid: int = DENSITY_GRID) -> np.ndarray:
    """(n,) float64 in [0, 1]: log of how many points share each point's cell of a grid x grid raster, scaled."""
    if not len(coords):
        return np.zeros(0)
    cells = _cells(coords, grid)
    counts = np.bincount(cells, minlength=grid * grid)[cells]
    logs = np.log1p(counts.astype(np.float64))
    return logs / logs.max()


def crowded_share(coords: np.ndarray, grid: int = 150, cell_limit: int = CROWDED_CELL) -> float:
    """Share of the points sitting in a raster cell with more than `cell_limit` others: hidden by overdraw."""
    if not len(coords):
        return 0.0
    cells = _cells(coords, grid)
    counts = np.bincount(cells, minlength=grid * grid)[cells]
    return float((counts > cell_limit).mean())


def _cells(coords: np.ndarray, grid: int) -> np.ndarray:
    xy = np.asarray(coords, np.float64)
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    ij = np.clip(((xy - low) / span * grid).astype(np.int64), 0, grid - 1)
    return ij[:, 0] * grid + ij[:, 1]


def map_frame(
    ds: Dataset, rows: np.ndarray, coords: np.ndarray, labels: np.ndarray, color_attribute: str | None
) -> pl.DataFrame:
    """x, y, image_id, identity, cluster (str, 'noise' for -1) and optionally one attribute as 'present'/'absent'."""
    table = ds.table[rows]
    frame = pl.DataFrame(
        {
            "x": coords[:, 0],
            "y": coords[:, 1],
            "image_id": table["image_id"],
            "identity": table["identity"].fill_null("–"),
            "cluster": cluster_names(labels).tolist(),
        }
    )
    if color_attribute:
        frame = frame.with_columns(
            pl.Series(color_attribute, np.where(table[color_attribute].to_numpy() > 0, "present", "absent"))
        )
    return frame


def picked_image_ids(picked, frame: pl.DataFrame) -> list[str]:
    """Image ids an Altair selection picked: a list of clicked points, or an {x: [..], y: [..]} box."""
    if not picked:
        return []
    if isinstance(picked, list):
        return [p["image_id"] for p in picked if "image_id" in p]
    if "x" in picked and "y" in picked:
        (x0, x1), (y0, y1) = sorted(picked["x"]), sorted(picked["y"])
        inside = frame.filter(pl.col("x").is_between(x0, x1) & pl.col("y").is_between(y0, y1))
        return inside["image_id"].to_list()
    return list(picked.get("image_id", []))


def in_box(coords: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    """(k,) positions of the points inside the box (edges included), in order."""
    xy = _as_drawn(coords)
    x, y = xy[:, 0], xy[:, 1]
    (x0, x1), (y0, y1) = sorted((x0, x1)), sorted((y0, y1))
    return np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))


def _as_drawn(coords: np.ndarray) -> np.ndarray:
    """The positions as the browser holds them (float32), in float64: both sides test the very same numbers."""
    return np.asarray(coords, np.float32).astype(np.float64)


def in_polygon(coords: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(k,) positions of the points inside a lasso (even-odd rule; the same test the browser draws with)."""
    poly = np.asarray(polygon, np.float64)
    if len(poly) < 3:
        return np.zeros(0, np.int64)
    low, high = poly.min(axis=0), poly.max(axis=0)
    candidates = in_box(coords, low[0], high[0], low[1], high[1])
    xy = _as_drawn(coords[candidates])
    x, y = xy[:, 0], xy[:, 1]
    inside = np.zeros(len(candidates), bool)
    for (xi, yi), (xj, yj) in zip(poly, np.roll(poly, 1, axis=0)):
        if yi == yj:
            continue  # a horizontal edge crosses no ray
        crosses = ((yi > y) != (yj > y)) & (x < (xj - xi) * (y - yi) / (yj - yi) + xi)
        inside ^= crosses
    return candidates[inside]


def selection_problem(selection, coords: np.ndarray) -> str | None:
    """Why the server will not compute a WebGL map selection ({kind: box|lasso|point, box|polygon|index}), or None.

    Checked before any work on the shape: a lasso has at most MAX_SELECTION_VERTICES corners (counted before they
    are read) and at most MAX_LASSO_TESTS corner-point tests (its corners times the points inside its bounding box,
    the "area" it reaches); every number is finite, a box has four, a point is a position on the map. coords: (n, 2).
    """
    if not isinstance(selection, dict):
        return "not a selection"
    kind = selection.get("kind")
    if kind == "lasso":
        return _lasso_problem(selection.get("polygon"), coords)
    if kind == "box":
        box = selection.get("box")
        if not isinstance(box, list | tuple) or len(box) != 4 or not _finite_numbers(box):
            return "a box that is not four finite numbers"
        return None
    if kind == "point":
        index = selection.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(coords):
            return "a point that is not on the map"
        return None
    return f"an unknown kind of selection ({str(kind)[:20]!r})"


def _lasso_problem(polygon, coords: np.ndarray) -> str | None:
    if not isinstance(polygon, list | tuple):
        return "a lasso without corners"
    if len(polygon) > MAX_SELECTION_VERTICES:
        return f"a lasso of {fmt.count(len(polygon))} corners (the map sends at most {MAX_SELECTION_VERTICES})"
    if not all(isinstance(c, list | tuple) and len(c) == 2 and _finite_numbers(c) for c in polygon):
        return "a lasso whose corners are not pairs of finite numbers"
    if len(polygon) < 3:
        return None  # encloses nothing: in_polygon returns at once
    corners = np.asarray(polygon, np.float64)
    low, high = corners.min(axis=0), corners.max(axis=0)
    tests = len(corners) * len(in_box(coords, low[0], high[0], low[1], high[1]))
    if tests > MAX_LASSO_TESTS:
        return (
            f"a lasso that would test {fmt.count(tests)} corner-point pairs (at most {fmt.count(MAX_LASSO_TESTS)}): "
            "draw a simpler one"
        )
    return None


def _finite_numbers(values) -> bool:
    """Whether every value is a number (not a boolean) that a float64 holds, finite (JSON's numbers, checked)."""
    try:
        return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v)) for v in values)
    except OverflowError:  # an integer beyond any float
        return False


def selected_positions(selection, coords: np.ndarray, version: str) -> np.ndarray:
    """Positions a WebGL map selection picked: {version, kind: box|lasso|point, box|polygon|index}.

    Computed here from the shape rather than trusted from the browser; a selection made on another map (its
    `version` differs: other points, another projection) picks nothing.
    """
    if not isinstance(selection, dict) or selection.get("version") != version:
        return np.zeros(0, np.int64)
    if selection_problem(selection, coords) is not None:  # a shape no browser sends: no work at all
        return np.zeros(0, np.int64)
    kind = selection.get("kind")
    try:
        if kind == "box":
            x0, x1, y0, y1 = (float(v) for v in selection["box"])
            return in_box(coords, x0, x1, y0, y1)
        if kind == "lasso":
            return in_polygon(coords, np.asarray(selection["polygon"], np.float64).reshape(-1, 2))
        if kind == "point":
            index = int(selection["index"])
            return np.array([index]) if 0 <= index < len(coords) else np.zeros(0, np.int64)
    except (KeyError, TypeError, ValueError):
        pass
    return np.zeros(0, np.int64)


def parse_map_view(text: str | None) -> tuple[float, float, float] | None:
    """A link's map view 'x,y,zoom' as three numbers (zoom > 0), or None when absent or malformed."""
    try:
        values = tuple(float(v) for v in (text or "").split(","))
    except ValueError:
        return None
    if len(values) != 3 or not all(np.isfinite(values)) or not 0 < values[2] < 1e9:
        return None
    return values


def map_view_text(view: tuple[float, float, float]) -> str:
    """How a map view is written in a link: six significant digits for the centre, four for the zoom."""
    x, y, zoom = view
    return f"{x:.6g},{y:.6g},{zoom:.4g}"
