"""Identity clustering on real photos (../shared/real/celeba_wild_sample) and the cluster command.

dlib costs ~0.25 s per photo on this 2-core machine, so the test uses a deterministic
subset: conftest's wild_home, the 12 identities with the smallest labels (187 photos, one of each
person held out for the Face search tests), embedded once per test session by the real job
(the embeddings the page clusters) and shared with test_face_search_page.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.__main__ import main
from core.cluster.algorithms import cluster
from core.cluster.metrics import external_metrics
from core.data.embeddings import load_embeddings
from tests.support import WILD_HOME_IDENTITIES, WILD_SAMPLE, needs

SUBSET_IDENTITIES = WILD_HOME_IDENTITIES


@pytest.fixture(scope="module")
def wild(wild_home):
    """(vectors (N,128) float32, identity labels (N,)) of the photos where a face was found."""
    _, ds, _, _ = wild_home
    emb = load_embeddings(ds, "dlib")
    face = emb.has_face
    return np.asarray(emb.vectors)[face], np.array(ds.table["identity"].to_list())[face]


@pytest.mark.slow
@needs(WILD_SAMPLE)
def test_best_identity_algorithm_reaches_pairwise_f1_095_on_real_faces(wild):
    X, identity = wild
    assert len(np.unique(identity)) == SUBSET_IDENTITIES and len(X) > 150
    result = cluster(X, "rerank")  # the page's default for face embeddings, default parameters
    scores = external_metrics(identity, result.labels)
    assert scores["pairwise_f1"] >= 0.95, scores


@pytest.mark.slow
@needs(WILD_SAMPLE)
def test_dbscan_default_eps_avoids_chaining_on_real_faces(wild):
    """Too large a radius chains people together (with 298 identities eps 0.55 already does; with these 12, 0.7)."""
    X, identity = wild
    trap = cluster(X, "dbscan", eps=0.7, min_samples=4)
    assert any("One cluster holds" in w for w in trap.warnings)
    assert external_metrics(identity, trap.labels)["pairwise_f1"] < 0.3
    auto = cluster(X, "dbscan", min_samples=3)
    assert auto.params["eps"] < 0.55
    assert not any("One cluster holds" in w for w in auto.warnings)
    assert external_metrics(identity, auto.labels)["pairwise_f1"] > 0.85


def test_cluster_command_prints_json_metrics(demo_dataset, capsys):
    code = main(
        [
            "cluster",
            str(demo_dataset.root),
            "--name",
            "demo",
            "--features",
            "attributes",
            "--algo",
            "kmeans",
            "--k",
            "4",
            "--reduce",
            "pca",
            "--top-identities",
            "5",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_clusters"] == 4 and out["noise_fraction"] == 0
    top5 = demo_dataset.table["identity"].value_counts(sort=True).head(5)["count"].sum()
    assert out["points"] == top5
    for key in ("silhouette", "ari", "nmi", "pairwise_f1", "bcubed_f1", "seconds"):
        assert key in out


def test_cluster_command_reports_missing_embeddings(demo_dataset, capsys, isolated_cache):
    code = main(["cluster", str(demo_dataset.root), "--name", "demo", "--json"])
    assert code == 2
    assert "no face embeddings" in json.loads(capsys.readouterr().out.splitlines()[0])["error"]


def test_cluster_command_refuses_a_bad_parameter_in_one_plain_sentence(demo_dataset, capsys, isolated_cache):
    """`python -m core cluster data/demo --features embeddings --algo kmeans --k 0`: the algorithm's own sentence,
    before any work (in this cache the demo has no embeddings, so anything later would say that instead), exit
    status 2."""
    code = main(["cluster", str(demo_dataset.root), "--features", "embeddings", "--algo", "kmeans", "--k", "0"])
    assert code == 2
    out = capsys.readouterr()
    assert out.err == "error: k must be between 2 and 2,000; got 0.\n" and out.out == ""
