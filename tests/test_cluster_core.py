"""Clustering core: metrics against hand-computed and brute-force values, registries, helpers, summaries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import core.cluster.algorithms as cluster_module
import core.cluster.reduce as reduce_module
from core.cluster.algorithms import ALGORITHMS, ClusterSpec, check_linkage, chinese_whispers, cluster
from core.cluster.features import attribute_weights, sample_rows
from core.cluster.hdbscan_knn import NEIGHBOURS, hdbscan_knn, knn_forest, link_components
from core.cluster.metrics import (
    external_metrics,
    internal_metrics,
    k_distances,
    knee,
    noise_as_singletons,
    suggest_eps,
    suggest_threshold,
)
from core.cluster.reduce import map_2d, pca, reduce
from core.cluster.summary import (
    attribute_shares,
    centroid_distances,
    cluster_means,
    cluster_sizes,
    describe_clusters,
    mean_and_eigenface,
)
from core.errors import ParameterError


def blobs(n_per=30, centres=((0, 0), (5, 0), (0, 5)), spread=0.3, seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(c, spread, (n_per, len(c))) for c in centres]).astype(np.float32)
    return X, np.repeat(np.arange(len(centres)), n_per)


# ---- external metrics: a hand-computed example ----
# truth:    a a a b b c        clusters: 0 0 1 1 1 noise
# contingency (clusters x classes): c0={a:2}, c1={a:1,b:2}, noise point {c:1} counts as its own cluster.
# pairs: together = C(2,2) + C(2,2) = 2; predicted = C(2,2)+C(3,2) = 4; true = C(3,2)+C(2,2) = 4 -> P = R = F1 = 0.5
# BCubed precision per point: 1, 1, 1/3, 2/3, 2/3, 1 -> 14/18; recall: 2/3, 2/3, 1/3, 1, 1, 1 -> 14/18
# ARI: index = 2, expected = 4*4/15, max = 4 -> (2 - 16/15) / (4 - 16/15) = 14/44
HAND_TRUTH = ["a", "a", "a", "b", "b", "c"]
HAND_LABELS = np.array([0, 0, 1, 1, 1, -1])


def test_external_metrics_match_hand_computed_example():
    m = external_metrics(HAND_TRUTH, HAND_LABELS)
    assert m["pairwise_precision"] == pytest.approx(0.5)
    assert m["pairwise_recall"] == pytest.approx(0.5)
    assert m["pairwise_f1"] == pytest.approx(0.5)
    assert m["bcubed_precision"] == pytest.approx(14 / 18)
    assert m["bcubed_recall"] == pytest.approx(14 / 18)
    assert m["bcubed_f1"] == pytest.approx(14 / 18)
    assert m["ari"] == pytest.approx(14 / 44)


def test_perfect_and_all_in_one_clusterings():
    perfect = external_metrics(HAND_TRUTH, np.array([0, 0, 0, 1, 1, 2]))
    assert perfect["pairwise_f1"] == perfect["bcubed_f1"] == pytest.approx(1.0)
    assert perfect["ari"] == pytest.approx(1.0) and perfect["nmi"] == pytest.approx(1.0)
    one = external_metrics(HAND_TRUTH, np.zeros(6, int))
    assert one["pairwise_recall"] == pytest.approx(1.0)
    assert one["pairwise_precision"] == pytest.approx(4 / 15)


def _brute_force(truth, labels):
    labels = noise_as_singletons(labels)
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(len(truth)), 2):
        same_c, same_t = labels[i] == labels[j], truth[i] == truth[j]
        tp += same_c and same_t
        fp += same_c and not same_t
        fn += same_t and not same_c
    bp = np.mean([np.mean(truth[labels == labels[i]] == truth[i]) for i in range(len(truth))])
    br = np.mean([np.mean(labels[truth == truth[i]] == labels[i]) for i in range(len(truth))])
    return tp / (tp + fp), tp / (tp + fn), bp, br


def test_contingency_scores_equal_brute_force_pair_counts():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 6, 120)
    labels = np.where(rng.random(120) < 0.1, -1, (truth + (rng.random(120) < 0.3) * rng.integers(0, 4, 120)) % 7)
    p, r, bp, br = _brute_force(truth, labels)
    m = external_metrics(truth, labels)
    assert m["pairwise_precision"] == pytest.approx(p)
    assert m["pairwise_recall"] == pytest.approx(r)
    assert m["bcubed_precision"] == pytest.approx(bp)
    assert m["bcubed_recall"] == pytest.approx(br)


def test_internal_metrics_match_sklearn_and_sample_when_large():
    from sklearn.metrics import davies_bouldin_score, silhouette_score

    X, y = blobs()
    m = internal_metrics(X, y)
    assert m["silhouette"] == pytest.approx(silhouette_score(X, y))
    assert m["davies_bouldin"] == pytest.approx(davies_bouldin_score(X, y))
    assert m["n_clusters"] == 3 and m["noise_fraction"] == 0
    sampled = internal_metrics(X, y, sample=40)
    assert "sample of 40" in sampled["note"]
    single = internal_metrics(X, np.zeros(len(X), int))
    assert single["silhouette"] is None and "at least 2 clusters" in single["note"]


# ---- registries ----
def test_unknown_names_raise_value_errors_listing_choices():
    X, _ = blobs()
    with pytest.raises(ValueError, match=r"kmeans.*hdbscan"):
        cluster(X, "spectral")
    with pytest.raises(ValueError, match=r"pca.*umap.*tsne"):
        reduce(X, "isomap")
    with pytest.raises(ValueError, match="no parameter eps"):
        cluster(X, "kmeans", eps=0.3)
    with pytest.raises(ValueError, match="Ward linkage works only with the euclidean"):
        check_linkage("ward", "cosine")
    check_linkage("average", "cosine")


def test_parameters_are_checked_in_core_before_any_library_runs(monkeypatch):
    """One plain sentence per bad value, from the algorithm's own Param, whoever asks (page, CLI, lessons, jobs)."""
    import sklearn.cluster

    def trap(*args, **kwargs):
        raise AssertionError("scikit-learn ran")

    monkeypatch.setattr(sklearn.cluster, "KMeans", trap)
    monkeypatch.setattr(sklearn.cluster, "AgglomerativeClustering", trap)
    X, _ = blobs()
    cases = [
        ("kmeans", {"k": 0}, "k must be between 2 and 2,000; got 0."),
        ("kmeans", {"k": 2.5}, "k must be a whole number; got 2.5."),
        ("minibatch", {"k": "many"}, "k must be a number; got 'many'."),
        ("dbscan", {"eps": -0.1}, "eps must be between 0 and 1,000; got -0.1."),
        ("hdbscan", {"min_cluster_size": 1}, "min_cluster_size must be between 2 and 10,000; got 1."),
        ("rerank", {"threshold": 2.0}, "threshold must be between 0.05 and 1; got 2."),
        ("agglomerative", {"linkage": "median"}, "linkage must be one of ward, complete, average, single; got 'median'."),
        ("agglomerative", {"metric": "cosine"}, "Ward linkage works only with the euclidean metric; choose another "
         "linkage or euclidean."),
    ]  # fmt: skip
    for name, params, message in cases:
        with pytest.raises(ParameterError) as raised:
            cluster(X, name, **params)
        assert str(raised.value) == message, (name, params)
        with pytest.raises(ParameterError):
            ClusterSpec.of(name, **params)  # a spec that could not run is never made
    with pytest.raises(ParameterError, match=r"^Unknown algorithm 'spectral'; choose one of kmeans, minibatch"):
        ClusterSpec("spectral")


def test_a_spec_is_complete_and_survives_the_job_command_line():
    spec = ClusterSpec.of("dbscan", eps=1)
    assert spec == ClusterSpec.of("dbscan", min_samples=3, eps=1.0)  # defaults filled in: one spec per clustering
    assert spec.values == {"eps": 1.0, "min_samples": 3}
    assert ClusterSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    "name", ["kmeans", "minibatch", "agglomerative", "dbscan", "hdbscan", "chinese_whispers", "rerank"]
)
def test_every_algorithm_recovers_well_separated_blobs(name):
    X, y = blobs()
    params = {"k": 3} if "k" in {p.name for p in ALGORITHMS[name].params} else {}
    if name == "chinese_whispers":
        params = {"threshold": 1.5}
    if name == "rerank":
        params = {"threshold": 0.55, "k1": 25}  # k1 about the group size (30 here)
    if name == "dbscan":
        params = {"eps": 1.0, "min_samples": 3}
    result = cluster(X, name, **params)
    assert external_metrics(y, result.labels)["ari"] > 0.9, (name, result.n_clusters)
    assert result.labels.dtype == np.int64 and len(result.labels) == len(X)


def test_hdbscan_gives_outlier_scores_and_noise():
    X, _ = blobs()
    X = np.concatenate([X, [[20, 20], [-20, 15]]]).astype(np.float32)
    result = cluster(X, "hdbscan", min_cluster_size=5)
    assert result.outlier_scores is not None and len(result.outlier_scores) == len(X)
    assert (result.labels[-2:] == -1).all()
    assert result.outlier_scores[-2:].min() > np.median(result.outlier_scores)


def test_labels_are_numbered_by_decreasing_size():
    X, _ = blobs(n_per=10)
    X = np.concatenate([X, blobs(n_per=40, centres=((10, 10),))[0]])
    labels = cluster(X, "kmeans", k=4).labels
    sizes = np.bincount(labels)
    assert list(sizes) == sorted(sizes, reverse=True) and sizes[0] == 40


def test_chinese_whispers_equals_dlib_all_pairs_version():
    import dlib

    X, _ = blobs(spread=1.0, seed=5)
    ours = chinese_whispers(X, 1.2)
    theirs = np.array(dlib.chinese_whispers_clustering([dlib.vector(r.astype(float).tolist()) for r in X], 1.2))
    assert external_metrics(theirs, ours)["ari"] == pytest.approx(1.0)


# ---- choosing eps / thresholds ----
def test_large_eps_chains_everything_and_warns_while_the_suggestion_does_not():
    from bench.synthetic_embeddings import celeba_like_identities, identity_embeddings

    ids = celeba_like_identities(600, 30, seed=2)
    X = identity_embeddings(ids, seed=2)
    trap = cluster(X, "dbscan", eps=0.9, min_samples=4)
    assert any("One cluster holds" in w for w in trap.warnings)
    auto = cluster(X, "dbscan", min_samples=3)
    assert auto.params["eps"] == pytest.approx(suggest_eps(X, 3))
    assert not any("One cluster holds" in w for w in auto.warnings)
    assert external_metrics(ids, auto.labels)["pairwise_f1"] > 0.8
    threshold = suggest_threshold(X)
    assert 0.45 < threshold < 0.8  # between this stand-in's same-person (~0.45) and different-person (~0.85) distances


def test_k_distances_and_knee():
    X = np.array([[0.0], [1.0], [3.0], [6.0]])
    assert list(k_distances(X, 1)) == [1.0, 1.0, 2.0, 3.0]
    curve = np.array([0.1, 0.11, 0.12, 0.13, 0.14, 0.9, 2.0])
    assert knee(curve) == 4


# ---- features and reductions ----
def test_attribute_weights_inverse_prevalence():
    M = np.array([[1, 0], [1, 0], [1, 0], [0, 1]])  # prevalences 0.75 and 0.25: both have minority share 0.25
    assert np.allclose(attribute_weights(M, "inverse_prevalence"), [1, 1])
    M = np.array([[1, 1], [0, 0], [1, 0], [0, 0]])  # minority shares 0.5 and 0.25 -> raw 1 and 2 -> mean-1: 2/3, 4/3
    assert np.allclose(attribute_weights(M, "inverse_prevalence"), [2 / 3, 4 / 3])
    with pytest.raises(ValueError, match="inverse_prevalence"):
        attribute_weights(M, "bogus")


def test_sample_rows_caps_and_says_so():
    rows, note = sample_rows(np.arange(100), 30, seed=1)
    assert len(rows) == 30 and np.all(np.diff(rows) > 0) and "30 of 100" in note
    rows, note = sample_rows(np.arange(10), 30)
    assert len(rows) == 10 and note is None


def test_pca_95_percent_keeps_the_components_the_eigenvalues_say():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10)) * np.array([10, 8, 6, 4, 2, 1, 0.5, 0.2, 0.1, 0.1])
    eig = np.sort(np.linalg.eigvalsh(np.cov(X.T)))[::-1]
    expected = int(np.searchsorted(np.cumsum(eig) / eig.sum(), 0.95) + 1)
    result = pca(X, 0.95)
    assert result.n_components == expected == result.coords.shape[1]
    assert f"kept {expected} components" in result.note
    assert pca(X, 3).coords.shape == (300, 3)


def test_tsne_map_is_capped():
    with pytest.raises(ValueError, match="limited to 5,000"):
        map_2d(np.zeros((6000, 3), np.float32), "tsne")


@pytest.mark.slow
@pytest.mark.parametrize("spectral_max", [10_000, 50])
def test_umap_map_keeps_separated_groups_apart_with_either_initialisation(monkeypatch, spectral_max):
    monkeypatch.setattr(reduce_module, "UMAP_SPECTRAL_MAX_POINTS", spectral_max)  # 50: PCA initialisation
    X, truth = blobs(n_per=60, centres=((0, 0, 0), (8, 0, 0), (0, 8, 0)))
    coords = map_2d(X, "umap", seed=0).coords
    centres = np.array([coords[truth == g].mean(0) for g in range(3)])
    spread = max(np.linalg.norm(coords[truth == g] - centres[g], axis=1).max() for g in range(3))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a, b in itertools.combinations(range(3), 2)]
    assert min(gaps) > spread


# ---- summaries ----
def test_cluster_summaries_against_manual_counts():
    labels = np.array([0, 0, 0, 0, 0, 1, 1, -1])
    A = np.array([[1, 0], [1, 1], [1, 0], [1, 1], [1, 0], [0, 1], [0, 0], [1, 1]])
    clusters, shares = attribute_shares(labels, A, ("Smiling", "Male"))
    assert list(clusters) == [0, 1]
    assert np.allclose(shares, [[1.0, 0.4], [0.0, 0.5]])
    table = describe_clusters(clusters, shares, ("Smiling", "Male"), {0: 5, 1: 2})
    assert table["prominent attributes"].to_list() == ["Smiling 100%", "–"]
    assert table["noisy attributes"].to_list() == ["Male", "Male"]
    sizes = cluster_sizes(labels)
    assert sizes["cluster"].to_list() == [0, 1, -1] and sizes["size"].to_list() == [5, 2, 1]
    X = np.array([[0, 0]] * 5 + [[3, 4]] * 2 + [[9, 9]], np.float32)
    _, dist = centroid_distances(X, labels)
    assert dist[0, 1] == pytest.approx(5.0)


def test_cluster_means_and_largest_centroids_match_a_loop():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 4))
    labels = rng.integers(-1, 12, 500)
    labels[labels == 7] = 3  # a gap in the numbering
    clusters, means = cluster_means(X, labels)
    assert clusters.tolist() == sorted(set(labels.tolist()) - {-1})
    for c, m in zip(clusters, means):
        assert np.allclose(m, X[labels == c].mean(0))
    top, dist = centroid_distances(X, labels, largest=3)
    assert top.tolist() == [0, 1, 2] and dist.shape == (3, 3)
    assert dist[0, 2] == pytest.approx(np.linalg.norm(X[labels == 0].mean(0) - X[labels == 2].mean(0)))


def test_mean_face_and_eigenface():
    rng = np.random.default_rng(0)
    base = rng.random(64 * 64)
    direction = np.zeros(64 * 64)
    direction[:100] = 1
    pixels = np.stack([np.clip(base + t * direction * 0.1, 0, 1) for t in np.linspace(-1, 1, 9)]).astype(np.float32)
    mean, eig, share = mean_and_eigenface(pixels)
    assert mean.shape == (64, 64) and mean.dtype == np.uint8
    assert share > 0.99  # one direction of variation
    assert eig.ravel()[:100].min() > eig.ravel()[200:].max()  # the eigenface lights up exactly the varying pixels


# ---- HDBSCAN's k-NN spanning tree (used beyond HDBSCAN_EXACT_MAX_POINTS) against the exact library ----


def _identity_like(n_groups=300, dim=10, seed=3):
    """Groups of 1-30 points of uneven spread in dim-D, plus scattered points: many components to link."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 31, n_groups)
    centres = rng.normal(0, 4, (n_groups, dim))
    spread = rng.uniform(0.05, 0.6, n_groups)
    X = np.concatenate([rng.normal(c, s, (m, dim)) for c, s, m in zip(centres, spread, sizes)])
    return np.concatenate([X, rng.uniform(-10, 10, (100, dim))])


@pytest.mark.parametrize("min_cluster_size,min_samples", [(5, None), (10, None), (5, 2)])
def test_knn_tree_hdbscan_matches_the_exact_library(min_cluster_size, min_samples):
    import hdbscan
    from sklearn.metrics import adjusted_rand_score

    X = _identity_like()
    exact = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples).fit(X)
    labels, scores = hdbscan_knn(X, min_cluster_size, min_samples)
    assert labels.max() + 1 == exact.labels_.max() + 1
    assert adjusted_rand_score(exact.labels_, labels) > 0.98
    assert np.corrcoef(scores, np.nan_to_num(exact.outlier_scores_))[0, 1] > 0.95


def test_knn_tree_is_one_spanning_tree_with_minimal_links():
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    X = _identity_like(n_groups=40, seed=5)
    core, forest = knn_forest(X, 5, NEIGHBOURS)
    tree = link_components(X, core, forest)
    assert len(tree) == len(X) - 1
    mutual = np.maximum(np.maximum(cdist(X, X), core[:, None]), core[None, :])
    np.fill_diagonal(mutual, 0)
    exact_total = minimum_spanning_tree(mutual).sum()
    assert tree[:, 2].sum() == pytest.approx(exact_total, rel=0.01)


def test_large_hdbscan_inputs_use_the_knn_tree_and_say_so(monkeypatch):
    monkeypatch.setattr(cluster_module, "HDBSCAN_EXACT_MAX_POINTS", 50)
    X, _truth = blobs()
    result = cluster(X, "hdbscan", min_cluster_size=5)
    assert result.n_clusters == 3
    assert any("nearest neighbours" in note for note in result.notes) and not result.warnings


def test_sweeps_report_each_clustering_and_the_time_left():
    """run_sweeps reports before the first clustering and after each one, in plan order; the time left is the time
    taken so far scaled by the cost still to run (none before anything was measured)."""
    from core.cluster.sweeps import SweepProgress, run_sweeps, sweep_eps, sweep_plan

    X, truth = blobs(50)
    heard: list[SweepProgress] = []
    sweeps = run_sweeps(X, 8, 3, truth, report=heard.append)
    plan = sweep_plan(8, 3, sweep_eps(X))
    assert [p.done for p in heard] == list(range(len(plan) + 1))
    assert [p.next_step for p in heard] == [s.what for s in plan] + [""]
    assert heard[0].seconds_left is None and heard[-1].fraction == 1.0
    assert sweeps.elbow["k"].to_list() == [2, 3, 4, 5, 6, 7, 8]
    assert sweeps.side_by_side.height == 5 and sweeps.eps.height == 7
    halfway = SweepProgress(3, 6, cost_done=2.0, cost_total=8.0, elapsed=5.0, next_step="x")
    assert halfway.fraction == 0.25 and halfway.seconds_left == 15.0
