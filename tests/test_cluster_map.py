"""The map's data: points table, colours, what a click, box or lasso selection picks, the WebGL map's blob, and the
job's Subset round trip."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from core.charts.cluster import map_version, read_webgl_map, webgl_map
from core.cli.cluster import map_job_spec
from core.cluster.features import FeatureKey, FeatureSpec
from core.cluster.map import (
    DISTINCT_COLOURS,
    MUTED,
    NOISE,
    crowded_share,
    density,
    draw_method,
    drawn_positions,
    in_polygon,
    largest_first,
    map_frame,
    picked_image_ids,
    present_absent,
    selected_positions,
)
from core.data.dataset import Dataset
from core.data.subset import Subset


def tiny_dataset() -> Dataset:
    table = pl.DataFrame(
        {
            "image_id": ["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
            "identity": ["1", None, "2", "2"],
            "partition": ["train"] * 4,
            "Smiling": pl.Series([1, 0, 0, 1], dtype=pl.UInt8),
        }
    )
    return Dataset("t-0", "t", Path("/nowhere"), "celeba", table, ("Smiling",), None, 0, Path("/nowhere/cache"))


def test_map_frame_rows_clusters_and_attribute_colour():
    ds = tiny_dataset()
    coords = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], np.float32)
    frame = map_frame(ds, np.array([3, 1, 0]), coords, np.array([0, -1, 1]), "Smiling")
    assert frame["image_id"].to_list() == ["d.jpg", "b.jpg", "a.jpg"]
    assert frame["identity"].to_list() == ["2", "–", "1"]
    assert frame["cluster"].to_list() == ["0", "noise", "1"]
    assert frame["Smiling"].to_list() == ["present", "absent", "present"]
    assert frame["x"].to_list() == [0.0, 2.0, 4.0]


def test_clicked_points_and_box_selection_pick_the_right_faces():
    frame = pl.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0.0, 1.0, 2.0, 3.0], "image_id": ["a", "b", "c", "d"]})
    assert picked_image_ids([{"image_id": "c"}, {"image_id": "a"}, {"other": 1}], frame) == ["c", "a"]
    assert picked_image_ids({"x": [2.5, 0.5], "y": [0.9, 2.1]}, frame) == ["b", "c"]
    assert picked_image_ids({"image_id": ["d"]}, frame) == ["d"]
    assert picked_image_ids(None, frame) == [] and picked_image_ids({}, frame) == []


def test_subset_survives_the_job_command_line():
    subset = Subset((("Smiling", 1), ("Male", 0)), "val", ("12", "7"), 40)
    assert Subset.from_json(subset.to_json()) == subset
    assert Subset.from_json(Subset().to_json()).is_everything


def test_map_job_argv_carries_every_feature_choice():
    spec = FeatureSpec("attributes", attributes=("Smiling", "Male"), weighting="inverse_prevalence", standardise=True)
    job = map_job_spec(tiny_dataset(), FeatureKey("t-0", spec, Subset(partition="test"), 3000, 7))
    argv = list(job.argv)
    assert job.kind == "cluster-map" and argv[:2] == ["cluster", "/nowhere"]
    pairs = dict(zip(argv[2::2], argv[3::2]))
    assert pairs["--features"] == "attributes" and pairs["--weighting"] == "inverse_prevalence"
    assert pairs["--max-points"] == "3000" and pairs["--seed"] == "7"
    assert argv[argv.index("--save-map") + 1] == "umap"
    assert Subset.from_json(argv[argv.index("--subset-json") + 1]) == Subset(partition="test")
    assert argv[argv.index("--attributes") + 1] == "Smiling,Male" and "--standardise" in argv


def test_large_maps_draw_a_seeded_sample_and_small_ones_everything():
    assert drawn_positions(50, limit=100).tolist() == list(range(50))
    picked = drawn_positions(1000, seed=3, limit=100)
    assert len(picked) == len(np.unique(picked)) == 100 and (np.diff(picked) > 0).all() and picked.max() < 1000
    assert (drawn_positions(1000, seed=3, limit=100) == picked).all()


def test_largest_groups_get_distinct_colours_and_the_rest_one_muted_colour():
    sizes = {c: 100 - c for c in range(30)}  # cluster c has 100 - c points: cluster 0 is the largest
    values = np.array([c for c, k in sizes.items() for _ in range(k)] + [-1] * 7)
    palette = largest_first(values, "cluster", distinct=5, noise=-1)
    assert palette.names[:2] == ("noise", "other 25 clusters") and palette.colours[:2] == (NOISE, MUTED)
    assert palette.names[2:] == ("cluster 4", "cluster 3", "cluster 2", "cluster 1", "cluster 0")  # largest on top
    assert palette.colours[2:] == tuple(reversed(DISTINCT_COLOURS[:5]))
    assert palette.counts == (7, sum(100 - c for c in range(5, 30)), 96, 97, 98, 99, 100)
    named = np.asarray(palette.names)[palette.group]
    assert (named[values == 0] == "cluster 0").all() and (named[values == 29] == "other 25 clusters").all()
    assert (named[values == -1] == "noise").all() and sum(palette.counts) == len(values)
    few = largest_first(np.array(["b", "a", "a"]), "identity")
    assert few.names == ("identity b", "identity a") and few.counts == (1, 2)  # no "other" group when all fit
    attr = present_absent(np.array([1, 0, 0, 1, 1]), "Smiling")
    assert attr.names == ("no Smiling", "Smiling") and attr.counts == (2, 3) and attr.group.tolist() == [1, 0, 0, 1, 1]


def test_density_is_highest_where_points_crowd():
    rng = np.random.default_rng(0)
    crowd = rng.normal(0, 0.01, (500, 2))
    spread = rng.uniform(-10, 10, (50, 2))
    both = np.vstack([crowd, spread, [[-10, -10], [10, 10]]])
    d = density(both)
    assert d.min() >= 0 and d.max() == 1.0
    assert d[:500].min() > d[500:].max()
    assert crowded_share(both) == 500 / len(both) and crowded_share(spread) == 0.0


def test_page_picks_webgl_above_the_altair_limit_and_for_lasso():
    assert draw_method("auto", 100) == "altair" and draw_method("auto", 100, "lasso") == "webgl"
    assert draw_method("auto", 202_599) == "webgl" and draw_method("altair", 202_599) == "altair"
    with pytest.raises(ValueError, match="auto, webgl, altair"):
        draw_method("svg", 10)


def test_webgl_blob_carries_every_point_at_full_size():
    """No sampling: each of n points (n above the Altair limit) is in the blob once, with its id, place and cluster."""
    n = 25_000
    rng = np.random.default_rng(1)
    coords = rng.normal(size=(n, 2)).astype(np.float32)
    labels = rng.integers(-1, 40, n)
    ids = np.array([f"{i:06d}.jpg" for i in range(n)])
    people = np.array([f"p{i % 300}" for i in range(n)])
    palette = largest_first(labels, "cluster", noise=-1)
    blob = webgl_map(coords, ids, labels, people, palette, mode="box")
    header, arrays = read_webgl_map(blob)
    assert header["n"] == n and header["mode"] == "box" and header["version"] == map_version(coords)
    assert np.array_equal(arrays["x"], coords[:, 0]) and np.array_equal(arrays["y"], coords[:, 1])
    assert np.array_equal(arrays["cluster"], labels)
    assert bytes(arrays["ids"]).decode().split("\n") == ids.tolist()  # every point exactly once, in order
    assert np.array_equal(np.asarray(header["identities"])[arrays["identity"]], people)
    assert np.array_equal(arrays["c"], palette.group)  # the colour code is the palette group: muted ones first
    assert [g["count"] for g in header["legend"]] == list(palette.counts)
    assert len(blob) < 0.6 * (n * (4 + 4 + 1 + 2 + 2) + arrays["ids"].size)  # sent compressed
    dens = density(coords)
    header, arrays = read_webgl_map(webgl_map(coords, ids, labels, None, dens))
    assert "identity" not in arrays and len(header["palette"]) == 256 and header["colorbar"]
    assert np.array_equal(arrays["c"], np.rint(dens * 255))  # crowded points: higher codes, drawn on top
    wide = webgl_map(coords, ids, labels * 1000, people, palette)  # cluster numbers past int16 keep their value
    assert np.array_equal(read_webgl_map(wide)[1]["cluster"], labels * 1000)


def test_webgl_selection_is_recomputed_from_its_shape():
    rng = np.random.default_rng(2)
    coords = rng.uniform(-1, 1, (5000, 2)).astype(np.float32)
    version = map_version(coords)
    x, y = coords[:, 0].astype(np.float64), coords[:, 1].astype(np.float64)
    box = selected_positions({"version": version, "kind": "box", "box": [-0.2, 0.5, 0.1, 0.3]}, coords, version)
    assert box.tolist() == [i for i in range(5000) if -0.2 <= x[i] <= 0.5 and 0.1 <= y[i] <= 0.3]
    triangle = [[0, 0], [1, 0], [0, 1]]
    lasso = selected_positions({"version": version, "kind": "lasso", "polygon": triangle}, coords, version)
    assert lasso.tolist() == [i for i in range(5000) if x[i] > 0 and y[i] > 0 and x[i] + y[i] < 1]
    assert in_polygon(coords, np.array(triangle[:2])).size == 0
    assert selected_positions({"version": version, "kind": "point", "index": 17}, coords, version).tolist() == [17]
    stale = {"version": "another map", "kind": "box", "box": [-1, 1, -1, 1]}
    assert selected_positions(stale, coords, version).size == 0
    for broken in (None, [], {"version": version, "kind": "box", "box": ["a"]}, {"version": version, "kind": "?"}):
        assert selected_positions(broken, coords, version).size == 0


NODE_PARSE = """
globalThis.window = {};
const { parse } = await import(process.argv[2]);
const bytes = new Uint8Array(require("fs").readFileSync(process.argv[3]));
const { header, arrays } = await parse(bytes);
const ids = [];
for (let i = 0; i < header.n; i++) ids.push(new TextDecoder().decode(arrays.ids.subarray(arrays.idStarts[i], arrays.idStarts[i + 1] - 1)));
console.log(JSON.stringify({ order: [...arrays.order], rank: [...arrays.rank], cluster: [...arrays.cluster], ids }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_browser_reads_the_blob_and_draws_in_colour_order(tmp_path):
    """ui/scatter_gl.js's own parse (run by node): every point's id and cluster, and the drawing order computed
    another way (numpy's stable argsort of the colour codes): muted groups first, ties in point order."""
    n = 3000
    rng = np.random.default_rng(4)
    coords = rng.normal(size=(n, 2)).astype(np.float32)
    labels = rng.integers(-1, 30, n)
    ids = np.array([f"img_{i}.jpg" for i in range(n)])
    palette = largest_first(labels, "cluster", noise=-1)
    (tmp_path / "map.bin").write_bytes(webgl_map(coords, ids, labels, None, palette))
    module = tmp_path / "scatter_gl.mjs"
    module.write_text((Path(__file__).resolve().parent.parent / "ui" / "scatter_gl.js").read_text())
    script = tmp_path / "read.cjs"
    script.write_text(f"(async () => {{ {NODE_PARSE} }})();")
    out = subprocess.run(
        ["node", script, module.as_uri(), tmp_path / "map.bin"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    read = json.loads(out.stdout)
    order = np.argsort(palette.group, kind="stable")
    assert read["order"] == order.tolist()
    assert np.array_equal(np.asarray(read["rank"])[order], np.arange(n))
    assert read["ids"] == ids.tolist() and read["cluster"] == labels.tolist()
