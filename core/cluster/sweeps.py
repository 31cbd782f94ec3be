"""Parameter sweeps: inertia and silhouette against k, algorithms side by side, DBSCAN over eps.

`run_sweeps` runs all three one clustering at a time and reports after each (what runs next, the share done and
the time left), so a page can show progress; `side_by_side_table` and `eps_table` are their tables as people read
them (named columns, every number through core/format).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from core import format as fmt
from core.cluster.algorithms import ALGORITHMS, cluster
from core.cluster.metrics import external_metrics, internal_metrics, suggest_eps

log = logging.getLogger(__name__)

SIDE_BY_SIDE = ("kmeans", "minibatch", "agglomerative", "hdbscan", "chinese_whispers")
EPS_MIN_SAMPLES = 3  # DBSCAN's min_samples in the eps sweep
EPS_STEPS = 7  # eps values tried, from 0.6x to 1.4x the k-distance curve's suggestion
MOST_KS = 10  # k values tried between 2 and the largest k
# Expected cost of one clustering relative to a k-means at small k, for the time left before the sweep has
# measured itself (then the measured time per unit of cost takes over): graph and hierarchy builders cost more.
COST = {"kmeans": 1.0, "minibatch": 1.0, "agglomerative": 4.0, "hdbscan": 4.0, "chinese_whispers": 4.0, "dbscan": 1.5}


def k_sweep(X: np.ndarray, ks: Sequence[int], seed: int = 0) -> pl.DataFrame:
    """k, inertia, silhouette (sampled when large) for k-means at each k (elbow and silhouette plots)."""
    rows = []
    for k in ks:
        if k >= len(X):
            continue
        result = cluster(X, "kmeans", seed=seed, k=int(k))
        rows.append(
            {
                "k": int(k),
                "inertia": result.inertia,
                "silhouette": internal_metrics(X, result.labels, seed=seed)["silhouette"],
            }
        )
    return pl.DataFrame(rows, schema={"k": pl.Int64, "inertia": pl.Float64, "silhouette": pl.Float64})


def _row(name: str, result, X, truth, seed: int, seconds: float) -> dict:
    inner = internal_metrics(X, result.labels, seed=seed)
    row = {
        "algorithm": name,
        "n_clusters": inner["n_clusters"],
        "noise": inner["noise_fraction"],
        "silhouette": inner["silhouette"],
        "seconds": seconds,
    }
    if truth is not None:
        ext = external_metrics(truth, result.labels)
        row |= {"ari": ext["ari"], "nmi": ext["nmi"], "pairwise_f1": ext["pairwise_f1"], "bcubed_f1": ext["bcubed_f1"]}
    return row


def algorithms_side_by_side(
    X: np.ndarray, k: int, truth: Sequence | None = None, seed: int = 0, names: Sequence[str] = SIDE_BY_SIDE
) -> pl.DataFrame:
    """One row per algorithm on the same points (k where an algorithm takes k); failures are reported, not raised."""
    rows = []
    for name in names:
        params = {"k": k} if name in ("kmeans", "minibatch", "agglomerative") else {}
        if name == "agglomerative":
            params |= {"linkage": "average", "metric": "cosine"}
        t0 = time.perf_counter()
        try:
            result = cluster(X, name, seed=seed, **params)
        except ValueError as exc:
            log.info("%s skipped: %s", name, exc)
            continue
        rows.append(_row(name, result, X, truth, seed, time.perf_counter() - t0))
    return pl.DataFrame(rows)


def eps_sweep(
    X: np.ndarray, eps_values: Sequence[float], min_samples: int, truth: Sequence | None = None, seed: int = 0
) -> pl.DataFrame:
    """DBSCAN at each eps: clusters, noise share, largest-cluster share (and external metrics with identities)."""
    rows = []
    for eps in eps_values:
        t0 = time.perf_counter()
        result = cluster(X, "dbscan", seed=seed, eps=float(eps), min_samples=int(min_samples))
        row = _row(f"eps {eps:.3g}", result, X, truth, seed, time.perf_counter() - t0)
        kept = result.labels[result.labels >= 0]
        row["eps"] = float(eps)
        row["largest_share"] = float(np.bincount(kept).max() / len(result.labels)) if len(kept) else 0.0
        rows.append(row)
    return pl.DataFrame(rows)


def sweep_ks(k_max: int) -> list[int]:
    """The k values of the elbow sweep: at most MOST_KS, evenly from 2 to k_max."""
    return sorted(set(np.linspace(2, k_max, min(MOST_KS, max(k_max - 1, 1))).astype(int).tolist()))


def sweep_eps(X: np.ndarray) -> np.ndarray:
    """The eps values of the DBSCAN sweep: around the k-distance curve's suggestion."""
    centre = suggest_eps(X, EPS_MIN_SAMPLES)
    return np.round(np.linspace(centre * 0.6, centre * 1.4, EPS_STEPS), 4)


@dataclass(frozen=True)
class SweepStep:
    """One clustering of a sweep: what it is (as the progress line names it) and its expected relative cost."""

    what: str
    cost: float


@dataclass(frozen=True)
class SweepProgress:
    """How far a sweep is: steps done of all, and the time left from the time taken per unit of cost so far."""

    done: int
    total: int
    cost_done: float
    cost_total: float
    elapsed: float  # seconds since the sweep started
    next_step: str  # what runs now ('' when finished)

    @property
    def fraction(self) -> float:
        return self.cost_done / self.cost_total if self.cost_total else 1.0

    @property
    def seconds_left(self) -> float | None:
        """None before the first clustering has finished (nothing measured yet)."""
        if not self.cost_done:
            return None
        return self.elapsed * (self.cost_total - self.cost_done) / self.cost_done


@dataclass(frozen=True)
class Sweeps:
    """The three sweeps of one set of points."""

    elbow: pl.DataFrame  # k, inertia, silhouette
    side_by_side: pl.DataFrame  # one row per algorithm (algorithms_side_by_side)
    eps: pl.DataFrame  # one row per eps (eps_sweep)


def sweep_plan(k_max: int, k_same: int, eps_values: Sequence[float]) -> list[SweepStep]:
    """Every clustering the sweeps run, in order."""
    steps = [SweepStep(f"k-means with k = {k}", COST["kmeans"] * (1 + k / 50)) for k in sweep_ks(k_max)]
    steps += [SweepStep(f"{ALGORITHMS[name].label} (side by side)", COST[name]) for name in SIDE_BY_SIDE]
    steps += [SweepStep(f"DBSCAN with eps = {fmt.decimal(eps)}", COST["dbscan"]) for eps in eps_values]
    return steps


def run_sweeps(
    X: np.ndarray,
    k_max: int,
    k_same: int,
    truth: Sequence | None = None,
    seed: int = 0,
    report: Callable[[SweepProgress], None] | None = None,
) -> Sweeps:
    """The elbow sweep (k-means from 2 to k_max), the algorithms side by side at k_same and DBSCAN over eps, one
    clustering at a time; `report` hears before the first and after each one (for a progress bar)."""
    eps_values = sweep_eps(X)
    plan = sweep_plan(k_max, k_same, eps_values)
    total = sum(step.cost for step in plan)
    started = time.perf_counter()
    done: list[SweepStep] = []

    def step(run):
        if report is not None:
            report(_progress(plan, done, total, started))
        out = run()
        done.append(plan[len(done)])
        return out

    elbow = [step(lambda k=k: k_sweep(X, [k], seed)) for k in sweep_ks(k_max)]
    side = [step(lambda n=name: algorithms_side_by_side(X, k_same, truth, seed, (n,))) for name in SIDE_BY_SIDE]
    eps = [step(lambda e=e: eps_sweep(X, [e], EPS_MIN_SAMPLES, truth, seed)) for e in eps_values]
    if report is not None:
        report(_progress(plan, done, total, started))
    return Sweeps(pl.concat(elbow), pl.concat(side, how="diagonal_relaxed"), pl.concat(eps, how="diagonal_relaxed"))


def _progress(plan: list[SweepStep], done: list[SweepStep], total: float, started: float) -> SweepProgress:
    return SweepProgress(
        len(done),
        len(plan),
        sum(s.cost for s in done),
        total,
        time.perf_counter() - started,
        plan[len(done)].what if len(done) < len(plan) else "",
    )


# ---- the sweeps' tables as a page shows them

EXTERNAL_COLUMNS = (("ari", "ARI"), ("nmi", "NMI"), ("pairwise_f1", "Pairwise F1"), ("bcubed_f1", "BCubed F1"))


def side_by_side_table(frame: pl.DataFrame) -> pl.DataFrame:
    """algorithms_side_by_side's rows with named columns and formatted numbers (identity scores when present)."""
    if not frame.height:
        return pl.DataFrame(schema=dict.fromkeys(("Algorithm", "Clusters", "Noise", "Silhouette"), pl.String))
    columns = {
        "Algorithm": [ALGORITHMS[name].label for name in frame["algorithm"]],
        "Clusters": [fmt.count(v) for v in frame["n_clusters"]],
        "Noise": [fmt.percent(v) for v in frame["noise"]],
        "Silhouette": [fmt.decimal(v) for v in frame["silhouette"]],
    }
    for name, label in EXTERNAL_COLUMNS:
        if name in frame.columns:
            columns[label] = [fmt.decimal(v) for v in frame[name]]
    columns["Seconds"] = [fmt.decimal(v, 2) for v in frame["seconds"]]
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))


def eps_table(frame: pl.DataFrame) -> pl.DataFrame:
    """eps_sweep's rows with named columns and formatted numbers."""
    columns = {
        "eps": [fmt.decimal(v) for v in frame["eps"]],
        "Clusters": [fmt.count(v) for v in frame["n_clusters"]],
        "Noise": [fmt.percent(v) for v in frame["noise"]],
        "Largest cluster": [fmt.percent(v) for v in frame["largest_share"]],
    }
    if "pairwise_f1" in frame.columns:
        columns["Pairwise F1"] = [fmt.decimal(v) for v in frame["pairwise_f1"]]
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
