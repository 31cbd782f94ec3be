"""How long drawing a demo takes: the estimate said before it starts, and the one corrected as it runs.

Before the job has measured anything, the time comes from rates measured on a quiet 2-core machine
(docs/bench/demo_drawing.md). Every wait is evidence: labels planned slower than expected, or first faces later
than the workers' start and one chunk should take (a loaded server, a job yielding the CPU to visitors, a
container with a fraction of a core), scale the drawing's estimate by how far behind it is, before any face is
drawn. Once faces are drawn, the measured rate takes over, blended with that expectation for PRIOR_SECONDS so the
first chunks do not swing it; it is measured from the first faces written, so the workers' start does not count
as slow drawing.
"""

from __future__ import annotations

import time

import numpy as np

from core.demo.drawing import CHUNK, IN_PROCESS_BELOW

START_SECONDS = 3.0  # the job's Python starting and importing numpy, polars and Pillow
# Planning identities, partitions and labels, single-threaded: (images, seconds) measured at these sizes.
PLAN_SECONDS = ((0, 0.3), (6_000, 1.5), (20_000, 2.0), (202_599, 50.0))  # docs/bench/demo_drawing.md
DRAW_SECONDS_PER_IMAGE = 0.020  # one face drawn and saved as JPEG on one core
POOL_START_SECONDS = 1.5  # worker processes starting (each imports numpy and Pillow)
PRIOR_SECONDS = 3.0  # the expected rate weighs as much as this many seconds of measured drawing
SLOWDOWN_LIMIT = 50.0  # a machine planning more than this many times slower is said to be that slow, no more


def expected_plan_seconds(n_images: int) -> float:
    """Seconds to plan the labels of n_images images on a quiet machine."""
    sizes, seconds = zip(*PLAN_SECONDS)
    if n_images > sizes[-1]:
        return seconds[-1] * n_images / sizes[-1]
    return float(np.interp(n_images, sizes, seconds))


def expected_draw_seconds(n_images: int, workers: int) -> float:
    """Seconds to draw n_images faces with `workers` processes on a quiet machine."""
    pool = POOL_START_SECONDS if workers > 1 and n_images >= IN_PROCESS_BELOW else 0.0
    return pool + n_images * DRAW_SECONDS_PER_IMAGE / max(1, workers)


def expected_seconds(n_images: int, workers: int) -> float:
    """The whole drawing job, from its start to its last face, on a quiet machine."""
    return START_SECONDS + expected_plan_seconds(n_images) + expected_draw_seconds(n_images, workers)


class DrawingClock:
    """The time a drawing job has left: expected at first, then corrected by what this machine measures.

    planned() is called when the labels are planned, drawing(already) when the faces start (already: faces a
    resumed drawing found done), left(done) at any time.
    """

    def __init__(self, n_images: int, workers: int, clock=time.monotonic) -> None:
        self.n_images = n_images
        self.workers = max(1, workers)
        self.clock = clock
        self.started = clock()
        self.slowdown = 1.0  # how many times slower than a quiet machine this one has shown itself to be
        self.plan_expected = expected_plan_seconds(n_images)
        self.plan_end: float | None = None
        self.draw_start: float | None = None
        self.already = 0
        self._first: tuple[float, int] | None = None  # (time, done) when the first faces of this run arrived

    def _behind(self, slowdown: float) -> None:
        self.slowdown = float(np.clip(slowdown, self.slowdown, SLOWDOWN_LIMIT))

    def planned(self) -> None:
        self.plan_end = self.clock()
        self._behind((self.plan_end - self.started) / self.plan_expected)

    def drawing(self, already: int) -> None:
        self.draw_start = self.clock()
        self.already = already

    def expected_rate(self) -> float:
        """Faces a second this machine should draw, by what it has shown so far."""
        return self.workers / (DRAW_SECONDS_PER_IMAGE * self.slowdown)

    def rate(self, done: int) -> float | None:
        """Faces a second drawn since the drawing started, workers' start included (None before)."""
        if self.draw_start is None or done <= self.already:
            return None
        return (done - self.already) / max(self.clock() - self.draw_start, 1e-9)

    def left(self, done: int) -> float:
        """Seconds left until the last face is drawn, `done` faces being drawn now."""
        now = self.clock()
        if self.plan_end is None:  # still planning: as expected, or as far behind as it already is
            elapsed = now - self.started
            self._behind(elapsed / self.plan_expected)
            plan_left = max(self.plan_expected - elapsed, 0.1 * elapsed)
            return plan_left + expected_draw_seconds(self.n_images - done, self.workers) * self.slowdown
        if self.draw_start is None or done <= self.already:  # no face yet: is it late?
            waited = 0.0 if self.draw_start is None else now - self.draw_start
            first_chunk = POOL_START_SECONDS + CHUNK * DRAW_SECONDS_PER_IMAGE
            self._behind(waited / first_chunk)
            start_left = max(POOL_START_SECONDS * self.slowdown - waited, 0.0)
            return start_left + (self.n_images - done) / self.expected_rate()
        if self._first is None:
            self._first = (now, done)
        since, first_done = self._first
        expected = self.expected_rate()
        rate = (done - first_done + expected * PRIOR_SECONDS) / (now - since + PRIOR_SECONDS)
        return (self.n_images - done) / rate
