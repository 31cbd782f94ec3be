"""How sure a rate is: the 95 % Wilson score interval, a rate said with its count, and strengths that do not
overstate small counts.

Wilson's interval (Wilson 1927; recommended over the normal approximation by Brown, Cai & DasGupta 2001)
stays inside 0-1 and behaves at k = 0 and k = n, where the textbook p ± 1.96·sqrt(p(1-p)/n) collapses to a
zero-width interval. A "conservative" strength is the end of the interval nearest to "no relation": a
P(A|B) of 1.0 from 3 images is shown as what 3 images can support, not as certainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import format as fmt

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
INTERVAL_BELOW = 1_000  # rates over fewer images than this are shown with their interval
FEW_IMAGES = 30  # a condition with fewer images than this is greyed out on the heatmaps
MIN_MODEL_IMAGES = 50  # a model trained or tested on fewer images is flagged
MIN_MODEL_POSITIVES = 10  # ... or on fewer positive examples


def wilson_interval(k, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) float64 arrays: the Wilson score interval of k successes in n trials; NaN where n == 0.

    k and n broadcast (ints or arrays, 0 <= k <= n).
    """
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        z2 = z * z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


@dataclass(frozen=True)
class Rate:
    """k of n, the share, and its 95 % Wilson interval."""

    k: int
    n: int

    @property
    def share(self) -> float:
        return self.k / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        low, high = wilson_interval(self.k, self.n)
        return float(low), float(high)

    def describe(self, unit: str = "images") -> str:
        """'355 of 1,200 images (29.6%)'; under INTERVAL_BELOW images with its interval: '(29.6%; 95% interval
        27.1–32.2%)'."""
        if not self.n or self.n >= INTERVAL_BELOW:
            return fmt.k_of_n(self.k, self.n, unit)
        return fmt.k_of_n(self.k, self.n, unit, note=f"95% interval {fmt.percent_range(*self.interval)}")


def toward(value: np.ndarray, low: np.ndarray, high: np.ndarray, neutral) -> np.ndarray:
    """The point of [low, high] nearest to `neutral`: value itself is never used beyond what the interval allows."""
    return np.clip(np.broadcast_to(np.asarray(neutral, np.float64), np.shape(value)), low, high)


def conservative_conditional(both: np.ndarray, n_b: np.ndarray, prevalence_a: np.ndarray) -> np.ndarray:
    """(A, A) P(A|B) moved to the end of its Wilson interval nearest P(A) (no relation); NaN where n(B) = 0.

    both[a, b] = images with A and B, n_b[b] = images with B, prevalence_a[a] = P(A).
    """
    low, high = wilson_interval(both, np.broadcast_to(n_b[None, :], both.shape))
    return toward(both, low, high, np.broadcast_to(prevalence_a[:, None], both.shape))


def conservative_lift(both: np.ndarray, n_b: np.ndarray, prevalence_a: np.ndarray) -> np.ndarray:
    """(A, A) lift = P(A|B) / P(A) at the end of P(A|B)'s interval nearest 1 (no relation)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return conservative_conditional(both, n_b, prevalence_a) / prevalence_a[:, None]


def conservative_phi(phi: np.ndarray, n: int, z: float = Z95) -> np.ndarray:
    """phi moved to the end of its 95 % interval (Fisher's z, n images) nearest 0."""
    phi = np.asarray(phi, np.float64)
    if n <= 3:
        return np.where(np.isnan(phi), np.nan, 0.0)
    centre = np.arctanh(np.clip(phi, -0.999999, 0.999999))
    half = z / np.sqrt(n - 3)
    return toward(phi, np.tanh(centre - half), np.tanh(centre + half), 0.0)
