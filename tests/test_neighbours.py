"""Exact nearest neighbours against brute force (numpy loops written the obvious way)."""

import numpy as np
import pytest

from core.faces.neighbours import (
    build_index,
    distances,
    exact_distances,
    hamming_distances,
    nearest,
    nearest_by_attributes,
    top_k,
)


def _brute(vectors, mask, q, metric):
    out = []
    for i, v in enumerate(vectors.astype(np.float64)):
        if not mask[i]:
            continue
        if metric == "euclidean":
            d = float(np.sqrt(((v - q) ** 2).sum()))
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
    np.testing.assert_allclose(dist, [d for d, _ in expected], rtol=1e-12, atol=1e-12)  # exact, float64
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


def test_a_stored_face_is_at_exactly_zero_from_itself_whatever_the_blas_kernel():
    """The shown distances are recomputed in float64 from the vectors: a face's own distance is 0, not 0.0005."""
    rng = np.random.default_rng(11)
    centres = rng.normal(scale=0.09, size=(60, 128))
    vectors = (np.repeat(centres, 20, axis=0) + rng.normal(scale=0.03, size=(1200, 128))).astype(np.float32)
    index = build_index(vectors)
    for row in (0, 1, 517, 1199):
        rows, dist = nearest(index, vectors[row], k=5)
        assert rows[0] == row and dist[0] == 0.0
        assert dist.tolist() == sorted(dist.tolist())
        np.testing.assert_array_equal(dist, exact_distances(vectors, rows, vectors[row]))


def test_near_ties_are_ranked_by_the_exact_distance():
    """Two candidates 1e-9 apart keep their true order although float32 cannot tell them apart."""
    base = np.full(128, 0.05, np.float64)
    q = base.copy()
    a, b = base.copy(), base.copy()
    a[0] += 0.300000001
    b[0] += 0.300000000  # b is (very slightly) nearer
    vectors = np.stack([a, b, base + 1.0]).astype(np.float32)
    rows, dist = nearest(build_index(vectors), q, k=2)
    expected = np.argsort(exact_distances(vectors, np.arange(2), q), kind="stable")
    assert rows.tolist() == expected.tolist() and dist[0] <= dist[1]
