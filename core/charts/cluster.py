"""Altair charts for the Clustering page; each returns an alt.Chart and the page decides where it goes."""

from __future__ import annotations

import gzip
import hashlib
import io
import json

import altair as alt
import numpy as np
import pandas as pd
import polars as pl
from PIL import Image

from core.cluster.lod import GRID, MAX_DEPTH, TILE, FaceTiles
from core.cluster.map import Palette
from core.cluster.map_labels import ClusterLabel

# Lazy imports: SciPy's submodules are imported inside the functions that use them, so pages and commands that never
# call them do not pay their import time and memory on a shared server.

SELECTION = "picked"  # name of the point/lasso selection on the map
VIRIDIS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725")
DENSITY_LABELS = ("sparse", "crowded")
FACES_PER_MESSAGE = 1024  # faces sent at once (about 0.4 MB at 32 px): a zoomed-in view fills in one or two
FACES_QUALITY = 80  # JPEG quality of the faces sent to the map


def cluster_map(
    frame: pl.DataFrame,
    color: str,
    palette: Palette | None = None,
    lasso: bool = False,
    names: list[ClusterLabel] | None = None,
) -> alt.Chart:
    """Scatter of x, y coloured by `color`, tooltips image_id/identity/cluster, zoom/pan, point or box selection, and
    the large clusters' names (core/cluster/map_labels.py) written at their places.

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
    if names:
        chart = alt.layer(chart, *_name_layers(names))
    if not lasso:
        chart = chart.interactive()  # zoom/pan (a box selection uses the drag instead)
    return chart


def _name_layers(names: list[ClusterLabel]) -> tuple[alt.Chart, alt.Chart]:
    """The clusters' names as text on a white halo (two text layers: Vega-Lite draws no halo of its own)."""
    data = pd.DataFrame({"x": [a.x for a in names], "y": [a.y for a in names], "name": [a.text for a in names]})
    base = alt.Chart(data).encode(x="x:Q", y="y:Q", text="name:N")
    halo = base.mark_text(fontWeight=600, fontSize=12, stroke="white", strokeWidth=4, strokeOpacity=0.9)
    return halo, base.mark_text(fontWeight=600, fontSize=12, color="#1f2430")


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
    faces: FaceTiles | None = None,
    names: list[ClusterLabel] | None = None,
) -> bytes:
    """Every point of the map as one binary blob for ui/scatter_gl.js (what it draws, hovers and selects).

    coords (n, 2) float32; image_ids (n,) str; labels (n,) int (-1 noise); identities (n,) str or None; colour a
    Palette (one group per point) or (n,) floats in [0, 1] (density). Layout: uint32 header length, JSON header, then
    the arrays named in header["arrays"] (each 4-byte aligned, in the points' own order), gzip-compressed as one
    stream: 202,599 points travel as ~3 MB instead of 7 MB, which a visitor on a slow link feels most. `c` is each
    point's colour code (a palette index); the browser draws in ascending code order, ties in point order (muted
    groups or sparse points first, so the distinct colours and crowded points sit on top).
    faces: the points' level of detail (core/cluster/lod.py), for a map of faces: each point's tile and each tile's
    node; the faces themselves come later, tile by tile (ui/map_faces.py). names: the large clusters' labels.
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
        codes, people = pd.factorize(np.asarray(identities, str), sort=True)
        header["identities"] = people.tolist()
        arrays["identity"] = codes.astype(np.uint16 if len(people) <= np.iinfo(np.uint16).max else np.int32)
    if faces is not None:
        header["faces"] = {"origin": list(faces.origin), "side": faces.side, "grid": GRID, "tile": TILE,
                           "max_depth": MAX_DEPTH}  # fmt: skip
        arrays["tile"] = faces.tile.astype(np.uint16 if faces.n_tiles <= np.iinfo(np.uint16).max else np.int32)
        arrays["tile_depth"] = faces.tile_depth.astype(np.uint8)
        arrays["tile_x"] = faces.tile_x.astype(np.uint16)
        arrays["tile_y"] = faces.tile_y.astype(np.uint16)
    header["labels"] = [{"x": a.x, "y": a.y, "text": a.text, "size": a.size} for a in names or ()]
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


def with_view(blob: bytes, view: tuple[float, float, float] | None) -> bytes:
    """The blob with the view a page link asks for (centre x, y in data units, zoom: 1 shows the whole map), which the
    browser opens the map at; the blob's digest is unchanged, so a map already drawn is not redrawn for it."""
    if view is None:
        return blob
    length = int(np.frombuffer(blob[:4], np.uint32)[0])
    header = json.loads(blob[4 : 4 + length])
    header["view"] = [float(v) for v in view]
    head = json.dumps(header, separators=(",", ":")).encode()
    return np.uint32(len(head)).tobytes() + head + blob[4 + length :]


def faces_message(
    faces: np.ndarray, rows: np.ndarray, tiles: FaceTiles, wanted: list[int], version: str, seq: int
) -> bytes:
    """The faces of the tiles a map asked for, as one message for ui/map_faces.js: uint32 header length, JSON header
    (version, seq, size, the tiles sent, those left for a later message), then one JPEG holding their faces 16 a row,
    tile after tile, each tile's points in order (FaceTiles.points).

    faces: a sprite atlas (N, S, S, 3) uint8 by dataset row; rows: the dataset row of each map point. At most
    FACES_PER_MESSAGE faces (always the first tile); unknown tile numbers are left out.
    """
    size = faces.shape[1]
    known = [int(t) for t in wanted if 0 <= int(t) < tiles.n_tiles]
    sent, points, total = [], [], 0
    for t in known:
        members = tiles.points(t)
        if sent and total + len(members) > FACES_PER_MESSAGE:
            break
        sent.append(t)
        points.append(members)
        total += len(members)
    picked = np.asarray(rows)[np.concatenate(points)] if points else np.zeros(0, np.int64)
    grid = np.full((max(1, -(-len(picked) // TILE)) * TILE, size, size, 3), 255, np.uint8)
    grid[: len(picked)] = faces[picked]
    image = grid.reshape(-1, TILE, size, size, 3).transpose(0, 2, 1, 3, 4).reshape(-1, TILE * size, 3)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=FACES_QUALITY)
    header = {"version": version, "ready": True, "seq": seq, "size": size, "tiles": sent, "skipped": known[len(sent) :]}
    head = json.dumps(header, separators=(",", ":")).encode()
    return np.uint32(len(head)).tobytes() + head + buffer.getvalue()


def channel_message(version: str, ready: bool) -> bytes:
    """The faces channel's message before any faces are asked for: which map, and whether its faces can be sent."""
    head = json.dumps({"version": version, "ready": ready, "seq": 0}, separators=(",", ":")).encode()
    return np.uint32(len(head)).tobytes() + head


def read_faces_message(message: bytes) -> tuple[dict, np.ndarray]:
    """The header and the faces image (rows x 16 faces) of a faces_message (for tests and benches)."""
    length = int(np.frombuffer(message[:4], np.uint32)[0])
    return json.loads(message[4 : 4 + length]), np.asarray(Image.open(io.BytesIO(message[4 + length :])))


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
