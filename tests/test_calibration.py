"""The same-person calibration against values computed another way (scikit-learn, brute force)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from core.data.dataset import Dataset
from core.distances import pair_distances
from core.faces.calibration import (
    DLIB_THRESHOLD,
    SamePersonBasis,
    best_threshold,
    calibrate,
    roc_auc,
    same_person,
    same_person_rule,
    sample_pairs,
    search_counts,
)


def people(n_people: int = 40, per_person: int = 8, spread: float = 0.2, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, 16))
    vectors = np.repeat(centres, per_person, axis=0) + rng.normal(scale=spread, size=(n_people * per_person, 16))
    identity = np.repeat([f"p{k}" for k in range(n_people)], per_person).astype(object)
    return vectors.astype(np.float32), identity


def test_pairs_are_of_the_kind_they_claim():
    _, identity = people()
    identity[::7] = None  # unlabelled rows are never paired
    same, different = sample_pairs(identity, max_pairs=500)
    assert len(same) and len(different) == 500
    assert all(identity[a] == identity[b] and a != b for a, b in same)
    assert all(identity[a] != identity[b] for a, b in different)
    assert not {int(i) for i in np.r_[same.ravel(), different.ravel()]} & set(range(0, len(identity), 7))


def test_auc_and_threshold_match_brute_force():
    rng = np.random.default_rng(1)
    same, different = rng.normal(0.4, 0.1, 300), rng.normal(0.8, 0.15, 500)
    same[:5] = different[:5]  # ties count half
    expected = roc_auc_score(np.r_[np.ones(300), np.zeros(500)], -np.r_[same, different])
    assert roc_auc(same, different) == pytest.approx(expected, abs=1e-12)
    threshold, accuracy = best_threshold(same, different)
    grid = np.unique(np.r_[same, different])
    brute = max(((same <= t).mean() + (different > t).mean()) / 2 for t in grid)
    assert accuracy == pytest.approx(brute, abs=1e-12)
    assert ((same < threshold).mean() + (different > threshold).mean()) / 2 == pytest.approx(brute, abs=1e-12)


def test_calibration_of_separable_people_and_of_noise():
    vectors, identity = people()
    cal = calibrate(vectors, identity)
    assert cal.auc > 0.99 and cal.accuracy > 0.97 and cal.trustworthy
    d = pair_distances(vectors, np.array([0, 0]), np.array([1, 8]))
    assert d[0] < cal.threshold < d[1]  # same person below, another person above
    shuffled = np.random.default_rng(0).permutation(identity)
    noise = calibrate(vectors, shuffled)
    assert 0.4 < noise.auc < 0.6 and not noise.trustworthy
    assert calibrate(vectors, np.array([None] * len(identity), dtype=object)) is None


def dataset(identity, is_demo: bool = False) -> Dataset:
    table = pl.DataFrame({"image_id": [f"{i}.jpg" for i in range(len(identity))], "identity": identity})
    return Dataset("d", "d", Path("."), "folder", table, (), None, 0, Path("."), is_demo=is_demo)


def test_the_same_person_decision_is_strictly_below_the_threshold_and_none_without_one():
    distances = np.array([0.0, 0.3999, 0.4, 0.7])
    assert same_person(distances, 0.4).tolist() == [True, True, False, False]
    assert same_person([0.1, 0.2], None).tolist() == [False, False]  # no threshold: no claim
    assert same_person([], 0.6).shape == (0,)


def test_the_rule_takes_the_calibrated_threshold_dlibs_default_or_none():
    vectors, identity = people()
    labelled = dataset(list(identity))
    calls = []

    def measure():
        calls.append(1)
        return calibrate(vectors, identity)

    cal = calibrate(vectors, identity)
    rule = same_person_rule(labelled, "dlib", "euclidean", False, measure)
    assert (rule.threshold, rule.basis, rule.calibration) == (
        cal.same_person.threshold,
        SamePersonBasis.CALIBRATED,
        cal,
    )
    noise = calibrate(vectors, np.random.default_rng(0).permutation(identity))
    assert noise.same_person is None  # no distance finds shuffled "people" precisely
    poor = same_person_rule(labelled, "dlib", "euclidean", False, lambda: noise)
    assert (poor.threshold, poor.basis) == (None, SamePersonBasis.POOR_SEPARATION)
    too_few = same_person_rule(labelled, "dlib", "euclidean", False, lambda: None)
    assert (too_few.threshold, too_few.basis) == (None, SamePersonBasis.TOO_FEW_PAIRS)
    unlabelled = dataset([None] * 4)
    dlib = same_person_rule(unlabelled, "dlib", "euclidean", False, measure)
    assert (dlib.threshold, dlib.basis) == (DLIB_THRESHOLD, SamePersonBasis.DLIB_DEFAULT) and DLIB_THRESHOLD == 0.6
    other = same_person_rule(unlabelled, "buffalo", "euclidean", False, measure)
    assert (other.threshold, other.basis) == (None, SamePersonBasis.NO_KNOWN_THRESHOLD)
    cosine = same_person_rule(labelled, "dlib", "cosine", True, measure)
    assert (cosine.threshold, cosine.basis) == (None, SamePersonBasis.NOT_EUCLIDEAN)
    demo = dataset(list(identity), is_demo=True)
    photo = same_person_rule(demo, "dlib", "euclidean", False, measure)
    assert (photo.threshold, photo.basis) == (None, SamePersonBasis.DRAWN_FACES)
    own = same_person_rule(demo, "dlib", "euclidean", True, measure)  # a demo image: its identities decide
    assert own.basis == SamePersonBasis.CALIBRATED
    assert len(calls) == 2  # calibrated only where identities decide


def test_the_same_person_cut_is_the_most_finding_cut_of_the_target_precision_by_brute_force():
    """Overlapping people: every face as a query against every other, each candidate cut on the 0.001 grid tried."""
    vectors, identity = people(n_people=30, per_person=6, spread=0.45, seed=3)
    cut = calibrate(vectors, identity).same_person
    assert cut is not None and cut.queries == len(vectors)
    d = np.sqrt(((vectors[:, None].astype(np.float64) - vectors[None]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    same = identity[:, None] == identity[None, :]
    best = None  # (same pairs found, -cut) of the most-finding precise cut, the smallest of equals
    for t in np.round(np.arange(0.001, d[np.isfinite(d)].max() + 0.002, 0.001), 3):
        below = d < t
        found = int((below & same).sum())
        if found >= 50 and found / below.sum() >= 0.95:
            best = max(best or (0, 0.0), (found, -t))
    assert best is not None and cut.threshold == pytest.approx(-best[1], abs=1e-9)
    below = d < cut.threshold
    assert cut.precision == pytest.approx((below & same).sum() / below.sum(), abs=1e-12) and cut.precision >= 0.95
    assert cut.recall == pytest.approx((below & same).sum() / (same.sum() - len(vectors)), abs=1e-12)
    assert 0.2 < cut.recall < 1  # a real trade-off: some photos of a person lie farther than the cut


def test_the_same_person_cut_queries_a_seeded_sample_of_a_large_dataset():
    vectors, identity = people(n_people=40, per_person=8)
    groups = np.unique(identity, return_inverse=True)[1]
    counts = search_counts(vectors, groups, max_queries=100, seed=1)
    assert counts.queries == 100 and counts.all_below[-1] == 100 * (len(vectors) - 1)
    assert counts.same_total == 100 * 7  # each query's 7 other photos
    assert search_counts(vectors, groups, max_queries=100, seed=1).same_below.tolist() == counts.same_below.tolist()
