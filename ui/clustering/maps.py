"""The Clustering page's map: every point (WebGL) or a sample (Altair), coloured by cluster, identity, an attribute or
density, its large clusters named; the WebGL map shows faces as one zooms in (a sprite atlas built once per dataset,
sent tile by tile) and keeps its view in the page's link; a click, box or lasso selection shows its faces below the
map, page by page."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import streamlit as st

from core import cached
from core import format as fmt
from core.charts import cluster as charts
from core.cli.sprites import sprites_job_spec
from core.cluster.algorithms import Clustering
from core.cluster.features import FeatureMatrix
from core.cluster.map import (
    ALTAIR_MAX,
    CROWDED_SHARE,
    MAP_DRAW_MAX,
    MAP_VIEW_PARAM,
    SELECT_MODES,
    Palette,
    cluster_names,
    crowded_share,
    density,
    draw_method,
    drawn_positions,
    largest_first,
    map_frame,
    map_view_text,
    parse_map_view,
    picked_image_ids,
    present_absent,
    selected_positions,
)
from core.cluster.map_labels import ClusterLabel, cluster_labels
from core.cluster.reduce import Reduction
from core.cluster.sprite_job import atlas_seconds
from core.cluster.store import ClusteringKey
from core.data.dataset import Dataset
from core.data.sprites import SPRITE_SIZES
from ui import links
from ui import state as keys
from ui.clustering.steps import map_coords
from ui.gallery import image_grid
from ui.jobs import job_launcher
from ui.map_faces import faces_channel, read_channel
from ui.scatter_gl import scatter_gl

DRAW_LABELS = {
    "auto": f"automatic (Altair up to {fmt.count(ALTAIR_MAX)} points, WebGL beyond)",
    "webgl": "WebGL: every point",
    "altair": f"Altair: up to {fmt.count(MAP_DRAW_MAX)} points",
}
SELECT_HELP = (
    "Click: drag to pan, click a point. Box: drag a box. Lasso (WebGL): draw around points. Scroll to zoom; the "
    "faces appear below the map."
)
FACES_PAGE = 24  # thumbnails per page of a map selection
FACES_COLUMNS = 8
MAP_HEIGHT = 640  # pixels; the map takes the page's width
FACE_SIZE = SPRITE_SIZES[0]  # pixels per face on the map


@dataclass(frozen=True)
class MapChoices:
    """The widgets above the map: colour by (and which attribute), how to select, how to draw."""

    color_by: str
    attribute: str | None
    mode: str
    draw: str

    @property
    def colouring(self) -> str:
        """One name per colouring ('cluster', 'attribute:Male', ...)."""
        return f"attribute:{self.attribute}" if self.attribute else self.color_by


@dataclass(frozen=True)
class MapContext:
    """What one drawing of the map shows: the clustering on its 2-D projection, coloured and selected as chosen."""

    ds: Dataset
    fm: FeatureMatrix
    key: ClusteringKey
    result: Clustering
    projection: Reduction
    palette: Palette | None  # None: coloured by density
    choices: MapChoices


def map_section(ds: Dataset, fm: FeatureMatrix, key: ClusteringKey, method: str, result: Clustering) -> None:
    """The map of the features in `method` (pca, umap, tsne) and the faces its selection holds."""
    projection = map_coords(ds, fm, key, method)
    choices = _map_choices(ds)
    drawn_with = draw_method(choices.draw, fm.n, choices.mode)
    palette = _map_colours(ds, fm, result, choices.color_by, choices.attribute)
    _map_and_faces(MapContext(ds, fm, key, result, projection, palette, choices), drawn_with)
    if drawn_with == "webgl":
        _map_faces(ds, fm, projection)
    if choices.color_by != "density" and crowded_share(projection.coords) > CROWDED_SHARE:
        st.caption("Most points here sit on top of others: colour by density to see where they crowd.")


def _map_colours(
    ds: Dataset, fm: FeatureMatrix, result: Clustering, color_by: str, attribute: str | None
) -> Palette | None:
    """The map's colour groups (largest distinct, the rest muted), or None for the density colouring."""
    if color_by == "cluster":
        return largest_first(result.labels, "cluster", noise=-1)
    if color_by == "identity":
        return largest_first(ds.table["identity"].gather(fm.rows).fill_null("–").to_numpy(), "identity", rest="people")
    if color_by == "attribute":
        return present_absent(ds.table[attribute].to_numpy()[fm.rows], attribute)
    return None


def _map_choices(ds: Dataset) -> MapChoices:
    """Colour by (and which attribute), how to select, how to draw: the widgets above the map."""
    c1, c2, c3 = st.columns([1, 1, 1])
    colours = ["cluster"] + (["identity"] if ds.has_identity else []) + (["attribute"] if ds.attributes else [])
    colours.append("density")
    color_by = links.synced(
        "color",
        keys.CL_COLOUR,
        "cluster",
        lambda: c1.selectbox(
            "Colour by",
            colours,
            key=keys.CL_COLOUR,
            help="Cluster, identity: the 18 largest get their own colour, the rest one grey. Density: how crowded "
            "each point's neighbourhood is (where many points overlap).",
        ),
        valid=links.one_of(colours),
    )
    attribute = None
    if color_by == "attribute":
        attribute = links.synced(
            "cattr",
            keys.CL_COLOUR_ATTRIBUTE,
            ds.attributes[0],
            lambda: c1.selectbox("Attribute", ds.attributes, key=keys.CL_COLOUR_ATTRIBUTE),
            valid=links.one_of(ds.attributes),
        )
    else:
        links.forget("cattr")
    mode = links.synced(
        "sel",
        keys.CL_SELECT_MODE,
        "click",
        lambda: c2.radio(
            "Select faces by", list(SELECT_MODES), horizontal=True, key=keys.CL_SELECT_MODE, help=SELECT_HELP
        ),
        valid=links.one_of(SELECT_MODES),
    )
    draw = links.synced(
        "draw",
        keys.CL_DRAW,
        "auto",
        lambda: c3.selectbox("Draw the map with", list(DRAW_LABELS), format_func=DRAW_LABELS.get, key=keys.CL_DRAW),
        valid=links.one_of(DRAW_LABELS),
    )
    return MapChoices(color_by, attribute, mode, draw)


@st.fragment
def _map_and_faces(ctx: MapContext, drawn_with: str):
    """The map at the page's width and, below it, the faces its selection holds: a selection or a page turn reruns
    only this (a fragment), not the whole page (0.85 s at CelebA's size on busy cores)."""
    picked = _webgl_map(ctx) if drawn_with == "webgl" else _altair_map(ctx)
    _selection_faces(ctx.ds, ctx.fm, ctx.result, picked)


def _webgl_map(ctx: MapContext) -> np.ndarray:
    """Every point, drawn by the browser's GPU; returns the positions the selection holds."""
    ds, fm, result, projection, palette, choices = ctx.ds, ctx.fm, ctx.result, ctx.projection, ctx.palette, ctx.choices
    version = charts.map_version(projection.coords)

    def build() -> bytes:
        identities = ds.table["identity"].gather(fm.rows).fill_null("–").to_numpy() if ds.has_identity else None
        return charts.webgl_map(
            projection.coords,
            ds.table["image_id"].to_numpy()[fm.rows],
            result.labels,
            identities,
            palette if palette is not None else density(projection.coords),
            mode=choices.mode,
            height=MAP_HEIGHT,
            tip_group=choices.attribute is not None,
            faces=cached.map_face_tiles(version, projection.coords) if ds.has_images else None,
            names=map_names(ds, fm, result, projection),
        )

    blob = cached.webgl_map(ctx.key, version, choices.colouring, choices.mode, build)
    selection = scatter_gl(charts.with_view(blob, _view_from_link(version)), key=keys.CL_MAP_GL)
    faces = " Zoom in to see faces: one per patch of the map, then every face." if ds.has_images else ""
    names = " Names: the attributes most over-represented in each large cluster (against the whole set)" + (
        " and its most common identity, with that identity's share of the cluster." if ds.has_identity else "."
    )
    st.caption(
        f"{projection.method.upper()} map of all {fmt.count(fm.n)} points, drawn with WebGL. {projection.note} Scroll "
        f"to zoom, double-click to zoom back out; hover a point to see who it is.{faces}{names}"
    )
    return selected_positions(selection, projection.coords, version)


def map_names(ds: Dataset, fm: FeatureMatrix, result: Clustering, projection: Reduction) -> list[ClusterLabel]:
    """The large clusters' names and places on this map: distinctive attributes, majority identity and purity."""
    identities = ds.table["identity"].gather(fm.rows).to_numpy() if ds.has_identity else None
    attributes = cached.attribute_matrix(ds)[fm.rows]
    return cluster_labels(projection.coords, result.labels, attributes, ds.attributes, identities)


def _view_from_link(version: str) -> tuple[float, float, float] | None:
    """The view a shared link opens this map at: read once, when the session first draws a map; a later map (other
    positions) starts from its whole extent and the link's view is dropped."""
    kept = st.session_state.get(keys.CL_MAP_LINK_VIEW)
    if kept is None:
        kept = (version, parse_map_view(st.query_params.get(MAP_VIEW_PARAM)))
    elif kept[0] != version:
        links.forget(MAP_VIEW_PARAM)
        kept = (version, None)
    st.session_state[keys.CL_MAP_LINK_VIEW] = kept
    return kept[1]


def _map_faces(ds: Dataset, fm: FeatureMatrix, projection: Reduction) -> None:
    """The faces the WebGL map shows as it zooms in: the atlas job's progress while it is built, then the channel
    that sends them tile by tile; the map's view goes into the page's link either way."""
    atlas = cached.sprite_atlas(ds, FACE_SIZE) if ds.has_images else None
    if ds.has_images and atlas is None:
        job_launcher(
            sprites_job_spec(ds, FACE_SIZE),
            "Faces for the map",
            "Prepare the map's faces again",
            key=keys.CL_SPRITES_JOB,
            expected=atlas_seconds(ds.n_images),
            auto_start=True,
        )
    _faces_channel(ds, fm, projection, atlas is not None)


@st.fragment
def _faces_channel(ds: Dataset, fm: FeatureMatrix, projection: Reduction, ready: bool) -> None:
    """Answers the map's requests for faces and keeps its view in the link: a fragment of its own, so a request
    (a few a second while one zooms) reruns only this."""
    version = charts.map_version(projection.coords)
    asked = read_channel(st.session_state.get(keys.CL_MAP_FACES), version)
    if asked.view is not None:
        links.remember(MAP_VIEW_PARAM, map_view_text(asked.view))
    message = charts.channel_message(version, ready)
    if ready and asked.seq:
        sent = st.session_state.get(keys.CL_MAP_FACES_SENT)
        if sent is not None and sent[:2] == (version, asked.seq):
            message = sent[2]  # the page ran again: the same answer, which the browser already holds
        else:
            atlas = cached.sprite_atlas(ds, FACE_SIZE)
            tiles = cached.map_face_tiles(version, projection.coords)
            message = charts.faces_message(atlas.faces, fm.rows, tiles, list(asked.tiles), version, asked.seq)
            st.session_state[keys.CL_MAP_FACES_SENT] = (version, asked.seq, message)
    faces_channel(message, keys.CL_MAP_FACES)


def _altair_map(ctx: MapContext) -> np.ndarray:
    """At most MAP_DRAW_MAX points with Altair; returns the positions (in the whole map) the selection holds."""
    ds, fm, result, projection, palette = ctx.ds, ctx.fm, ctx.result, ctx.projection, ctx.palette
    mode = ctx.choices.mode
    if mode == "lasso":
        st.caption("Lasso needs the WebGL map: using a box here.")
    drawn = drawn_positions(fm.n, ctx.key.features.seed)
    frame = map_frame(ds, fm.rows[drawn], projection.coords[drawn], result.labels[drawn], None)
    if palette is not None:
        frame = frame.with_columns(pl.Series("colour", np.asarray(palette.names)[palette.group[drawn]]))
    else:
        frame = frame.with_columns(pl.Series("density", density(projection.coords)[drawn]))
    event = st.altair_chart(
        charts.cluster_map(
            frame,
            "colour" if palette is not None else "density",
            palette,
            lasso=mode != "click",
            names=map_names(ds, fm, result, projection),
        ),
        on_select="rerun",
        selection_mode=charts.SELECTION,
        key=keys.CL_MAP_CHART,
        width="stretch",
    )
    sampled = (
        f" Drawing a sample of {fmt.count(len(drawn))} of the {fmt.count(fm.n)} points; the metrics and tables use "
        "all of them (the WebGL map draws every point)."
        if len(drawn) < fm.n
        else ""
    )
    st.caption(f"{projection.method.upper()} map. {projection.note}{sampled} Scroll to zoom, drag to pan (click mode).")
    ids = set(selected_ids(event, frame))
    return drawn[np.flatnonzero(frame["image_id"].is_in(list(ids)).to_numpy())] if ids else np.zeros(0, np.int64)


def selected_ids(event, frame: pl.DataFrame) -> list[str]:
    """Image ids picked on the map (click: the points; box: those inside it)."""
    try:
        picked = event.selection.get(charts.SELECTION) if event else None
    except AttributeError:
        picked = None
    return picked_image_ids(picked, frame)


def _selection_faces(ds: Dataset, fm: FeatureMatrix, result: Clustering, picked: np.ndarray) -> None:
    """How many faces the selection holds and their thumbnails, a page at a time."""
    if not len(picked):
        st.caption("Select points on the map to see their faces here.")
        return
    pages = max(1, -(-len(picked) // FACES_PAGE))
    signature = (len(picked), int(picked[0]), int(picked[-1]))
    if st.session_state.get(keys.CL_SELECTION) != signature:  # a new selection starts on its first page
        st.session_state[keys.CL_SELECTION] = signature
        st.session_state.pop(keys.CL_SELECTION_PAGE, None)
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {fmt.count(pages)})", 1, pages, 1, key=keys.CL_SELECTION_PAGE))
    shown = picked[(page - 1) * FACES_PAGE : page * FACES_PAGE]
    first, last = (page - 1) * FACES_PAGE + 1, (page - 1) * FACES_PAGE + len(shown)
    st.caption(
        ("1 face selected" if len(picked) == 1 else f"{fmt.count(len(picked))} faces selected")
        + (f" (showing {fmt.count(first)}–{fmt.count(last)})" if pages > 1 else "")
    )
    ids = ds.table["image_id"].to_numpy()[fm.rows[shown]]
    names = cluster_names(result.labels[shown])
    image_grid(ds, list(ids), [f"{i} · cluster {c}" for i, c in zip(ids, names)], columns=FACES_COLUMNS)
