"""The background-job panel's line: an estimate from the first second, the measured rate once there is one."""

from __future__ import annotations

from core import format as fmt
from core.jobs import JobStatus
from ui.jobs import embedding_seconds, progress_text


def status(done: int, started: float, updated: float, message: str = "loading the face models…") -> JobStatus:
    return JobStatus("embed-1", "embed", "running", done, 6000, message, started, updated, None, None)


def test_before_the_first_item_the_panel_says_what_happens_and_the_estimate():
    text = progress_text(status(0, started=100.0, updated=101.0), "Computing face embeddings", 160.0, now=101.0)
    assert text == "Computing face embeddings: loading the face models… · 1 s so far · about 3 min left (estimate)"
    assert "0.0/s" not in text and "–" not in text


def test_once_items_are_done_the_measured_rate_takes_over():
    text = progress_text(status(600, started=100.0, updated=120.0), "Computing face embeddings", 160.0, now=120.0)
    assert text == "Computing face embeddings: 600 / 6,000 · 30.0/s · 3 min left"


def test_a_job_slower_than_expected_says_so_instead_of_a_frozen_estimate():
    text = progress_text(status(0, started=100.0, updated=140.0), "UMAP map", 20.0, now=140.0)
    assert (
        text == "UMAP map: loading the face models… · 40 s so far · longer than the 20 s expected: the machine is busy"
    )


def test_estimates_read_plainly():
    assert [fmt.duration(s) for s in (0.2, 45, 100, 7200, None)] == ["1 s", "45 s", "2 min", "2.0 h", "–"]


def test_embedding_estimate_uses_the_measured_rate(demo_dataset):
    rate = 39.0 if demo_dataset.aligned else 11.0
    assert embedding_seconds(demo_dataset) == 10.0 + demo_dataset.n_images / rate
