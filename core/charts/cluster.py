"""Altair charts for the Clustering page; each returns an alt.Chart and the page decides where it goes."""

from __future__ import annotations

import altair as alt
import numpy as np
import polars as pl

# Lazy imports: SciPy's submodules are imported inside the functions that use them, so pages and commands that never
# call them do not pay their import time and memory on a shared server.

SELECTION = "picked"  # name of the point/lasso selection on the map


def cluster_map(frame: pl.DataFrame, color: str, nominal: bool = True, lasso: bool = False) -> alt.Chart:
    """Scatter of x, y coloured by `color`, tooltips image_id/identity/cluster, zoom/pan, point or lasso selection.

    frame: x, y, image_id, identity, cluster (str), plus the colour column.
    """
    select = (
        alt.selection_interval(name=SELECTION, encodings=["x", "y"])
        if lasso
        else alt.selection_point(name=SELECTION, fields=["image_id"])
    )
    kind = "N" if nominal else "Q"
    sort = None
    if color == "cluster":  # numeric order in the legend, noise last
        names = frame["cluster"].unique().to_list()
        sort = sorted((n for n in names if n != "noise"), key=int) + (["noise"] if "noise" in names else [])
    chart = (
        alt.Chart(frame.to_pandas())
        .mark_circle(size=28, opacity=0.75)
        .encode(
            x=alt.X("x:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("y:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            color=alt.Color(
                f"{color}:{kind}", sort=sort, legend=alt.Legend(columns=2, symbolLimit=40) if nominal else alt.Legend()
            ),
            tooltip=["image_id", "identity", "cluster"],
        )
        .add_params(select)
        .properties(height=520, width="container")
    )
    if not lasso:
        chart = chart.interactive()  # zoom/pan (a box selection uses the drag instead)
    return chart


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
