"""One logistic regression per attribute, fitted in lockstep: scikit-learn's fit, with the features read once a round.

Each attribute's fit is scikit-learn's LogisticRegression(solver="lbfgs") step for step: the same objective, start,
and SciPy L-BFGS-B options. What changes is who computes the objective: every fit runs in its own thread and, when it
needs a loss and gradient, waits for the others; the waiting requests are then answered together, with one product
of the feature matrix and the (D, k) stack of their weights. A fit of 40 attributes on 160,000 embeddings was
memory-bound (each fit's each step read all the features: 92% of the classifier job's 74 s was those products); in
lockstep the features are read once per round for all attributes.

Front door: `fit_logistic_columns(Z, Y, FitSettings(...), on_fitted)`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from core.processes import usable_cores

log = logging.getLogger(__name__)

CHUNK_ROWS = 2048  # 2 MB of 128 float32 features: fits a core's cache; fixed, so sums do not depend on the cores


@dataclass(frozen=True)
class FitSettings:
    """scikit-learn's LogisticRegression settings the fits follow (its defaults)."""

    C: float = 1.0
    balanced: bool = False  # class_weight="balanced"
    max_iter: int = 100
    tol: float = 1e-4


class _Round:
    """Gathers the fits' requests for a loss and gradient and answers them together once every running fit waits."""

    def __init__(
        self, Z: np.ndarray, Y: np.ndarray, class_weights: ClassWeights, l2: np.ndarray, running: int, pool: Executor
    ):
        self.Z, self.Y, self.class_weights, self.l2, self.pool = Z, Y, class_weights, l2, pool
        self.running = running
        self.pending: dict[int, np.ndarray] = {}
        self.answers: dict[int, tuple[float, np.ndarray] | BaseException] = {}
        self.cond = threading.Condition()

    def evaluate(self, column: int, theta: np.ndarray) -> tuple[float, np.ndarray]:
        with self.cond:
            self.pending[column] = theta
            self._answer_if_all_wait()
            while column not in self.answers:
                self.cond.wait()
            answer = self.answers.pop(column)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def finished(self) -> None:
        with self.cond:
            self.running -= 1
            self._answer_if_all_wait()

    def _answer_if_all_wait(self) -> None:
        if not self.pending or len(self.pending) < self.running:
            return
        columns = np.asarray(sorted(self.pending))  # in column order: all of them then need no gather
        thetas = np.column_stack([self.pending[c] for c in columns])
        self.pending = {}
        try:
            losses, grads = self._losses_and_gradients(columns, thetas)
            self.answers.update({c: (float(losses[i]), grads[:, i]) for i, c in enumerate(columns)})
        except BaseException as error:  # every waiting fit raises it, none waits forever
            self.answers.update(dict.fromkeys(columns, error))
        self.cond.notify_all()

    def _losses_and_gradients(self, columns: np.ndarray, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per column: sum_i w_i * logloss_i + l2/2 * |coef|^2 (w divided by its sum, as scikit-learn's
        LinearModelLoss), and its gradient (D + 1, k) with the intercept last.

        In blocks of CHUNK_ROWS rows, spread over the cores: a block's features stay in the CPU's cache between its
        two products, so each round reads the features from memory once (the products are memory-bound)."""
        D = self.Z.shape[1]
        W, b = thetas[:D].astype(np.float32), thetas[D].astype(np.float32)
        negative = self.class_weights.negative[columns]
        step = self.class_weights.positive[columns] - negative  # a positive row's weight minus a negative row's
        all_columns = len(columns) == self.Y.shape[1]
        weighted = bool(step.any())  # classes weighed differently (balanced): the weights enter each row's terms
        bounds = [*range(0, len(self.Z), CHUNK_ROWS), len(self.Z)]

        def block(span: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            Z = self.Z[span[0] : span[1]]
            y = self.Y[span[0] : span[1]]
            y = y if all_columns else y[:, columns]
            s = Z @ W
            s += b
            loss = np.abs(s)  # log(1 + e^s) - y s = log(1 + e^-|s|) + max(s, 0) - y s, stably; in place: big arrays
            np.negative(loss, out=loss)
            np.exp(loss, out=loss)
            np.log1p(loss, out=loss)
            loss += np.maximum(s, 0)
            scratch = y * s
            loss -= scratch
            weighted_loss = negative * loss.sum(axis=0, dtype=np.float64)
            if weighted:
                weighted_loss += step * np.multiply(loss, y, out=scratch).sum(axis=0, dtype=np.float64)
            with np.errstate(over="ignore"):  # e^-s = inf gives the sigmoid's right limit, 0
                residual = np.exp(np.negative(s, out=s), out=s)
            residual += 1
            np.reciprocal(residual, out=residual)
            residual -= y
            if weighted:
                np.multiply(y, step, out=scratch)
                scratch += negative
                residual *= scratch  # (sigmoid(s) - y) * w
            else:
                residual *= negative
            return weighted_loss, Z.T @ residual, residual.sum(axis=0, dtype=np.float64)

        parts = list(self.pool.map(block, pairwise(bounds)))
        coef = thetas[:D]
        l2 = self.l2[columns]
        losses = sum(p[0] for p in parts) + l2 / 2 * (coef**2).sum(axis=0)
        grad_coef = sum(p[1].astype(np.float64) for p in parts) + l2 * coef
        return losses, np.vstack([grad_coef, sum(p[2] for p in parts)])


@dataclass(frozen=True)
class ClassWeights:
    """Per column, the weight of one positive and of one negative row, divided by the column's sum of weights (as
    scikit-learn's LinearModelLoss divides; with either weighting below that sum is the number of rows)."""

    positive: np.ndarray  # (A,) float32
    negative: np.ndarray

    @classmethod
    def of(cls, rate: np.ndarray, n: int, balanced: bool) -> ClassWeights:
        """rate: each column's positive rate among n rows. Balanced is scikit-learn's n / (2 * count of the row's
        class): 1 / (2 rate) for a positive row, 1 / (2 (1 - rate)) for a negative one, before dividing by n."""
        if not balanced:
            return cls(np.full(rate.shape, 1 / n, np.float32), np.full(rate.shape, 1 / n, np.float32))
        positive, negative = 0.5 / np.maximum(rate, 1e-12), 0.5 / np.maximum(1 - rate, 1e-12)
        return cls((positive / n).astype(np.float32), (negative / n).astype(np.float32))


def fit_logistic_columns(
    Z: np.ndarray, Y: np.ndarray, settings: FitSettings, on_fitted: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(coef (A, D), intercept (A,)) of one logistic regression per column of 0/1 Y (N, A) on features Z (N, D).

    A column with one class gets zero weights and its prior's log-odds. on_fitted(done) as each fit ends."""
    from scipy.optimize import minimize

    Z = np.ascontiguousarray(Z, dtype=np.float32)
    Y = np.asarray(Y).reshape(len(Y), -1).astype(np.float32)
    N, D = Z.shape
    A = Y.shape[1]
    coef, intercept = np.zeros((A, D)), np.zeros(A)
    rate = Y.mean(axis=0, dtype=np.float64)
    two_classes = [j for j in range(A) if 0 < rate[j] < 1]
    for j in set(range(A)) - set(two_classes):
        p = np.clip(rate[j], 1e-4, 1 - 1e-4)
        intercept[j] = np.log(p / (1 - p))
    done = A - len(two_classes)
    if on_fitted is not None and done:
        on_fitted(done)
    if not two_classes:
        return coef, intercept
    from threadpoolctl import threadpool_limits

    options = {"maxiter": settings.max_iter, "maxls": 50, "gtol": settings.tol, "ftol": 64 * np.finfo(float).eps}
    # The blocks of a round: one thread per core, each on one BLAS thread (OpenBLAS's own threads spin against each
    # other on a busy machine). The fits: one thread each, all alive at once (a fit waits on the others).
    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(usable_cores()) as blocks,
        ThreadPoolExecutor(len(two_classes)) as fits,
    ):
        class_weights = ClassWeights.of(rate, N, settings.balanced)
        l2 = np.full(A, 1.0 / (settings.C * N))  # scikit-learn's penalty: 1 / (C * the sum of the weights)
        shared = _Round(Z, Y, class_weights, l2, len(two_classes), blocks)

        def fit(column: int) -> np.ndarray:
            try:
                fun = lambda theta: shared.evaluate(column, theta)  # noqa: E731 - one fit's view of the shared round
                result = minimize(fun, np.zeros(D + 1), jac=True, method="L-BFGS-B", options=options)
                if not result.success:  # scikit-learn would warn (ConvergenceWarning): the log says it
                    log.warning("logistic fit of column %d stopped before converging: %s", column, result.message)
                return result.x
            finally:
                shared.finished()

        futures = {}
        try:
            for j in two_classes:
                futures[fits.submit(fit, j)] = j
        except BaseException:  # a fit that never started must not be waited for by those that did
            for _ in range(len(two_classes) - len(futures)):
                shared.finished()
            raise
        for future in as_completed(futures):
            theta = future.result()
            coef[futures[future]], intercept[futures[future]] = theta[:D], theta[D]
            done += 1
            if on_fitted is not None:
                on_fitted(done)
    return coef, intercept
