"""Developer tool: fit the demo's pairwise label model to real CelebA rows and print its constants.

Run by hand (`python -m core.demo.fit_label_model PATH/list_attr_celeba.txt > core/demo/label_model.py`);
the app never runs it. It fits a pairwise binary model (biases + symmetric couplings) by
pseudo-likelihood (one logistic regression per attribute), then refines it by moment matching
with Gibbs samples so that its marginals and pairwise co-occurrences match the file's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from core.data.celeba import CELEBA_ATTRIBUTES
from core.demo.labels import gibbs_sweeps

# Lazy imports: scikit-learn are imported inside the functions that use them, so pages and commands that never call
# them do not pay their import time and memory on a shared server.


def read_rows(path: Path) -> np.ndarray:
    """(N, 40) uint8 0/1 attribute rows of a list_attr_celeba.txt."""
    lines = path.read_text().splitlines()[2:]
    rows = [[1 if v == "1" else 0 for v in line.split()[1:]] for line in lines if line.strip()]
    return np.asarray(rows, np.uint8)


def fit(x: np.ndarray, rounds: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Biases (A,) and symmetric couplings (A, A) of a pairwise model matching x's moments."""
    from sklearn.linear_model import LogisticRegression

    n, a = x.shape
    coupling = np.zeros((a, a))
    bias = np.zeros(a)
    for j in range(a):
        others = np.delete(np.arange(a), j)
        model = LogisticRegression(C=1.0, max_iter=2000).fit(x[:, others], x[:, j])
        coupling[j, others] = model.coef_[0]
        bias[j] = model.intercept_[0]
    coupling = (coupling + coupling.T) / 2
    target_mean = x.mean(0)
    target_pair = (x.T.astype(float) @ x) / n
    rng = np.random.default_rng(seed)
    state = x[rng.integers(0, n, 20000)].copy()
    free = np.ones_like(state, bool)
    for r in range(rounds):
        state = gibbs_sweeps(state, free, bias, coupling, rng, sweeps=2)
        mean = state.mean(0)
        pair = (state.T.astype(float) @ state) / len(state)
        lr = 0.5 if r < rounds // 2 else 0.2
        bias += lr * (target_mean - mean) * 4
        step = lr * (target_pair - pair) * 4
        np.fill_diagonal(step, 0)
        coupling += step
        if r % 50 == 0 or r == rounds - 1:
            print(
                f"round {r}: max marginal gap {np.abs(target_mean - mean).max():.4f}, "
                f"max pair gap {np.abs(target_pair - pair).max():.4f}",
                file=sys.stderr,
            )
    return bias, coupling


def constants_module(x: np.ndarray, bias: np.ndarray, coupling: np.ndarray) -> str:
    """Python source holding the reference prevalences and the fitted model."""
    prev = x.mean(0)
    lines = [
        '"""Constants of the demo label model, fitted by core/demo/fit_label_model.py.',
        "",
        "Derived from the first 20,000 rows of the real CelebA list_attr_celeba.txt (the figures in",
        "../shared/reference/celeba_attribute_prevalence.csv); generated, do not edit by hand.",
        '"""',
        "",
        "# Share of images with each attribute in real CelebA (first 20,000 rows).",
        "CELEBA_PREVALENCE: dict[str, float] = {",
    ]
    lines += [f'    "{name}": {p:.4f},' for name, p in zip(CELEBA_ATTRIBUTES, prev)]
    lines += [
        "}",
        "",
        "# Pairwise binary model: P(x_j = 1 | rest) = sigmoid(BIAS[j] + sum_k COUPLING[j][k] x_k).",
        "BIAS: tuple[float, ...] = (",
    ]
    lines += [f"    {b:.4f}," for b in bias]
    lines += [")", "", "COUPLING: tuple[tuple[float, ...], ...] = ("]
    for row in coupling:
        lines.append("    (" + ", ".join(f"{v:.4f}" for v in row) + "),")
    lines += [")  # fmt: skip", ""]
    pair = (x.T.astype(float) @ x) / len(x)
    lines += [
        "",
        "# Share of images having both attributes, (40, 40), same rows (diagonal = prevalence).",
        "CELEBA_COOCCURRENCE: tuple[tuple[float, ...], ...] = (",
    ]
    lines += ["    (" + ", ".join(f"{v:.4f}" for v in row) + ")," for row in pair]
    lines += [")  # fmt: skip", ""]
    return "\n".join(lines)


def main() -> None:
    x = read_rows(Path(sys.argv[1]))
    bias, coupling = fit(x)
    print(constants_module(x, bias, coupling))


if __name__ == "__main__":
    main()
