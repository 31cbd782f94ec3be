"""The Clustering page's URL contract (core/cluster/view.py): a view written as parameters reads back as itself,
defaults stay out of the address, and what a dataset cannot take falls back to the default."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from core.cluster.algorithms import ClusterSpec
from core.cluster.features import FeatureSpec
from core.cluster.reduce import ReductionSpec
from core.cluster.view import View, ViewOptions, clustering_values, pca_reduction, umap_reduction
from core.data.dataset import Dataset
from core.data.subset import Subset

OPTIONS = ViewOptions(
    spaces=("embeddings", "attributes"),
    models=("dlib",),
    attributes=("Male", "Smiling", "Bald"),
    partitions=("train", "val", "test"),
    has_identity=True,
    n_images=6000,
)
DS = Dataset(
    "t-0",
    "t",
    Path("/nowhere"),
    "celeba",
    pl.DataFrame({"image_id": ["a.jpg"], "identity": ["1"], "partition": ["train"]}),
    ("Male", "Smiling", "Bald"),
    None,
    0,
    Path("/nowhere/cache"),
)


def read(params: dict[str, str]) -> View:
    return View.from_params(params, DS, OPTIONS)


def test_the_default_view_has_no_parameters():
    view = read({})
    assert view == View(
        OPTIONS,
        FeatureSpec("embeddings", model="dlib"),
        Subset(),
        5000,
        ReductionSpec(),
        ClusterSpec.of("rerank", threshold=0.55, k1=20),
        "pca",
    )
    assert view.to_params() == {}


def test_a_view_written_as_parameters_reads_back_as_itself():
    view = View(
        OPTIONS,
        FeatureSpec("attributes", ("Male", "Bald"), "inverse_prevalence", True),
        Subset((("Smiling", 0),), "test", (), 20),
        300,
        umap_reduction(5, 15, 0.25, "cosine"),
        ClusterSpec.of("agglomerative", k=6, linkage="average"),
        "tsne",
    )
    params = view.to_params()
    assert params == {
        "space": "attributes",
        "attrs": "Male,Bald",
        "weights": "inverse_prevalence",
        "std": "1",
        "where": "Smiling:0",
        "part": "test",
        "top": "20",
        "n": "300",
        "reduce": "umap",
        "ucomp": "5",
        "umd": "0.25",
        "umetric": "cosine",
        "algo": "agglomerative",
        "k": "6",
        "linkage": "average",
        "map": "tsne",
    }
    assert read(params) == view
    pca = View(OPTIONS, FeatureSpec("attributes"), Subset(), 5000, pca_reduction(3), ClusterSpec.of("dbscan", eps=1.2))
    assert pca.to_params() == {"space": "attributes", "reduce": "pca", "pcs": "3", "algo": "dbscan", "eps": "1.2"}
    assert read(pca.to_params()) == pca


def test_what_the_dataset_cannot_take_falls_back_to_the_default():
    view = read(
        {
            "space": "predicted",  # no classifier has predicted attributes here
            "n": "999999",
            "algo": "spectral",
            "reduce": "isomap",
            "map": "svg",
            "where": "Nope:1,Male:1",
            "part": "all",
            "top": "-3",
            "std": "yes",
        }
    )
    assert view == read({"where": "Male:1"})  # only the condition on an attribute the dataset has survives
    assert view.subset == Subset((("Male", 1),))
    assert read({"algo": "kmeans", "k": "0"}).clustering == ClusterSpec.of("kmeans", k=8)
    assert read({"algo": "kmeans", "k": "6.5"}).clustering == ClusterSpec.of("kmeans", k=8)
    assert read({"space": "attributes", "attrs": "Male,Nope"}).features == FeatureSpec("attributes")
    assert read({"n": "99"}).max_points == 5000 and read({"n": "6000"}).max_points == 6000
    ward = read({"algo": "agglomerative", "linkage": "ward", "metric": "cosine"}).clustering
    assert ward.param("metric") == "euclidean"  # as the page uses it: ward needs euclidean


def test_parameters_keep_their_url_name_across_algorithms():
    """k is k wherever it appears: an address written for one algorithm seeds another's parameters."""
    assert clustering_values({"algo": "agglomerative", "k": "6", "linkage": "average"}, "kmeans") == {"k": 6}
    assert clustering_values({"minpts": "4"}, "hdbscan") == {"min_cluster_size": 5, "min_samples": 4}


def test_an_algorithm_that_refuses_many_points_caps_the_sample():
    view = read({"algo": "rerank", "n": "6000"})
    assert view.max_points == 6000 and view.point_limit == 5000
    assert read({"algo": "kmeans", "n": "6000"}).point_limit == 6000
