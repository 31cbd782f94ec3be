"""The map's data: points table, what a click or box selection picks, and the job's Subset round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from core.cli.cluster import map_job_spec
from core.cluster.features import FeatureKey, FeatureSpec
from core.cluster.map import drawn_positions, map_frame, picked_image_ids
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
