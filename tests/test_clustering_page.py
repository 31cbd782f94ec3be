"""AppTests of the Clustering page on a private copy of the demo with synthetic identity embeddings saved for it."""

from __future__ import annotations

import io
import os
import re
import shutil
from collections import Counter

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import core.cluster.map
import core.cluster.reduce
import ui.clustering.maps
import ui.clustering.results
import ui.clustering.steps
import ui.jobs
import ui.scatter_gl
from core import cached
from core.__main__ import main
from core.charts.cluster import read_webgl_map
from core.cli.cluster import map_job_spec
from core.cluster.algorithms import ClusterSpec, cluster
from core.cluster.features import FeatureSpec
from core.cluster.metrics import external_metrics, internal_metrics
from core.cluster.reduce import ReductionSpec, pca
from core.cluster.sprite_job import build_atlas
from core.cluster.store import clustering_dir, load_map, map_key
from core.cluster.view import View, ViewOptions
from core.data.embeddings import save_embeddings
from core.data.ingest import open_dataset
from core.data.subset import Subset
from tests.support import PROJECT, opened_at
from ui import state as keys

PAGE = str(PROJECT / "pages" / "4_Clustering.py")


@pytest.fixture(scope="module")
def cluster_home(demo_home, tmp_path_factory):
    """A home of our own: a copy of the demo (so the shared fixture's cache stays untouched) plus embeddings."""
    from bench.synthetic_embeddings import identity_embeddings

    home = tmp_path_factory.mktemp("cluster-home")
    shutil.copytree(demo_home / "data" / "demo", home / "data" / "demo")
    shutil.copytree(demo_home / "data" / "demo" / "Anno", home / "data" / "annotations_only" / "Anno")
    saved = {k: os.environ.get(k) for k in ("FACEATLAS_HOME", "FACEATLAS_CACHE")}
    os.environ["FACEATLAS_HOME"] = str(home)
    os.environ["FACEATLAS_CACHE"] = str(home / "cache")
    ds = open_dataset(home / "data" / "demo", name="demo")
    vectors = identity_embeddings(ds.table["identity"].to_numpy(), seed=4)
    has_face = np.ones(len(vectors), bool)
    has_face[::40] = False  # some photos without a detected face
    save_embeddings(ds, "dlib", vectors, has_face, synthetic=True)
    build_atlas(ds, 32, workers=1)  # the map's faces, so a WebGL map starts no job here (tests/test_map_faces.py does)
    yield home, ds, vectors, has_face
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def metric(at, label):
    return next(m for m in at.metric if m.label == label).value


def frame_with(at, column):
    """The first dataframe shown with this column (AppTest does not expose dataframe keys)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def run_page():
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def test_default_identity_clustering_on_embeddings(cluster_home):
    _, ds, vectors, has_face = cluster_home
    at = run_page()
    assert at.selectbox(key="cl-space").value == "embeddings"
    assert at.selectbox(key="cl-algo").value == "rerank"
    rows = np.flatnonzero(has_face)
    assert any(f"{len(rows):,} points" in c.value for c in at.caption)
    assert any(f"{(~has_face).sum():,} images without a detected face" in c.value for c in at.caption)
    truth = ds.table["identity"].to_numpy()[rows]
    expected = cluster(vectors[rows], "rerank")
    ext = external_metrics(truth, expected.labels)
    assert metric(at, "Clusters") == f"{expected.n_clusters:,}"
    assert metric(at, "Pairwise F1") == f"{ext['pairwise_f1']:.3f}"
    assert metric(at, "BCubed F1") == f"{ext['bcubed_f1']:.3f}"
    assert float(metric(at, "Pairwise F1")) > 0.95  # the synthetic identities are recovered
    table = frame_with(at, "prominent attributes")
    assert len(table) == expected.n_clusters
    assert table["size"].sum() == len(rows)


def test_switch_to_attributes_pca_kmeans(cluster_home):
    _, ds, _, _ = cluster_home
    at = run_page()
    at.selectbox(key="cl-space").select("attributes").run()
    at.selectbox(key="cl-algo").select("kmeans").run()
    at.number_input(key="cl-kmeans-k").set_value(5).run()
    at.selectbox(key="cl-reduce").select("pca").run()
    assert not at.exception, at.exception
    X = ds.attribute_matrix().astype(np.float32)
    reduced = pca(X, 0.95)
    assert any(f"PCA kept {reduced.n_components} components" in c.value for c in at.caption)
    expected = cluster(reduced.coords, "kmeans", k=5)
    inner = internal_metrics(reduced.coords, expected.labels)
    assert metric(at, "Clusters") == "5"
    assert metric(at, "Silhouette") == f"{inner['silhouette']:.3f}"
    table = frame_with(at, "prominent attributes")
    assert sorted(table["size"].to_list(), reverse=True) == sorted(np.bincount(expected.labels).tolist(), reverse=True)


def test_dbscan_shows_k_distance_helper_and_warns_on_a_huge_eps(cluster_home):
    at = run_page()
    at.selectbox(key="cl-algo").select("dbscan").run()
    assert not at.exception, at.exception
    assert any("Suggested eps" in c.value for c in at.caption)
    assert not any("One cluster holds" in w.value for w in at.warning)
    at.number_input(key="cl-dbscan-eps").set_value(1.2).run()
    assert any("One cluster holds" in w.value for w in at.warning)
    assert metric(at, "Clusters") == "1"
    at.selectbox(key="cl-algo").select("hdbscan").run()
    assert not at.exception, at.exception
    assert any("HDBSCAN outlier scores" in c.value for c in at.caption)


def test_agglomerative_ward_cosine_is_corrected_and_subset_sampling_is_noted(cluster_home):
    at = run_page()
    at.number_input(key="cl-max").set_value(200).run()
    assert any("Sampled 200 of" in c.value for c in at.caption)
    at.selectbox(key="cl-algo").select("agglomerative").run()
    at.selectbox(key="cl-agglomerative-metric").select("cosine").run()
    assert any("Ward linkage needs the euclidean" in w.value for w in at.warning)
    assert not at.exception, at.exception
    assert metric(at, "Clusters") == "8"
    assert any("Dendrogram (ward linkage" in c.value for c in at.caption)  # 200 points fit on screen
    at.button(key="cl-sweep").click().run()
    assert not at.exception, at.exception
    side = frame_with(at, "Algorithm")
    assert {"k-means", "HDBSCAN", "Chinese whispers (identity)"} <= set(side["Algorithm"]), side


def _shown_text(at) -> str:
    return "\n".join(str(e.value) for kind in ("caption", "markdown", "warning", "info") for e in at.get(kind))


def test_sweeps_are_kept_readable_and_in_the_link_until_their_inputs_change(cluster_home):
    """Run once, the sweeps stay through other clicks (and in the link); their tables have named columns and
    formatted numbers; a new largest k takes them away with a word, a shared link runs them again."""
    at = run_page()
    at.number_input(key="cl-max").set_value(200).run()
    at.button(key="cl-sweep").click().run()
    assert not at.exception, at.exception
    side, eps = frame_with(at, "Algorithm"), frame_with(at, "Largest cluster")
    assert list(side.columns[:4]) == ["Algorithm", "Clusters", "Noise", "Silhouette"] and "ARI" in side.columns
    assert list(eps.columns) == ["eps", "Clusters", "Noise", "Largest cluster", "Pairwise F1"]
    cells = [str(v) for frame in (side, eps) for column in frame.columns for v in frame[column]]
    assert not [c for c in cells if c in ("None", "nan") or re.fullmatch(r"-?\d+\.\d{4,}", c)], cells
    assert all(re.fullmatch(r"\d+\.\d%", v) for v in eps["Noise"]), eps["Noise"]
    assert at.query_params["sweeps"] in ("1", ["1"])
    clusters = at.selectbox(key="cl-pick-cluster")
    clusters.select(clusters.options[-1]).run()  # another click on the page: the sweeps stay
    assert frame_with(at, "Algorithm").equals(side)
    shared = opened_at(PAGE, {k: v if isinstance(v, str) else v[0] for k, v in dict(at.query_params).items()}, 180)
    assert frame_with(shared, "Algorithm")["Clusters"].to_list() == side["Clusters"].to_list()
    at.number_input(key="cl-sweep-kmax").set_value(12).run()
    assert not any("Algorithm" in d.value.columns for d in at.dataframe)
    assert "run them again" in _shown_text(at) and "sweeps" not in at.query_params


def test_page_without_embeddings_falls_back_to_attributes(cluster_home):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["selected_dataset"] = "annotations_only"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="cl-space").options == ["Annotated attributes"]
    assert metric(at, "Clusters") == "8"


def test_background_umap_job_stores_the_map_the_page_loads(cluster_home, monkeypatch):
    """The job's command line (as the page builds it) writes a map under the key the page looks up.

    UMAP itself is swapped for PCA here (its numba compile alone takes a minute on 2 cores);
    what is tested is that job and page agree on rows and key.
    """
    _, ds, _, has_face = cluster_home
    subset = Subset(partition="train")
    spec = FeatureSpec("embeddings", model="dlib")
    monkeypatch.setattr(core.cluster.reduce, "map_2d", lambda X, method, seed=0, **kw: core.cluster.reduce.pca(X, 2))
    view = View(ViewOptions.of(ds), spec, subset, 5000, ReductionSpec(), ClusterSpec.of("kmeans"))
    fkey = cached.clustering_key(ds, view).features
    assert main(list(map_job_spec(ds, fkey).argv)) == 0
    fm = cached.cluster_features(ds, fkey)
    coords = load_map(clustering_dir(ds), map_key(fkey, "umap"), fm.rows)
    assert coords is not None and coords.shape == (fm.n, 2)
    train = ds.table["partition"].to_numpy() == "train"
    assert fm.n == int((train & has_face).sum())


def test_large_maps_draw_a_sample_but_score_every_point(cluster_home, monkeypatch):
    _, _, _, has_face = cluster_home
    monkeypatch.setattr(core.cluster.map, "MAP_DRAW_MAX", 100)
    at = run_page()
    n = int(has_face.sum())
    assert any(f"Drawing a sample of 100 of the {n:,} points" in c.value for c in at.caption)
    assert frame_with(at, "prominent attributes")["size"].sum() == n


@pytest.fixture
def started_jobs(monkeypatch):
    """Jobs the page asks to start, recorded instead of started (each test runs them in-process itself)."""
    started = []
    monkeypatch.setattr(ui.jobs, "start_job", lambda kind, argv, owner=None: started.append((kind, argv)) or "fake")
    return started


def test_umap_reduction_runs_as_a_job_whose_result_the_page_loads(cluster_home, monkeypatch, started_jobs):
    """Choosing UMAP before clustering starts a background job at once (no click) and the page waits, saying so;
    once the job has stored the reduction, the page clusters it. UMAP is swapped for PCA (numba compiles for a
    minute on 2 cores): what is tested is that page and job agree on what is stored where."""
    monkeypatch.setattr(
        core.cluster.reduce, "umap", lambda X, n_components=2, seed=0, **kw: core.cluster.reduce.pca(X, n_components)
    )
    at = run_page()
    at.selectbox(key="cl-reduce").select("umap").run()
    assert not at.exception, at.exception
    assert [kind for kind, _ in started_jobs] == ["cluster-reduce"]
    assert any("results appear here by themselves" in c.value for c in at.caption)
    assert not [m for m in at.metric if m.label == "Clusters"]
    assert main(started_jobs[0][1]) == 0  # the job, run here
    at.run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("UMAP to 10-D") for c in at.caption)
    assert metric(at, "Clusters") != ""


def test_slow_clustering_runs_as_a_job_and_shows_the_same_numbers(cluster_home, monkeypatch, started_jobs):
    """A clustering estimated over a second runs in the background; its stored labels give the numbers the
    page would have computed itself."""
    _, ds, vectors, has_face = cluster_home
    monkeypatch.setattr(ui.clustering.steps, "clustering_seconds", lambda spec, n, d: 30.0)
    at = run_page()
    assert [kind for kind, _ in started_jobs] == ["cluster-labels"]
    assert any("Face identities (re-ranked) runs in the background" in c.value for c in at.caption)
    assert not [m for m in at.metric if m.label == "Clusters"]
    assert main(started_jobs[0][1]) == 0
    at.run()
    assert not at.exception, at.exception
    rows = np.flatnonzero(has_face)
    expected = cluster(vectors[rows], "rerank")
    assert metric(at, "Clusters") == f"{expected.n_clusters:,}"
    truth = ds.table["identity"].to_numpy()[rows]
    assert metric(at, "BCubed F1") == f"{external_metrics(truth, expected.labels)['bcubed_f1']:.3f}"


def test_view_round_trips_through_the_url(cluster_home):
    """Every sidebar and map choice goes into the URL; the URL in a fresh session shows the same clustering."""
    at = run_page()
    assert dict(at.query_params) == {"dataset": "demo"}
    at.selectbox(key="cl-space").select("attributes").run()
    assert at.selectbox(key="cl-algo").value == "kmeans"  # the old space's default followed the space
    at.multiselect(key="cl-attrs").set_value(["Male", "Smiling", "Eyeglasses", "Young", "Bald"]).run()
    at.selectbox(key="cl-weighting").select("inverse_prevalence").run()
    at.checkbox(key="cl-standardise").check().run()
    at.multiselect(key="cl-subset-attrs").set_value(["Wearing_Hat"]).run()
    at.radio(key="cl-subset-Wearing_Hat").set_value("absent").run()
    at.number_input(key="cl-max").set_value(300).run()
    at.selectbox(key="cl-reduce").select("pca").run()
    at.number_input(key="cl-pca-n").set_value(3).run()
    at.selectbox(key="cl-algo").select("agglomerative").run()
    at.number_input(key="cl-agglomerative-k").set_value(6).run()
    at.selectbox(key="cl-agglomerative-linkage").select("average").run()
    at.selectbox(key="cl-color").select("attribute").run()
    at.selectbox(key="cl-color-attr").select("Male").run()
    at.radio(key="cl-select-mode").set_value("lasso").run()
    at.selectbox(key="cl-draw").select("webgl").run()
    at.selectbox(key="cl-pick-cluster").select(2).run()
    assert not at.exception, at.exception
    params = dict(at.query_params)
    assert params == {
        "dataset": "demo",
        "space": "attributes",
        "attrs": "Male,Smiling,Eyeglasses,Young,Bald",
        "weights": "inverse_prevalence",
        "std": "1",
        "where": "Wearing_Hat:0",
        "n": "300",
        "reduce": "pca",
        "pcs": "3",
        "algo": "agglomerative",
        "k": "6",
        "linkage": "average",
        "color": "attribute",
        "cattr": "Male",
        "sel": "lasso",
        "draw": "webgl",
        "cluster": "2",
    }
    again = opened_at(PAGE, params, 180)
    assert dict(again.query_params) == params
    for label in ("Clusters", "Silhouette", "Davies–Bouldin", "Calinski–Harabasz", "ARI", "BCubed F1"):
        assert metric(again, label) == metric(at, label), label
    assert frame_with(again, "prominent attributes").equals(frame_with(at, "prominent attributes"))
    assert [c.value for c in again.caption] == [c.value for c in at.caption]
    assert any(c.value.startswith("300 points · 5 features") for c in again.caption)
    # Another algorithm: its own parameters only; k is k wherever it appears, so it carries over.
    again.selectbox(key="cl-algo").select("kmeans").run()
    assert "linkage" not in again.query_params and again.query_params["k"] == "6"
    assert again.number_input(key="cl-kmeans-k").value == 6


def shown_faces(at) -> Counter:
    """Image ids of the thumbnails on the page (captions '<image id> · ...'), counted."""
    return Counter(caption.split(" · ")[0] for image in at.image for caption in image.captions)


def test_the_assignment_csv_is_written_only_when_asked_for(cluster_home, monkeypatch):
    """The download button gets a function, not 2.8 MB per rerun; what it writes is every clustered image once."""
    _, ds, vectors, has_face = cluster_home
    offered = {}
    real = ui.clustering.results.st.download_button
    monkeypatch.setattr(
        ui.clustering.results.st,
        "download_button",
        lambda label, data, **kw: offered.update(data=data) or real(label, data, **kw),
    )
    at = run_page()
    assert callable(offered["data"])
    written = pl.read_csv(io.StringIO(offered["data"]()))
    rows = np.flatnonzero(has_face)
    assert written["image_id"].to_list() == ds.table["image_id"].to_numpy()[rows].tolist()
    expected = cluster(vectors[rows], "rerank")
    assert metric(at, "Clusters") == f"{expected.n_clusters:,}"
    assert written["cluster"].to_list() == expected.labels.tolist()


def test_webgl_map_draws_every_point_and_a_box_selection_pages_through_its_faces(cluster_home, monkeypatch):
    """The WebGL map gets every point (Altair's sample limit set tiny here changes nothing); a box drawn on it
    (what the browser sends: its shape) fills the faces panel with the points inside, 24 a page."""
    _, ds, _, has_face = cluster_home
    monkeypatch.setattr(core.cluster.map, "MAP_DRAW_MAX", 100)
    blobs, browser = [], {}
    monkeypatch.setattr(
        ui.clustering.maps, "scatter_gl", lambda blob, key: blobs.append(blob) or browser.get("selection")
    )
    at = opened_at(PAGE, {"dataset": "demo", "draw": "webgl", "sel": "box"}, 180)
    rows = np.flatnonzero(has_face)
    header, arrays = read_webgl_map(blobs[-1])
    assert header["n"] == len(rows) and header["mode"] == "box"
    ids = np.asarray(bytes(arrays["ids"]).decode().split("\n"))
    assert ids.tolist() == ds.table["image_id"].to_numpy()[rows].tolist()  # every point, none sampled
    assert any(f"map of all {len(rows):,} points, drawn with WebGL" in c.value for c in at.caption)
    assert not any("Drawing a sample" in c.value for c in at.caption)
    assert any("Select points on the map" in c.value for c in at.caption)
    elsewhere = shown_faces(at)  # the page's other sections' faces
    coords = np.column_stack([arrays["x"], arrays["y"]]).astype(np.float64)
    x0, x1 = np.quantile(coords[:, 0], [0.2, 0.8])
    y0, y1 = np.quantile(coords[:, 1], [0.2, 0.8])
    inside = np.flatnonzero((coords[:, 0] >= x0) & (coords[:, 0] <= x1) & (coords[:, 1] >= y0) & (coords[:, 1] <= y1))
    assert len(inside) > 48
    browser["selection"] = {"version": header["version"], "kind": "box", "box": [x0, x1, y0, y1]}
    at.run()
    assert not at.exception, at.exception
    pages = -(-len(inside) // 24)
    assert any(c.value == f"{len(inside):,} faces selected (showing 1–24)" for c in at.caption)
    expected = ds.table["image_id"].to_numpy()[rows[inside]]
    assert shown_faces(at) - elsewhere == Counter(expected[:24].tolist())
    at.number_input(key="cl-sel-page").set_value(2).run()
    assert at.number_input(key="cl-sel-page").label == f"Page (of {pages:,})"
    assert shown_faces(at) - elsewhere == Counter(expected[24:48].tolist())
    browser["selection"] = {**browser["selection"], "version": "a map drawn before"}
    at.run()
    assert shown_faces(at) == elsewhere  # a selection made on other positions picks nothing here


def test_the_map_is_sent_whole_once_then_its_header_alone_until_the_browser_asks_for_it(cluster_home, monkeypatch):
    """Streamlit copies and hashes a component's data on every run: the WebGL map's blob goes to the browser whole
    once; on later runs (a selection, a page turn) only its header, which names it by digest; a browser that no longer
    holds it asks ("need") and gets it whole again, once per ask."""
    sent = []
    monkeypatch.setattr(ui.scatter_gl, "_component", lambda: lambda **kwargs: sent.append(kwargs["data"]) or {})
    at = opened_at(PAGE, {"dataset": "demo", "draw": "webgl", "sel": "box"}, 180)
    at.run()
    whole, again = sent[0], sent[-1]
    header, arrays = read_webgl_map(whole)
    assert len(arrays["x"]) == header["n"] > 0
    head = 4 + int.from_bytes(whole[:4], "little")
    assert again == whole[:head] and len(whole) > head  # the header alone, the same header
    at.session_state[keys.CL_MAP_GL] = {"selection": None, "need": f"{header['digest']}:1"}
    at.run()
    assert sent[-1] == whole  # asked for: sent whole
    at.run()
    assert sent[-1] == whole[:head]  # and only once for that ask


def test_density_colouring_comes_from_the_url(cluster_home, monkeypatch):
    blobs = []
    monkeypatch.setattr(ui.clustering.maps, "scatter_gl", lambda blob, key: blobs.append(blob))
    at = opened_at(PAGE, {"dataset": "demo", "draw": "webgl", "color": "density"}, 180)
    assert at.selectbox(key="cl-color").value == "density" and at.selectbox(key="cl-draw").value == "webgl"
    header, arrays = read_webgl_map(blobs[-1])
    assert header["colorbar"] and not header["legend"]
    crowding = core.cluster.map.density(np.column_stack([arrays["x"], arrays["y"]]))
    assert np.array_equal(arrays["c"], np.rint(crowding * 255))  # crowded points: higher codes, drawn last, on top


def test_an_identity_algorithm_on_attributes_says_why_it_finds_so_many_groups(cluster_home):
    at = opened_at(PAGE, {"dataset": "demo", "space": "attributes", "algo": "chinese_whispers"}, 180)
    clusters = metric(at, "Clusters")
    said = [w.value for w in at.warning if "groups faces by person, which needs face embeddings" in w.value]
    assert len(said) == 1 and f"hence {clusters} groups" in said[0], [w.value for w in at.warning]
    at.selectbox(key="cl-algo").select("kmeans").run()
    assert not any("needs face embeddings" in w.value for w in at.warning)
