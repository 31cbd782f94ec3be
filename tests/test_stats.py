"""core.stats.relations against direct per-pair computations on random and real CelebA annotations; the stats CLI."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from core.__main__ import main
from core.data.ingest import open_dataset
from core.stats import relations as stats
from tests.support import REAL_ANNOTATIONS, needs

ATTRS = tuple(f"a{k}" for k in range(8))


@pytest.fixture
def random_matrix() -> np.ndarray:
    rng = np.random.default_rng(7)
    X = (rng.random((500, len(ATTRS))) < rng.uniform(0.05, 0.8, len(ATTRS))).astype(np.uint8)
    X[:, 2] = X[:, 1] | (rng.random(500) < 0.1)  # a correlated pair
    X[:, 6] = 0  # never present: its conditionals are undefined
    X[:, 7] = 1  # always present: its P(A|not B) and phi are undefined
    return X


def _direct(X: np.ndarray, a: int, b: int) -> dict:
    """One pair computed the slow, obvious way with pandas filtering."""
    df = pd.DataFrame(X, columns=ATTRS)
    A, B = ATTRS[a], ATTRS[b]
    with_b, without_b = df[df[B] == 1], df[df[B] == 0]
    p_a = df[A].mean()
    p_ab = with_b[A].mean() if len(with_b) else np.nan
    phi = df[A].astype(float).corr(df[B].astype(float)) if df[A].std() > 0 and df[B].std() > 0 else np.nan
    return {
        "P(A|B)": p_ab,
        "P(A|not B)": without_b[A].mean() if len(without_b) else np.nan,
        "lift": p_ab / p_a if p_a > 0 and len(with_b) else np.nan,
        "phi": phi,
    }


def test_matrices_match_per_pair_filtering(random_matrix):
    rel = stats.relation_stats(random_matrix, ATTRS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division warnings anywhere
        cond, cond_not, lift, phi = rel.conditional, rel.conditional_not, rel.lift, rel.phi
    np.testing.assert_allclose(rel.prevalence, random_matrix.mean(axis=0))
    for a in range(len(ATTRS)):
        for b in range(len(ATTRS)):
            want = _direct(random_matrix, a, b)
            np.testing.assert_allclose(cond[a, b], want["P(A|B)"], equal_nan=True)
            np.testing.assert_allclose(cond_not[a, b], want["P(A|not B)"], equal_nan=True)
            np.testing.assert_allclose(lift[a, b], want["lift"], equal_nan=True)
            np.testing.assert_allclose(phi[a, b], want["phi"], equal_nan=True, atol=1e-12)
    assert np.isnan(cond[0, 6]) and np.isnan(phi[7, 0]) and np.isnan(cond_not[0, 7])
    assert phi[1, 2] > 0.5


def test_pair_summary_counts_and_measures(random_matrix):
    rel = stats.relation_stats(random_matrix, ATTRS)
    pair = stats.pair_summary(rel, "a1", "a3")
    a, b = random_matrix[:, 1], random_matrix[:, 3]
    assert (pair["n11"], pair["n10"], pair["n01"], pair["n00"]) == (
        int(((a == 1) & (b == 1)).sum()),
        int(((a == 1) & (b == 0)).sum()),
        int(((a == 0) & (b == 1)).sum()),
        int(((a == 0) & (b == 0)).sum()),
    )
    assert pair["P(B|A)"] == pytest.approx(b[a == 1].mean())
    assert pair["P(A|B)"] == pytest.approx(a[b == 1].mean())
    assert pair["phi"] == pytest.approx(np.corrcoef(a, b)[0, 1])
    undefined = stats.pair_summary(rel, "a0", "a6")
    assert np.isnan(undefined["P(A|B)"]) and undefined["n01"] == 0


def test_empty_subset_gives_nan_not_errors():
    X = np.zeros((0, len(ATTRS)), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rel = stats.relation_stats(X, ATTRS)
        assert rel.n == 0
        for name in stats.MEASURES:
            assert np.isnan(rel.measure(name)).all()
        assert np.isnan(rel.prevalence).all()
        assert np.isnan(stats.pair_summary(rel, "a0", "a1")["phi"])
    with pytest.raises(ValueError, match="Unknown measure"):
        rel.measure("nope")


@pytest.mark.parametrize("rows", [0, 1, 63, 64, 65, 500])
def test_bit_packed_counts_equal_the_integer_product(random_matrix, rows):
    X = random_matrix[:rows]
    want = X.astype(np.int64).T @ X.astype(np.int64)
    np.testing.assert_array_equal(stats.cooccurrence(X), want)


def test_blocked_float32_product_is_exact(monkeypatch, random_matrix):
    monkeypatch.setattr(stats, "EXACT_F32_ROWS", 37)  # force many blocks
    want = random_matrix.astype(np.int64).T @ random_matrix.astype(np.int64)
    np.testing.assert_array_equal(stats.cooccurrence_blas(random_matrix), want)


def test_cluster_order_puts_related_attributes_together():
    rng = np.random.default_rng(3)
    base = rng.random((2000, 2)) < 0.4
    noise = lambda: rng.random(2000) < 0.03  # noqa: E731
    cols = [
        base[:, 0] ^ noise(),
        base[:, 1] ^ noise(),
        base[:, 0] ^ noise(),
        base[:, 1] ^ noise(),
        base[:, 0] ^ noise(),
        base[:, 1] ^ noise(),
    ]
    X = np.column_stack(cols).astype(np.uint8)
    names = ("x0", "y0", "x1", "y1", "x2", "y2")
    order = stats.cluster_order(stats.relation_stats(X, names).phi, names)
    assert sorted(order) == sorted(names)
    firsts = {order[0][0]}
    assert {n[0] for n in order[:3]} == firsts and {n[0] for n in order[3:]} != firsts


def test_prevalence_frame_split_and_imbalance(random_matrix):
    groups = np.array(["g1", "g2"] * 250, dtype=object)
    frame = stats.prevalence_frame(random_matrix, ATTRS, groups, "split")
    g2 = frame[(frame["split"] == "g2") & (frame["attribute"] == "a1")].iloc[0]
    assert g2["share"] == pytest.approx(random_matrix[1::2, 1].mean()) and g2["rows"] == 250
    shares = random_matrix.mean(axis=0)
    assert stats.imbalance_counts(shares) == (int((shares < 0.1).sum()), int((shares > 0.7).sum()))


def test_identity_profile_kinds():
    X = np.array([[1, 0, 1], [1, 0, 0], [1, 0, 1]], dtype=np.uint8)
    profile = stats.identity_profile(X, ("s", "t", "u"))
    assert profile["kind"].tolist() == ["always", "never", "varies"]
    assert profile["share"].tolist() == pytest.approx([1, 0, 2 / 3])


def test_split_uses_partition_else_groups_identities():
    partition = np.array(["train", "train", "test", "val", None], dtype=object)
    split = stats.model_split(partition, np.array([None] * 5, dtype=object))
    assert split.train.tolist() == [0, 1] and split.test.tolist() == [2] and "partition" in split.note
    identity = np.array([str(k // 5) for k in range(500)], dtype=object)
    fallback = stats.model_split(np.array([None] * 500, dtype=object), identity, seed=4)
    assert "identity" in fallback.note
    assert not set(identity[fallback.train]) & set(identity[fallback.test])
    assert len(fallback.train) + len(fallback.test) == 500 and 0 < len(fallback.test) < 250
    again = stats.model_split(np.array([None] * 500, dtype=object), identity, seed=4)
    np.testing.assert_array_equal(again.test, fallback.test)


def test_predict_attribute_learns_a_determined_target():
    rng = np.random.default_rng(0)
    X = (rng.random((1200, 4)) < 0.3).astype(np.uint8)
    X[:, 3] = X[:, 0] | X[:, 1]  # target = a OR b
    names = ("a", "b", "c", "t")
    split = stats.Split(np.arange(800), np.arange(0), np.arange(800, 1200), "test split")
    result = stats.predict_attribute(X, names, "t", split)
    assert result["accuracy"] == 1.0 and result["f1"] == 1.0
    majority = int(X[:800, 3].mean() >= 0.5)
    assert result["majority_accuracy"] == pytest.approx(np.mean(X[800:, 3] == majority))
    assert set(result["coefficients"]["attribute"].head(2)) == {"a", "b"}
    capped = stats.predict_attribute(X, names, "t", split, train_cap=100)
    assert capped["sampled"] and capped["train_rows"] == 100
    X[:, 2] = 0
    constant = stats.predict_attribute(X, names, "c", split)
    assert "never present" in constant["note"] and constant["accuracy"] == 1.0
    table = stats.predict_all_attributes(X, names, split)
    assert table["attribute"].tolist() == list(names)
    assert table.loc[table["attribute"] == "t", "accuracy"].item() == 1.0


# ------------------------------------------------------------------ real CelebA annotations


@pytest.fixture(scope="module")
def real_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("real") / "celeba_real"
    (root / "Anno").mkdir(parents=True)
    # A copy, not a link: links that lead out of a dataset folder are not read (tests/test_hostile.py).
    shutil.copyfile(REAL_ANNOTATIONS / "list_attr_celeba.txt", root / "Anno" / "list_attr_celeba.txt")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEATLAS_CACHE", str(root.parent / "cache"))
        yield open_dataset(root)


@pytest.fixture(scope="module")
def real_frame() -> pd.DataFrame:
    frame = pd.read_csv(REAL_ANNOTATIONS / "list_attr_celeba.txt", sep=r"\s+", skiprows=1)
    return (frame == 1).astype(np.uint8)


@needs(REAL_ANNOTATIONS / "list_attr_celeba.txt")
def test_real_celeba_conditionals_match_pandas(real_dataset, real_frame):
    rel = stats.relation_stats(real_dataset.attribute_matrix(), real_dataset.attributes)
    assert rel.n == len(real_frame) > 10_000
    for a, b in [
        ("Male", "Goatee"),
        ("Wearing_Lipstick", "Heavy_Makeup"),
        ("Smiling", "Mouth_Slightly_Open"),
        ("Bald", "Male"),
        ("Eyeglasses", "Young"),
    ]:
        want = real_frame[real_frame[b] == 1][a].mean()
        assert rel.conditional[rel.index(a), rel.index(b)] == pytest.approx(want, abs=1e-12)
        assert rel.phi[rel.index(a), rel.index(b)] == pytest.approx(real_frame[a].corr(real_frame[b]), abs=1e-9)
    assert rel.conditional[rel.index("Male"), rel.index("Goatee")] > 0.99
    assert rel.conditional[rel.index("Wearing_Lipstick"), rel.index("Heavy_Makeup")] > 0.9
    np.testing.assert_allclose(rel.prevalence, real_frame[list(real_dataset.attributes)].mean().to_numpy())


# ------------------------------------------------------------------ CLI


def test_cli_stats_json(demo_home, demo_dataset, capsys):
    assert main(["stats", "demo", "--json", "--where", "Male=1"]) == 0
    out = json.loads(capsys.readouterr().out)
    df = demo_dataset.table.to_pandas()
    male = df[df["Male"] == 1]
    assert out["rows"] == len(male)
    assert out["prevalence"]["Smiling"] == pytest.approx(male["Smiling"].mean(), abs=1e-6)
    want = male[male["Eyeglasses"] == 1]["Young"].mean()
    assert out["conditional"]["Young"]["Eyeglasses"] == pytest.approx(want, abs=1e-6)
    assert main(["stats", "demo", "--where", "Nope=1"]) == 2
    assert "expected ATTRIBUTE=0 or ATTRIBUTE=1" in capsys.readouterr().err
