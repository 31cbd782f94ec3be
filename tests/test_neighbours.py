"""Exact nearest neighbours against brute force (numpy loops written the obvious way)."""

import numpy as np
import pytest

from core.faces.neighbours import build_index, distances, hamming_distances, nearest, nearest_by_attributes, top_k


def _brute(vectors, mask, q, metric):
    out = []
    for i, v in enumerate(vectors):
        if not mask[i]:
            continue
        if metric == "euclidean":
            d = float(np.sqrt(((v.astype(np.float64) - q) ** 2).sum()))
        else:
            d = 1 - float(v @ q) / (np.linalg.norm(v) * np.linalg.norm(q))
        out.append((d, i))
    return sorted(out)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_nearest_matches_brute_force(metric):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(500, 128)).astype(np.float32)
    mask = rng.random(500) > 0.2
    q = rng.normal(size=128)
    rows, dist = nearest(build_index(vectors, mask), q, k=15, metric=metric, exclude=int(np.flatnonzero(mask)[0]))
    expected = [(d, i) for d, i in _brute(vectors, mask, q, metric) if i != np.flatnonzero(mask)[0]][:15]
    assert rows.tolist() == [i for _, i in expected]
    np.testing.assert_allclose(dist, [d for d, _ in expected], rtol=1e-4, atol=1e-4)
    assert all(mask[rows])


def test_top_k_masks_and_short_results():
    d = np.array([0.5, np.inf, 0.1, 0.3], np.float32)
    rows, dist = top_k(d, 10)
    assert rows.tolist() == [2, 3, 0] and dist.tolist() == pytest.approx([0.1, 0.3, 0.5])
    assert top_k(d, 0)[0].size == 0


def test_distances_are_inf_where_masked():
    v = np.eye(3, dtype=np.float32)
    d = distances(build_index(v, np.array([True, False, True])), np.array([1, 0, 0]))
    assert d[0] == pytest.approx(0) and np.isinf(d[1]) and d[2] == pytest.approx(np.sqrt(2), rel=1e-5)


def test_hamming_matches_brute_force_with_ties_by_row():
    rng = np.random.default_rng(5)
    attrs = (rng.random((1000, 40)) < 0.3).astype(np.uint8)
    q = attrs[7]
    brute = np.array([(row != q).sum() for row in attrs])
    assert hamming_distances(attrs, q).tolist() == brute.tolist()
    rows, dist = nearest_by_attributes(attrs, q, k=25, exclude=7)
    order = sorted((int(brute[i]), i) for i in range(1000) if i != 7)[:25]
    assert rows.tolist() == [i for _, i in order]
    assert dist.tolist() == [d for d, _ in order]
