"""Altair charts for the Clustering page; each returns an alt.Chart and the page decides where it goes."""

from __future__ import annotations

import gzip
import hashlib
import json

import altair as alt
import numpy as np
import pandas as pd
import polars as pl

from core.cluster.map import Palette

# Lazy imports: SciPy's submodules are imported inside the functions that use them, so pages and commands that never
# call them do not pay their import time and memory on a shared server.

SELECTION = "picked"  # name of the point/lasso selection on the map
VIRIDIS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725")
DENSITY_LABELS = ("sparse", "crowded")


def cluster_map(frame: pl.DataFrame, color: str, palette: Palette | None = None, lasso: bool = False) -> alt.Chart:
    """Scatter of x, y coloured by `color`, tooltips image_id/identity/cluster, zoom/pan, point or box selection.

    frame: x, y, image_id, identity, cluster (str), plus the colour column: a group name of `palette` (the largest
    groups distinct, the rest muted), or a number in [0, 1] (density) when palette is None.
    """
    select = (
        alt.selection_interval(name=SELECTION, encodings=["x", "y"])
        if lasso
        else alt.selection_point(name=SELECTION, fields=["image_id"])
    )
    if palette is not None:
        order = list(reversed(palette.names))  # the largest group first in the legend
        colour = alt.Color(
            f"{color}:N",
            sort=order,
            scale=alt.Scale(domain=order, range=list(reversed(palette.colours))),
            legend=alt.Legend(columns=2, symbolLimit=len(order), title=None),
        )
    else:
        colour = alt.Color(f"{color}:Q", scale=alt.Scale(range=list(VIRIDIS)), legend=alt.Legend(title=color))
    chart = (
        alt.Chart(frame.to_pandas())
        .mark_circle(size=28, opacity=0.75)
        .encode(
            x=alt.X("x:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("y:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            color=colour,
            tooltip=["image_id", "identity", "cluster"],
        )
        .add_params(select)
        .properties(height=520, width="container")
    )
    if not lasso:
        chart = chart.interactive()  # zoom/pan (a box selection uses the drag instead)
    return chart


def point_size(n: int) -> float:
    """Pixels per point on the WebGL map: large on small maps, small where hundreds of thousands share the area."""
    return 6.0 if n <= 2_000 else 4.0 if n <= 20_000 else 3.0 if n <= 100_000 else 2.5


def map_version(coords: np.ndarray) -> str:
    """A name for these map positions: a selection made on other positions is not applied to them."""
    return hashlib.blake2b(np.ascontiguousarray(coords, np.float32).tobytes(), digest_size=8).hexdigest()


def webgl_map(
    coords: np.ndarray,
    image_ids: np.ndarray,
    labels: np.ndarray,
    identities: np.ndarray | None,
    colour: Palette | np.ndarray,
    mode: str = "click",
    height: int = 520,
    tip_group: bool = False,
) -> bytes:
    """Every point of the map as one binary blob for ui/scatter_gl.js (what it draws, hovers and selects).

    coords (n, 2) float32; image_ids (n,) str; labels (n,) int (-1 noise); identities (n,) str or None; colour a
    Palette (one group per point) or (n,) floats in [0, 1] (density). Layout: uint32 header length, JSON header, then
    the arrays named in header["arrays"] (each 4-byte aligned, in the points' own order), gzip-compressed as one
    stream: 202,599 points travel as ~3 MB instead of 7 MB, which a visitor on a slow link feels most. `c` is each
    point's colour code (a palette index); the browser draws in ascending code order, ties in point order (muted
    groups or sparse points first, so the distinct colours and crowded points sit on top).
    """
    n = len(coords)
    header: dict = {"n": n, "version": map_version(coords), "mode": mode, "height": height}
    header["point_size"] = point_size(n)
    if isinstance(colour, Palette):
        code = np.asarray(colour.group, np.uint8)
        header["palette"] = list(colour.colours)
        header["legend"] = [
            {"name": a, "colour": b, "count": k} for a, b, k in zip(colour.names, colour.colours, colour.counts)
        ]
        header["tip_group"] = tip_group
    else:
        code = np.rint(np.clip(np.asarray(colour, np.float64), 0, 1) * 255).astype(np.uint8)
        header["palette"] = _ramp(VIRIDIS, 256)
        header["legend"] = []
        header["colorbar"] = list(DENSITY_LABELS)
    labels = np.asarray(labels)
    small = labels.size == 0 or (labels.min() >= np.iinfo(np.int16).min and labels.max() <= np.iinfo(np.int16).max)
    arrays = {
        "x": np.asarray(coords[:, 0], np.float32),
        "y": np.asarray(coords[:, 1], np.float32),
        "c": code,
        "cluster": labels.astype(np.int16 if small else np.int32),
        "ids": np.frombuffer("\n".join(np.asarray(image_ids, str).tolist()).encode(), np.uint8),
    }
    if identities is not None:
        codes, names = pd.factorize(np.asarray(identities, str), sort=True)
        header["identities"] = names.tolist()
        arrays["identity"] = codes.astype(np.uint16 if len(names) <= np.iinfo(np.uint16).max else np.int32)
    header["arrays"] = [[name, a.dtype.str[1:], len(a)] for name, a in arrays.items()]
    header["digest"] = _digest(header, arrays)
    head = json.dumps(header, separators=(",", ":")).encode()
    parts = []
    size = 0
    for a in arrays.values():
        parts.append(b"\0" * (-size % 4))
        size += -size % 4
        parts.append(a.tobytes())
        size += a.nbytes
    # Level 1: four times faster than the default for 5% more bytes (the blob is built once per map and colouring).
    return np.uint32(len(head)).tobytes() + head + gzip.compress(b"".join(parts), compresslevel=1, mtime=0)


def _digest(header: dict, arrays: dict[str, np.ndarray]) -> str:
    """What the browser draws, as a name (the page's selection mode aside): a rerun that sends the same map again
    (every selection reruns the page) is not parsed and uploaded to the GPU again."""
    h = hashlib.blake2b(json.dumps({k: v for k, v in header.items() if k != "mode"}).encode(), digest_size=8)
    for a in arrays.values():
        h.update(a.tobytes())
    return h.hexdigest()


def read_webgl_map(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The header and arrays of a webgl_map blob (what the browser reads; for tests and benches)."""
    length = int(np.frombuffer(blob[:4], np.uint32)[0])
    header = json.loads(blob[4 : 4 + length])
    body = gzip.decompress(blob[4 + length :])
    offset, arrays = 0, {}
    for name, kind, count in header["arrays"]:
        offset += -offset % 4
        dtype = np.dtype("<" + kind)
        arrays[name] = np.frombuffer(body, dtype, count, offset)
        offset += count * dtype.itemsize
    return header, arrays


def _ramp(anchors: tuple[str, ...], steps: int) -> list[str]:
    """`steps` colours evenly interpolated between the anchor colours."""
    rgb = np.array([[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in anchors], np.float64)
    at = np.linspace(0, len(anchors) - 1, steps)
    out = np.stack([np.interp(at, np.arange(len(anchors)), rgb[:, k]) for k in range(3)], axis=1).round().astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in out]


def elbow_chart(sweep: pl.DataFrame) -> alt.Chart:
    """Inertia and silhouette against k, side by side."""
    data = sweep.to_pandas()
    base = alt.Chart(data).encode(x=alt.X("k:Q", title="k"))
    inertia = base.mark_line(point=True).encode(
        y=alt.Y("inertia:Q", title="inertia (elbow)", scale=alt.Scale(zero=False))
    )
    silhouette = base.mark_line(point=True, color="#e45756").encode(y=alt.Y("silhouette:Q", title="silhouette"))
    return alt.hconcat(inertia.properties(width=320, height=220), silhouette.properties(width=320, height=220))


def k_distance_chart(curve: np.ndarray, suggested: float, k: int) -> alt.Chart:
    """Sorted k-th neighbour distances with the suggested eps as a rule."""
    step = max(1, len(curve) // 2000)
    data = pl.DataFrame({"point": np.arange(0, len(curve), step), "distance": curve[::step]}).to_pandas()
    line = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("point:Q", title="points sorted by distance"),
            y=alt.Y("distance:Q", title=f"distance to neighbour {k}"),
        )
    )
    rule = (
        alt.Chart(pl.DataFrame({"eps": [suggested]}).to_pandas())
        .mark_rule(color="#e45756", strokeDash=[4, 3])
        .encode(y="eps:Q", tooltip=[alt.Tooltip("eps:Q", format=".3f")])
    )
    return (line + rule).properties(height=240)


def heatmap(frame: pl.DataFrame, x: str, y: str, value: str, title: str, fmt: str = ".2f") -> alt.Chart:
    """A rect heatmap of value over (x, y) with tooltips."""
    return (
        alt.Chart(frame.to_pandas())
        .mark_rect()
        .encode(
            x=alt.X(f"{x}:O", title=x),
            y=alt.Y(f"{y}:O", title=y),
            color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="viridis"), title=value),
            tooltip=[x, y, alt.Tooltip(f"{value}:Q", format=fmt)],
        )
        .properties(title=title)
    )


def distance_matrix_frame(clusters: np.ndarray, distances: np.ndarray) -> pl.DataFrame:
    """Long form (cluster_a, cluster_b, distance) of a (k, k) matrix."""
    k = len(clusters)
    return pl.DataFrame(
        {
            "cluster_a": np.repeat(clusters, k).astype(np.int64),
            "cluster_b": np.tile(clusters, k).astype(np.int64),
            "distance": distances.ravel(),
        }
    )


def dendrogram_chart(
    X: np.ndarray, linkage: str = "ward", metric: str = "euclidean", labels: list[str] | None = None
) -> alt.Chart:
    """scipy's dendrogram (no plotting) drawn as Altair line segments; for subsets that fit on screen."""
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import pdist

    method = linkage
    Z = (
        hierarchy.linkage(X, method="ward")
        if linkage == "ward"
        else hierarchy.linkage(pdist(X, metric="cityblock" if metric == "manhattan" else metric), method=method)
    )
    tree = hierarchy.dendrogram(Z, no_plot=True, labels=labels)
    rows = []
    for link, (xs, ys) in enumerate(zip(tree["icoord"], tree["dcoord"])):
        for order, (xv, yv) in enumerate(zip(xs, ys)):
            rows.append({"link": link, "order": order, "x": xv, "height": yv})
    data = pl.DataFrame(rows).to_pandas()
    return (
        alt.Chart(data)
        .mark_line(color="#4c78a8")
        .encode(
            x=alt.X("x:Q", axis=None), y=alt.Y("height:Q", title="merge distance"), detail="link:N", order="order:Q"
        )
        .properties(height=260)
    )
