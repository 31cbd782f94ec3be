"""The map of faces: the sprite atlas (built once, resumable, by workers), the level of detail and its tiles, the faces
message a map asks for, cluster names, the map's view in a link, and selections checked against the coordinates
under random subsets, shapes and colourings (Python and the browser's own code agree)."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import polars as pl
import pytest

import core.charts.cluster
import core.cluster.sprite_job
from core.__main__ import main
from core.charts.cluster import (
    channel_message,
    faces_message,
    map_version,
    read_faces_message,
    read_webgl_map,
    webgl_map,
    with_view,
)
from core.cli.sprites import sprites_job_spec
from core.cluster.lod import GRID, MAX_DEPTH, TILE, face_tiles
from core.cluster.map import (
    density,
    largest_first,
    map_view_text,
    parse_map_view,
    present_absent,
    selected_positions,
)
from core.cluster.map_labels import MIN_LIFT, MIN_SHARE, cluster_labels
from core.cluster.sprite_job import build_atlas
from core.data.ingest import open_dataset
from core.data.sprites import MISSING_GREY, atlas_folder, face_sprite, load_atlas
from tests.cache_support import clear_streamlit_caches
from tests.support import PROJECT, inside_polygon

# ---------------------------------------------------------------- level of detail


def clumpy(n: int, seed: int) -> np.ndarray:
    """Points in tight clumps, some exactly on top of each other (as people's photos on a UMAP map)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 15), 2))
    xy = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.01, size=(n, 2))
    xy[rng.random(n) < 0.05] = centres[0]  # a pile of identical positions
    return xy.astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_depth_shows_one_face_per_occupied_cell_the_one_nearest_its_centre(seed):
    """Computed again cell by cell: at every depth the points shown (depth <= d) are one per occupied cell; a cell
    no coarser depth shows gets the point nearest its centre (ties: the first point)."""
    coords = clumpy(1500, seed)
    tiles = face_tiles(coords)
    xy = coords.astype(np.float64)
    origin, side = xy.min(axis=0), float((xy.max(axis=0) - xy.min(axis=0)).max())
    assert tiles.origin == tuple(origin) and tiles.side == side
    for d in range(MAX_DEPTH):
        per_side = GRID * 2**d
        cells = np.clip(np.floor((xy - origin) / side * per_side).astype(int), 0, per_side - 1)
        by_cell: dict[tuple[int, int], list[int]] = {}
        for i, cell in enumerate(map(tuple, cells)):
            by_cell.setdefault(cell, []).append(i)
        for (cx, cy), members in by_cell.items():
            shown = [i for i in members if tiles.depth[i] <= d]
            assert len(shown) == 1, (d, cx, cy, shown)
            if tiles.depth[shown[0]] == d:
                centre = origin + (np.array([cx, cy]) + 0.5) * side / per_side
                distances = [((xy[i] - centre) ** 2).sum() for i in members]
                assert shown[0] == members[int(np.argmin(distances))]
    assert tiles.depth.max() == MAX_DEPTH  # the pile of identical points is never separated: all shown at the end


def test_tiles_carry_every_point_once_in_order_grouped_by_node():
    coords = clumpy(3000, 5)
    tiles = face_tiles(coords)
    xy = coords.astype(np.float64)
    assert sorted(tiles.members.tolist()) == list(range(len(coords)))
    sizes = np.diff(tiles.tile_start)
    assert sizes.min() >= 1 and sizes.max() <= TILE
    assert np.all(np.diff(tiles.tile_depth.astype(int)) >= 0)  # numbered by depth: a prefix holds depths <= d
    for t in range(tiles.n_tiles):
        points = tiles.points(t)
        assert np.all(np.diff(points) > 0) and np.all(tiles.tile[points] == t)
        assert np.all(tiles.depth[points] == tiles.tile_depth[t])
        node_side = tiles.side / 2 ** int(tiles.tile_depth[t])
        low = np.array(tiles.origin) + np.array([tiles.tile_x[t], tiles.tile_y[t]]) * node_side
        assert np.all(xy[points] >= low - 1e-9) and np.all(xy[points] <= low + node_side + 1e-9)


def test_no_points_and_one_point():
    assert face_tiles(np.zeros((0, 2), np.float32)).n_tiles == 0
    one = face_tiles(np.array([[3.0, 4.0]], np.float32))
    assert one.depth.tolist() == [0] and one.points(0).tolist() == [0]


# ---------------------------------------------------------------- the faces a map asks for


def test_the_faces_message_holds_the_asked_tiles_faces_in_order():
    rng = np.random.default_rng(3)
    n, size = 700, 32
    coords = clumpy(n, 3)
    tiles = face_tiles(coords)
    colours = rng.integers(0, 256, (n, 3), np.uint8)
    atlas = np.broadcast_to(colours[:, None, None, :], (n, size, size, 3)).copy()  # face k: one flat colour
    rows = rng.permutation(n)  # map point i shows dataset row rows[i]
    wanted = [5, 0, 9999, 3, -1]
    header, image = read_faces_message(faces_message(atlas, rows, tiles, wanted, "v1", 7))
    assert header["version"] == "v1" and header["seq"] == 7 and header["size"] == size and header["ready"]
    assert header["tiles"] == [5, 0, 3] and header["skipped"] == []  # unknown tiles left out
    points = np.concatenate([tiles.points(t) for t in header["tiles"]])
    assert image.shape == (-(-len(points) // TILE) * size, TILE * size, 3)
    for k, i in enumerate(points):
        face = image[(k // TILE) * size : (k // TILE + 1) * size, (k % TILE) * size : (k % TILE + 1) * size]
        centre = face[8:24, 8:24].reshape(-1, 3).mean(axis=0)
        assert np.abs(centre - colours[rows[i]]).max() < 12, (k, centre, colours[rows[i]])  # JPEG's loss only


def test_a_message_stops_at_its_cap_and_names_what_is_left(monkeypatch):
    monkeypatch.setattr(core.charts.cluster, "FACES_PER_MESSAGE", 40)
    coords = clumpy(2000, 4)
    tiles = face_tiles(coords)
    atlas = np.zeros((2000, 32, 32, 3), np.uint8)
    wanted = list(range(60))
    header, _ = read_faces_message(faces_message(atlas, np.arange(2000), tiles, wanted, "v", 1))
    counts = [len(tiles.points(t)) for t in header["tiles"]]
    assert header["tiles"] + header["skipped"] == wanted
    assert sum(counts) <= 40 < sum(counts) + len(tiles.points(header["skipped"][0]))
    assert json.loads(channel_message("v", False)[4:]) == {"version": "v", "ready": False, "seq": 0}


# ---------------------------------------------------------------- the sprite atlas


@pytest.fixture
def sprite_home(demo_home, tmp_path, monkeypatch):
    """A copy of the small demo (its images) in a home and cache of the test's own."""
    shutil.copytree(demo_home / "data" / "demo", tmp_path / "data" / "demo")
    monkeypatch.setenv("FACEATLAS_HOME", str(tmp_path))
    monkeypatch.setenv("FACEATLAS_CACHE", str(tmp_path / "cache"))
    return open_dataset(tmp_path / "data" / "demo", name="demo")


def test_the_atlas_holds_each_images_face_and_grey_for_an_unreadable_one(sprite_home):
    ds = sprite_home
    broken = ds.table["image_id"][7]
    ds.image_path(broken).write_bytes(b"not a jpeg")
    atlas = build_atlas(ds, 32, workers=1)
    assert atlas.faces.shape == (ds.n_images, 32, 32, 3) and atlas.ok.sum() == ds.n_images - 1
    assert not atlas.ok[7] and np.all(atlas.faces[7] == MISSING_GREY)
    for row in (0, 123, ds.n_images - 1):
        expected = face_sprite(ds.image_path(ds.table["image_id"][row]), 32, True)
        assert np.array_equal(atlas.faces[row], expected)
    assert load_atlas(ds, 32) is not None and not list(atlas_folder(ds, 32).glob("*.partial.npy"))


def test_a_stopped_build_resumes_and_ends_as_a_whole_one(sprite_home, monkeypatch):
    ds = sprite_home
    monkeypatch.setattr(core.cluster.sprite_job, "CHUNK", 64)
    done = []

    def stop_after_two(finished: int, total: int) -> None:
        done.append(finished)
        if len(done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_atlas(ds, 32, workers=1, progress=stop_after_two)
    assert load_atlas(ds, 32) is None  # a partial build is never taken for a finished one
    resumed = []
    atlas = build_atlas(ds, 32, workers=1, progress=lambda finished, total: resumed.append(finished))
    assert resumed[0] == 3 * 64 and resumed[-1] == ds.n_images  # continued after the two chunks written
    whole = np.stack([face_sprite(ds.image_path(i), 32, True) for i in ds.table["image_id"].to_list()])
    assert np.array_equal(np.asarray(atlas.faces), whole)


@pytest.mark.slow
def test_the_command_builds_it_with_worker_processes(sprite_home, monkeypatch, capsys):
    """`python -m core sprites` with two workers (the pool, not the in-process path); the job spec names it."""
    ds = sprite_home
    monkeypatch.setattr(core.cluster.sprite_job, "CHUNK", 100)
    monkeypatch.setattr(core.cluster.sprite_job, "IN_PROCESS_BELOW", 0)
    assert main(["sprites", str(ds.root), "--name", "demo", "--workers", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {**result, "dataset": "demo", "size": 32, "faces": ds.n_images, "unreadable": 0}
    atlas = load_atlas(ds, 32)
    for row in (0, 250, ds.n_images - 1):
        assert np.array_equal(atlas.faces[row], face_sprite(ds.image_path(ds.table["image_id"][row]), 32, True))
    job = sprites_job_spec(ds)
    assert job.kind == "sprites" and list(job.argv) == ["sprites", str(ds.root), "--name", "demo", "--size", "32"]


# ---------------------------------------------------------------- cluster names


def test_cluster_names_are_the_highest_lift_attributes_and_the_majority_identity():
    rng = np.random.default_rng(8)
    n, names = 3000, ("Male", "Eyeglasses", "Smiling", "Bald", "Young")
    labels = rng.integers(-1, 40, n)
    labels[labels == 3] = 0  # cluster 0: the largest
    attributes = (rng.random((n, 5)) < [0.4, 0.1, 0.5, 0.05, 0.7]).astype(np.uint8)
    attributes[labels == 0, 1] = 1  # everyone in cluster 0 wears glasses: lift 1 / share overall
    identities = np.array([f"p{i}" for i in rng.integers(0, 300, n)], object)
    identities[labels == 0] = np.where(rng.random((labels == 0).sum()) < 0.8, "star", None)
    coords = rng.normal(size=(n, 2))
    found = cluster_labels(coords, labels, attributes, names, identities, largest=5)
    sizes = {c: int((labels == c).sum()) for c in set(labels.tolist()) - {-1}}
    ranked = sorted(sizes, key=lambda c: (-sizes[c], c))[:5]
    assert [a.cluster for a in found] == ranked and [a.size for a in found] == [sizes[c] for c in ranked]
    overall = attributes.mean(axis=0)
    for label in found:
        members = np.flatnonzero(labels == label.cluster)
        inside = attributes[members].mean(axis=0)
        lifts = {
            names[j]: inside[j] / overall[j]
            for j in range(5)
            if inside[j] >= MIN_SHARE and inside[j] / overall[j] >= MIN_LIFT
        }
        expected = sorted(lifts, key=lambda a: (-lifts[a], -inside[names.index(a)], names.index(a)))[:3]
        assert list(label.attributes) == expected and np.allclose(label.lifts, [lifts[a] for a in expected])
        values, counts = np.unique([i for i in identities[members] if i is not None], return_counts=True)
        assert label.identity == values[np.argmax(counts)] and label.purity == counts.max() / len(members)
        assert (label.x, label.y) in {tuple(p) for p in coords[members].tolist()}  # a member's place
    assert found[0].attributes[0] == "Eyeglasses" and found[0].identity == "star"
    assert found[0].text.startswith("Eyeglasses") and "identity star (" in found[0].text
    assert cluster_labels(coords, np.full(n, -1), attributes, names) == []


# ---------------------------------------------------------------- the map's blob, its view in a link


NODE_LABELS = """
globalThis.window = {};
const { placeLabels } = await import(process.argv[2]);
const cases = JSON.parse(require("fs").readFileSync(process.argv[3], "utf8"));
console.log(JSON.stringify(cases.map(({ labels, width, height }) => placeLabels(labels, width, height, (t) => 7 * t.length))));
"""


def place_labels(tmp_path, cases: list[dict]) -> list[list[dict]]:
    """ui/scatter_gl.js's placeLabels, run by node on each case (a name is 7 px a character wide)."""
    module = tmp_path / "scatter_gl.mjs"
    module.write_text((PROJECT / "ui" / "scatter_gl.js").read_text())
    (tmp_path / "labels.json").write_text(json.dumps(cases))
    script = tmp_path / "labels.cjs"
    script.write_text(f"(async () => {{ {NODE_LABELS} }})();")
    out = subprocess.run(["node", script, module.as_uri(), tmp_path / "labels.json"], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_cluster_names_stay_whole_inside_the_map_and_a_lower_ranked_one_gives_way(tmp_path):
    """Names at the map's edges are moved in, whole; of two that would overlap, the larger cluster's is kept; a name
    whose cluster is out of view, or wider than the map, is not drawn."""
    width, height = 400, 300
    labels = [
        {"text": "Male · Eyeglasses", "at": [2, 150]},  # 17 characters: 127 px with its halo, at the left edge
        {"text": "Smiling", "at": [399, 299]},  # the bottom right corner
        {"text": "Bald", "at": [200, 0]},  # the top edge
        {"text": "Young", "at": [30, 155]},  # over the first name once that is moved in: gives way
        {"text": "Blond_Hair", "at": [-5, 100]},  # its cluster is out of view
        {"text": "x" * 60, "at": [200, 200]},  # wider than the map
    ]
    [placed] = place_labels(tmp_path, [{"labels": labels, "width": width, "height": height}])
    assert [p["text"] for p in placed] == ["Male · Eyeglasses", "Smiling", "Bald"]
    assert [p["box"] for p in placed] == [
        [0, 141, 127, 159],  # moved right to the edge, its height kept
        [400 - 57, 300 - 18, 400, 300],  # moved up and left into the corner
        [200 - 18, 0, 200 + 18, 18],  # moved down
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_placed_names_never_overlap_nor_leave_the_map_and_only_a_collision_hides_one(tmp_path):
    """Random names on random maps: every name drawn lies inside the map and overlaps no other; a name left out
    whose cluster is in view and that fits overlaps one drawn before it (the larger cluster's)."""
    rng = np.random.default_rng(4)
    cases = []
    for _ in range(40):
        width, height = int(rng.integers(150, 1400)), int(rng.integers(100, 700))
        places = rng.uniform((-50, -50), (width + 50, height + 50), (int(rng.integers(1, 25)), 2))
        labels = [{"text": f"{k}:" + "n" * int(rng.integers(1, 40)), "at": at} for k, at in enumerate(places.tolist())]
        cases.append({"labels": labels, "width": width, "height": height})
    for case, placed in zip(cases, place_labels(tmp_path, cases)):
        width, height = case["width"], case["height"]
        for k, p in enumerate(placed):
            left, top, right, bottom = p["box"]
            assert left >= 0 and top >= 0 and right <= width and bottom <= height, (p, width, height)
            assert (right - left, bottom - top) == pytest.approx((7 * len(p["text"]) + 8, 18))
            assert not any(overlap(p["box"], q["box"]) for q in placed[:k])
        drawn = {p["text"]: p for p in placed}
        order = [label["text"] for label in case["labels"]]
        assert [p["text"] for p in placed] == [t for t in order if t in drawn]  # the larger clusters' first
        for k, label in enumerate(case["labels"]):
            (x, y), w = label["at"], 7 * len(label["text"]) + 8
            in_view = 0 <= x <= width and 0 <= y <= height and w <= width
            if label["text"] in drawn:
                assert in_view
            elif in_view:  # left out: where it would have gone, it overlaps a name drawn before it
                cx, cy = min(max(x, w / 2), width - w / 2), min(max(y, 9), height - 9)
                box = [cx - w / 2, cy - 9, cx + w / 2, cy + 9]
                earlier = [drawn[t]["box"] for t in order[:k] if t in drawn]
                assert any(overlap(box, b) for b in earlier), (label, earlier)


def test_the_blob_carries_each_points_tile_and_the_cluster_names():
    coords = clumpy(900, 6)
    labels = np.repeat(np.arange(9), 100)
    tiles = face_tiles(coords)
    names = cluster_labels(coords, labels, np.zeros((900, 0), np.uint8), ())
    blob = webgl_map(coords, np.array([f"{i}.jpg" for i in range(900)]), labels, None,
                     largest_first(labels, "cluster"), faces=tiles, names=names)  # fmt: skip
    header, arrays = read_webgl_map(blob)
    assert np.array_equal(arrays["tile"], tiles.tile) and np.array_equal(arrays["tile_depth"], tiles.tile_depth)
    assert np.array_equal(arrays["tile_x"], tiles.tile_x) and np.array_equal(arrays["tile_y"], tiles.tile_y)
    assert header["faces"]["origin"] == list(tiles.origin) and header["faces"]["side"] == tiles.side
    assert [(a["text"], a["size"]) for a in header["labels"]] == [(a.text, a.size) for a in names]
    opened = with_view(blob, (1.5, -2.0, 8.0))
    assert read_webgl_map(opened)[0]["view"] == [1.5, -2.0, 8.0]
    assert read_webgl_map(opened)[0]["digest"] == header["digest"]  # the same map: not redrawn for a view
    assert with_view(blob, None) is blob


def test_a_map_view_reads_back_from_its_link_text():
    view = (0.123456789, -42.5, 3.14159)
    x, y, zoom = parse_map_view(map_view_text(view))
    assert (x, y) == pytest.approx(view[:2], rel=1e-5) and zoom == pytest.approx(view[2], rel=1e-3)
    for broken in (None, "", "1,2", "1,2,0", "a,b,c", "1,2,-3", "nan,1,2", "1,2,3,4"):
        assert parse_map_view(broken) is None


# ---------------------------------------------------------------- selections against the coordinates


def random_selection(rng, coords: np.ndarray) -> dict:
    x0, x1 = np.sort(rng.uniform(coords[:, 0].min(), coords[:, 0].max(), 2))
    y0, y1 = np.sort(rng.uniform(coords[:, 1].min(), coords[:, 1].max(), 2))
    kind = rng.choice(["box", "lasso", "point"])
    if kind == "box":
        return {"kind": "box", "box": [x0, x1, y0, y1]}
    if kind == "point":
        return {"kind": "point", "index": int(rng.integers(0, len(coords)))}
    corners = int(rng.integers(3, 200))
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radius = rng.uniform(0.3, 1.0, corners)
    polygon = np.column_stack([(x0 + x1) / 2 + (x1 - x0) * radius * np.cos(angles),
                               (y0 + y1) / 2 + (y1 - y0) * radius * np.sin(angles)])  # fmt: skip
    return {"kind": "lasso", "polygon": polygon.tolist()}


def expected_positions(selection: dict, coords: np.ndarray) -> list[int]:
    xy = coords.astype(np.float32).astype(np.float64).tolist()
    if selection["kind"] == "point":
        return [selection["index"]]
    if selection["kind"] == "box":
        x0, x1, y0, y1 = selection["box"]
        return [i for i, (x, y) in enumerate(xy) if x0 <= x <= x1 and y0 <= y <= y1]
    polygon = [tuple(p) for p in selection["polygon"]]
    return [i for i, (x, y) in enumerate(xy) if inside_polygon(x, y, polygon)]


def test_selected_faces_are_the_ones_inside_under_random_subsets_shapes_and_colourings(demo_dataset):
    """Random subsets of the dataset's rows on random maps, each coloured every way: the image ids a selection picks
    are those whose coordinates lie inside its shape (or the clicked one), and its message stays small."""
    rng = np.random.default_rng(11)
    ds = demo_dataset
    ids = ds.table["image_id"].to_numpy()
    for _ in range(12):
        rows = np.sort(rng.choice(ds.n_images, int(rng.integers(5, ds.n_images)), replace=False))
        coords = (rng.normal(size=(len(rows), 2)) * rng.uniform(0.01, 100)).astype(np.float32)
        version = map_version(coords)
        labels = rng.integers(-1, 12, len(rows))
        colourings = [largest_first(labels, "cluster", noise=-1), present_absent(ds.table["Smiling"].to_numpy()[rows],
                      "Smiling"), density(coords)]  # fmt: skip
        for colouring in colourings:  # what the page draws: the selection is made on this very map
            header, _ = read_webgl_map(webgl_map(coords, ids[rows], labels, None, colouring))
            assert header["version"] == version
            for _ in range(4):
                selection = random_selection(rng, coords) | {"version": version}
                assert len(json.dumps(selection)) < 10_000  # the same few kilobytes for 1 or 200,000 faces
                picked = selected_positions(selection, coords, version)
                assert ids[rows[picked]].tolist() == ids[rows[expected_positions(selection, coords)]].tolist()


NODE_SELECT = """
globalThis.window = {};
const { pointsInside } = await import(process.argv[2]);
const cases = JSON.parse(require("fs").readFileSync(process.argv[3], "utf8"));
const out = cases.map(({ selection, x, y }) => [...pointsInside(selection, new Float32Array(x), new Float32Array(y))]);
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_browser_counts_the_same_points_as_the_server(tmp_path):
    """ui/scatter_gl.js's own test (run by node) on random shapes: the count the map shows at once is the page's."""
    rng = np.random.default_rng(12)
    cases, expected = [], []
    for _ in range(30):
        coords = (rng.normal(size=(int(rng.integers(10, 3000)), 2)) * 5).astype(np.float32)
        selection = random_selection(rng, coords)
        cases.append({"selection": selection, "x": coords[:, 0].tolist(), "y": coords[:, 1].tolist()})
        expected.append(selected_positions(selection | {"version": "v"}, coords, "v").tolist())
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    module = tmp_path / "scatter_gl.mjs"
    module.write_text((PROJECT / "ui" / "scatter_gl.js").read_text())
    script = tmp_path / "select.cjs"
    script.write_text(f"(async () => {{ {NODE_SELECT} }})();")
    out = subprocess.run(["node", script, module.as_uri(), tmp_path / "cases.json"], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == expected


def test_a_stale_or_foreign_selection_picks_nothing():
    coords = clumpy(100, 1)
    version = map_version(coords)
    assert selected_positions({"version": version, "kind": "point", "index": 100}, coords, version).size == 0
    other = pl.Series(np.arange(3))  # not a dict at all
    assert selected_positions(other, coords, version).size == 0


# ---------------------------------------------------------------- the page: faces channel, link, the atlas job

PAGE = str(PROJECT / "pages" / "4_Clustering.py")


@pytest.fixture(scope="module")
def faces_home(demo_home, tmp_path_factory):
    """A copy of the small demo with synthetic identity embeddings, and the same home's dataset."""
    from bench.synthetic_embeddings import identity_embeddings
    from core.data.embeddings import save_embeddings

    home = tmp_path_factory.mktemp("faces-home")
    shutil.copytree(demo_home / "data" / "demo", home / "data" / "demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEATLAS_HOME", str(home))
        mp.setenv("FACEATLAS_CACHE", str(home / "cache"))
        ds = open_dataset(home / "data" / "demo", name="demo")
        save_embeddings(ds, "dlib", identity_embeddings(ds.table["identity"].to_numpy(), seed=4),
                        np.ones(ds.n_images, bool), synthetic=True)  # fmt: skip
    return home


@pytest.fixture
def in_faces_home(faces_home, monkeypatch):
    """The faces home for one test; Streamlit's in-memory caches emptied around it, since another copy of the demo
    (same image files, so the same keys) holds other embeddings in the other page tests."""
    monkeypatch.setenv("FACEATLAS_HOME", str(faces_home))
    monkeypatch.setenv("FACEATLAS_CACHE", str(faces_home / "cache"))
    clear_streamlit_caches()
    yield open_dataset(faces_home / "data" / "demo", name="demo")
    clear_streamlit_caches()


def open_page(monkeypatch, params: dict, state: dict | None = None):
    """The Clustering page as AppTest with the map's two components recorded: (app, map blobs, channel messages)."""
    from streamlit.testing.v1 import AppTest

    import ui.clustering.maps

    blobs, messages = [], []
    monkeypatch.setattr(ui.clustering.maps, "scatter_gl", lambda blob, key: blobs.append(blob))
    monkeypatch.setattr(ui.clustering.maps, "faces_channel", lambda message, key: messages.append(message))
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.query_params.update(params)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at, blobs, messages


def test_without_faces_yet_the_map_starts_their_job_and_draws_its_points(in_faces_home, monkeypatch):
    import ui.jobs

    started = []
    monkeypatch.setattr(
        ui.jobs, "start_job", lambda kind, argv, owner=None: started.append((kind, list(argv))) or "recorded"
    )
    at, blobs, messages = open_page(monkeypatch, {"dataset": "demo", "draw": "webgl"})
    job = sprites_job_spec(in_faces_home)
    assert started == [(job.kind, list(job.argv))]
    header, arrays = read_webgl_map(blobs[-1])
    assert "tile" in arrays and header["labels"]  # the map's level of detail and names come with its points
    assert json.loads(messages[-1][4:]) == {"version": header["version"], "ready": False, "seq": 0}
    assert any("Zoom in to see faces" in c.value for c in at.caption)


def test_the_page_sends_the_faces_a_map_asks_for_and_keeps_its_view_in_the_link(in_faces_home, monkeypatch):
    from ui import state as keys

    ds = in_faces_home
    atlas = build_atlas(ds, 32, workers=1)
    at, blobs, messages = open_page(monkeypatch, {"dataset": "demo", "draw": "webgl", "mview": "0.5,-0.25,4"})
    header, arrays = read_webgl_map(blobs[-1])
    assert header["view"] == [0.5, -0.25, 4.0]  # the link's view: the map opens there
    version = header["version"]
    assert json.loads(messages[-1][4:]) == {"version": version, "ready": True, "seq": 0}
    ask = {"want": {"version": version, "seq": 3, "tiles": [2, 0, 1]}, "view": {"version": version, "view": [1, 2, 8]}}
    at.session_state[keys.CL_MAP_FACES] = ask
    at.run()
    assert not at.exception, at.exception
    assert at.query_params["mview"] == map_view_text((1.0, 2.0, 8.0))
    answer, image = read_faces_message(messages[-1])
    assert answer["seq"] == 3 and answer["tiles"] == [2, 0, 1]
    ids = np.asarray(bytes(arrays["ids"]).decode().split("\n"))
    points = [i for t in (2, 0, 1) for i in np.flatnonzero(arrays["tile"] == t)]  # each tile's points in order
    rows = [ds.row_of(image_id) for image_id in ids[points]]
    for k, row in enumerate(rows):
        face = image[(k // TILE) * 32 : (k // TILE + 1) * 32, (k % TILE) * 32 : (k % TILE + 1) * 32].astype(float)
        assert np.abs(face - atlas.faces[row]).mean() < 8, k  # that image's face (JPEG's loss only)
    other = {"want": {"version": "another map", "seq": 4, "tiles": [5]}, "view": {"version": "x", "view": [9, 9, 9]}}
    at.session_state[keys.CL_MAP_FACES] = other
    at.run()
    assert json.loads(messages[-1][4:])["seq"] == 0  # a request about another map is not answered
    assert at.query_params["mview"] == map_view_text((1.0, 2.0, 8.0))
