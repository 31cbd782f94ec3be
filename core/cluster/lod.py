"""Which faces the map of faces shows at each zoom (level of detail), and how they travel to the browser in tiles.

The map's square is cut into GRID x GRID cells (depth 0), each cell into four (depth 1), and so on. At each depth
every occupied cell shows one face: the face a coarser depth already shows there, else the point nearest the cell's
centre. A point belongs to the depth where it is first shown; points still sharing a cell at MAX_DEPTH (all but
identical positions) belong to it. Zoomed so that a cell of depth d is about a thumbnail wide, the browser shows the
points of depth <= d in view: one face per occupied cell; zoomed in past every point's depth, every face.

The points of one node (depth d, a GRID x GRID block of its cells) travel together, in tiles of TILE faces (one row
of the browser's texture), in point order: zoomed in, the faces in view come from a few tiles of their own region,
zoomed out from the few coarse ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = 16  # cells per node side
MAX_DEPTH = 12  # 65,536 cells per side: points closer than that are one place
TILE = 16  # faces per tile


@dataclass(frozen=True)
class FaceTiles:
    """The map's points by level of detail: where each is first shown and the tile that carries its face."""

    origin: tuple[float, float]  # lower-left corner of the map's square (data units)
    side: float  # its side
    depth: np.ndarray  # (n,) uint8: depth at which each point is first shown
    tile: np.ndarray  # (n,) int32: the tile carrying each point's face
    tile_depth: np.ndarray  # (t,) uint8: each tile's node ...
    tile_x: np.ndarray  # (t,) uint16 ... its column among the nodes of that depth
    tile_y: np.ndarray  # (t,) uint16 ... and row
    tile_start: np.ndarray  # (t + 1,) int64: members[tile_start[k]:tile_start[k + 1]] are tile k's points
    members: np.ndarray  # (n,) int64: points by tile, in point order within a tile

    @property
    def n_tiles(self) -> int:
        return len(self.tile_depth)

    def points(self, tile: int) -> np.ndarray:
        """Positions of the points tile `tile` carries, in the order their faces sit in it."""
        return self.members[self.tile_start[tile] : self.tile_start[tile + 1]]


FINEST = GRID << MAX_DEPTH  # cells per side at MAX_DEPTH: 2**16, so a point's cell at every depth is a prefix of one
# 32-bit Morton code (x and y bits interleaved), and the cells of a depth are runs of the points sorted by that code


def _cells(xy: np.ndarray, origin: np.ndarray, side: float, per_side: int) -> np.ndarray:
    """(k, 2) int64 column and row of each point in a per_side x per_side grid over the square."""
    return np.clip(np.floor((xy - origin) / side * per_side).astype(np.int64), 0, per_side - 1)


def _spread(v: np.ndarray) -> np.ndarray:
    """The 16 low bits of v moved to the even bits of a 32-bit number."""
    v = v.astype(np.uint64) & 0xFFFF
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def face_tiles(coords: np.ndarray) -> FaceTiles:
    """The level of detail of a map's points (n, 2), as the browser holds them (float32)."""
    xy = np.asarray(coords, np.float32).astype(np.float64)
    n = len(xy)
    if not n:
        empty = np.zeros(0, np.int64)
        return FaceTiles((0.0, 0.0), 1.0, empty.astype(np.uint8), empty.astype(np.int32), empty.astype(np.uint8),
                         empty.astype(np.uint16), empty.astype(np.uint16), np.zeros(1, np.int64), empty)  # fmt: skip
    origin = xy.min(axis=0)
    side = float((xy.max(axis=0) - origin).max()) or 1.0
    finest = _cells(xy, origin, side, FINEST)  # floor(v * 2**16) >> k == floor(v * 2**(16 - k)): every depth's cells
    code = _spread(finest[:, 0]) | (_spread(finest[:, 1]) << np.uint64(1))
    points = np.argsort(code, kind="stable")  # by cell at every depth, ties in point order
    code, finest, at = code[points], finest[points], xy[points]
    place = np.empty(n, np.int64)
    place[points] = np.arange(n)  # where each point sits in `points`
    depth = np.full(n, MAX_DEPTH, np.uint8)
    shown = np.zeros(n, bool)  # in `points` order
    for d in range(MAX_DEPTH):
        drop = MAX_DEPTH - d  # bits per axis below a cell of this depth
        cell = code >> np.uint64(2 * drop)
        starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
        taken = np.logical_or.reduceat(shown, starts)  # a coarser depth already shows a face there
        centre = origin + ((finest >> drop) + 0.5) * (side / (GRID << d))
        distance = ((at - centre) ** 2).sum(axis=1)
        nearest = np.minimum.reduceat(distance, starts)
        sizes = np.diff(np.r_[starts, n])
        candidate = np.where(distance == np.repeat(nearest, sizes), points, n)  # ties: the first point
        first = np.minimum.reduceat(candidate, starts)[~taken]
        depth[first] = d
        shown[place[first]] = True
        if shown.all():
            break
    return _tiled(xy, origin, side, depth)


def _tiled(xy: np.ndarray, origin: np.ndarray, side: float, depth: np.ndarray) -> FaceTiles:
    """Cut each node's points (in point order) into tiles of TILE."""
    n = len(xy)
    per_side = (GRID << depth.astype(np.int64))[:, None]
    node = np.clip(np.floor((xy - origin) / side * per_side).astype(np.int64), 0, per_side - 1) // GRID
    order = np.lexsort((np.arange(n), node[:, 0], node[:, 1], depth))  # by depth, node row, node column, point
    key = np.stack([depth[order].astype(np.int64), node[order, 1], node[order, 0]], axis=1)
    new_node = np.ones(n, bool)
    new_node[1:] = (key[1:] != key[:-1]).any(axis=1)
    node_start = np.flatnonzero(new_node)
    place = np.arange(n) - np.repeat(node_start, np.diff(np.append(node_start, n)))  # place within its node
    new_tile = new_node | (place % TILE == 0)
    tile_of_sorted = np.cumsum(new_tile) - 1
    tile = np.empty(n, np.int32)
    tile[order] = tile_of_sorted
    starts = np.flatnonzero(new_tile)
    return FaceTiles(
        origin=(float(origin[0]), float(origin[1])),
        side=side,
        depth=depth,
        tile=tile,
        tile_depth=key[starts, 0].astype(np.uint8),
        tile_x=key[starts, 2].astype(np.uint16),
        tile_y=key[starts, 1].astype(np.uint16),
        tile_start=np.append(starts, n).astype(np.int64),
        members=order.astype(np.int64),
    )


def shown_at(tiles: FaceTiles, coords: np.ndarray, depth: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """Positions of the faces shown at `depth` inside box (x0, x1, y0, y1): the points of depth <= `depth` there."""
    xy = np.asarray(coords, np.float32).astype(np.float64)
    x0, x1, y0, y1 = box
    inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    return np.flatnonzero(inside & (tiles.depth <= depth))
