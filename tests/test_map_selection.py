"""The WebGL map's selections are checked on the server before any work: a hand-made lasso with too many corners, or
one whose corners would be tested against too many points, or a shape with numbers that are not finite, selects
nothing at once; what a browser draws on the map is computed as before."""

from __future__ import annotations

import numpy as np
import pytest

import core.cluster.map as cluster_map
from core.charts.cluster import map_version
from core.cluster.map import MAX_SELECTION_VERTICES, in_polygon, selected_positions, selection_problem


@pytest.fixture
def points():
    coords = np.random.default_rng(5).uniform(-1, 1, (5000, 2)).astype(np.float32)
    return coords, map_version(coords)


def circle(corners: int, radius: float = 2.0) -> list[list[float]]:
    """A lasso round the map, as the browser sends it: corners in data units."""
    turn = np.linspace(0, 2 * np.pi, corners, endpoint=False)
    return np.column_stack([radius * np.cos(turn), radius * np.sin(turn)]).tolist()


def no_work(monkeypatch) -> None:
    """From now on, testing any point against a shape fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a refused selection must not be computed")

    monkeypatch.setattr(cluster_map, "in_polygon", refuse)


def test_a_lasso_of_550_000_corners_selects_nothing_without_any_work(points, monkeypatch):
    coords, version = points
    huge = {"version": version, "kind": "lasso", "polygon": circle(550_000)}
    assert selection_problem(huge, coords) == (
        f"a lasso of 550,000 corners (the map sends at most {MAX_SELECTION_VERTICES})"
    )
    no_work(monkeypatch)
    assert selected_positions(huge, coords, version).size == 0


def test_a_lasso_drawn_in_the_browser_is_computed(points):
    coords, version = points
    lasso = {"version": version, "kind": "lasso", "polygon": circle(200, radius=0.5)}
    assert selection_problem(lasso, coords) is None
    picked = selected_positions(lasso, coords, version)
    assert picked.tolist() == in_polygon(coords, np.array(lasso["polygon"])).tolist()
    assert 0 < picked.size < len(coords)


def test_the_work_of_a_lasso_is_capped_by_the_points_in_its_reach(points, monkeypatch):
    """Corners x points inside the lasso's bounding box: a small lasso with the same corners is still computed."""
    coords, version = points
    monkeypatch.setattr(cluster_map, "MAX_LASSO_TESTS", 100 * 1000)
    wide = {"version": version, "kind": "lasso", "polygon": circle(100, radius=2.0)}  # all 5,000 points in reach
    small = {"version": version, "kind": "lasso", "polygon": circle(100, radius=0.2)}  # about 160 in reach
    assert selection_problem(wide, coords) == (
        "a lasso that would test 500,000 corner-point pairs (at most 100,000): draw a simpler one"
    )
    assert selection_problem(small, coords) is None
    assert selected_positions(small, coords, version).size > 0
    no_work(monkeypatch)
    assert selected_positions(wide, coords, version).size == 0


@pytest.mark.parametrize(
    "shape",
    [
        {"kind": "lasso", "polygon": [[0, 0], [1, float("nan")], [0, 1]]},
        {"kind": "lasso", "polygon": [[0, 0, 5], [1, 0, 5], [0, 1, 5]]},
        {"kind": "lasso", "polygon": [[0, 0], [1, 0], "x"]},
        {"kind": "lasso", "polygon": "0,0 1,0 0,1"},
        {"kind": "box", "box": [0, float("inf"), 0, 1]},
        {"kind": "box", "box": [0, 10**400, 0, 1]},
        {"kind": "box", "box": [0, 1, 0]},
        {"kind": "point", "index": 10**12},
        {"kind": "point", "index": True},
        {"kind": "polygon", "polygon": [[0, 0], [1, 0], [0, 1]]},
    ],
    ids=["nan corner", "three numbers a corner", "text corner", "text", "infinite box", "huge box", "3-sided box",
         "point off the map", "point as a boolean", "unknown kind"],
)  # fmt: skip
def test_a_malformed_shape_selects_nothing_without_any_work(points, monkeypatch, shape):
    coords, version = points
    selection = {"version": version, **shape}
    assert selection_problem(selection, coords) is not None
    no_work(monkeypatch)
    assert selected_positions(selection, coords, version).size == 0
