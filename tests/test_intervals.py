"""core.stats.intervals against the score test solved numerically (scipy's brentq) and published values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from core.stats.intervals import (
    Rate,
    conservative_conditional,
    conservative_lift,
    conservative_phi,
    wilson_interval,
)


def score_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The p where the score statistic (k - n p) / sqrt(n p (1 - p)) equals ±z, found by root finding."""
    z = norm.ppf(1 - (1 - level) / 2)

    def excess(p: float) -> float:
        return abs(k - n * p) / np.sqrt(n * p * (1 - p)) - z

    p_hat = k / n
    eps = 1e-12
    low = 0.0 if k == 0 else brentq(excess, eps, min(p_hat, 1 - eps))
    high = 1.0 if k == n else brentq(excess, max(p_hat, eps), 1 - eps)
    return low, high


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (0, 10), (3, 8), (5, 5), (355, 1200), (1, 1000), (999, 1000)])
def test_wilson_matches_the_score_test(k, n):
    low, high = wilson_interval(k, n)
    want = score_interval(k, n)
    assert float(low) == pytest.approx(want[0], abs=1e-9)
    assert float(high) == pytest.approx(want[1], abs=1e-9)


def test_wilson_published_values_and_shapes():
    # Newcombe (1998), Table I: 81/263 -> 0.2553-0.3662 (method 3, Wilson score without correction).
    low, high = wilson_interval(81, 263)
    assert (round(float(low), 4), round(float(high), 4)) == (0.2553, 0.3662)
    lows, highs = wilson_interval(np.array([0, 5, 10]), np.array([10, 10, 0]))
    assert np.isnan(lows[2]) and np.isnan(highs[2])
    assert lows[0] == 0 and 0 < highs[0] < 0.3 and lows[1] < 0.5 < highs[1]


def test_rate_says_its_count_and_interval_only_for_small_n():
    assert Rate(3, 8).describe() == "3 of 8 images (37.5%; 95% interval 13.7–69.4%)"
    assert Rate(3550, 12000).describe() == "3,550 of 12,000 images (29.6%)"
    assert Rate(0, 0).describe() == "0 of 0 images (undefined)"


def test_conservative_strengths_shrink_small_counts_toward_no_relation():
    # Two conditions with the same P(A|B) = 1: from 3 images and from 3,000.
    both = np.array([[3.0, 3000.0]])
    n_b = np.array([3.0, 3000.0])
    prevalence = np.array([0.5])
    cond = conservative_conditional(both, n_b, prevalence)
    assert float(wilson_interval(3, 3)[0]) < 0.5  # 3 of 3 cannot rule out P(A|B) = P(A) ...
    assert cond[0, 0] == 0.5  # ... so the strength shown is "no relation"
    assert cond[0, 1] == pytest.approx(float(wilson_interval(3000, 3000)[0]))  # the interval's end nearest P(A)
    assert cond[0, 1] > 0.99
    # A pair never seen together among many images keeps a strong "never together" lift.
    lift = conservative_lift(np.array([[0.0]]), np.array([5000.0]), np.array([0.3]))
    assert lift[0, 0] < 0.01
    # An interval that contains "no relation" shows no relation.
    assert conservative_lift(np.array([[2.0]]), np.array([5.0]), np.array([0.4]))[0, 0] == pytest.approx(1.0)
    assert conservative_phi(np.array([0.5, -0.5, 0.01]), 12).tolist()[2] == 0.0
    strong = conservative_phi(np.array([0.5]), 10_000)[0]
    assert 0.48 < strong < 0.5
