"""A check that cannot run on a dataset is skipped with its reason, never failed, and the Data quality page does not
offer it; a job that did fail says so in one sentence, without a doubled full stop or a server path.

The dataset: a small LFW-style folder (4 people, 3 photos each: 12 pairs of one person's photos, fewer than the 50
the same-person distance is measured on) with identity-clustered embeddings, as after the embedding job.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bench.synthetic_embeddings import identity_embeddings
from core import cached
from core.__main__ import main as cli_main
from core.data.embeddings import save_embeddings
from core.data.ingest import open_dataset
from core.faces.calibration import MIN_PAIRS
from core.jobs import JobStatus
from core.quality import CHECK_TITLES, run_audit
from core.quality.audit import missing
from tests.support import PROJECT, home_environment, opened_at
from ui.jobs import failure_text

PAGE = str(PROJECT / "pages" / "6_Data_quality.py")
PEOPLE, PHOTOS = 4, 3
SAME_PAIRS = PEOPLE * PHOTOS * (PHOTOS - 1) // 2


@pytest.fixture(scope="module")
def small_lfw(demo_home, tmp_path_factory):
    """(home, dataset): the small LFW folder with embeddings, beside a copy of the test demo (the picker's default)."""
    home = tmp_path_factory.mktemp("small-lfw")
    images = sorted((demo_home / "data" / "demo" / "Img" / "img_align_celeba").glob("*.jpg"))
    for k, image in enumerate(images[: PEOPLE * PHOTOS]):
        person = home / "data" / "lfw" / f"Person_{k % PEOPLE}"
        person.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, person / f"Person_{k % PEOPLE}_{k:04d}.jpg")
    shutil.copytree(demo_home / "data" / "demo", home / "data" / "demo")
    with home_environment(home):
        ds = open_dataset(home / "data" / "lfw", name="lfw")
        vectors = identity_embeddings(ds.table["identity"].to_numpy(), seed=3)
        save_embeddings(ds, "dlib", vectors, np.ones(ds.n_images, bool))
        cached.dataset_refs.clear()
        yield home, ds
        cached.dataset_refs.clear()


def test_the_identity_check_says_why_it_cannot_run(small_lfw):
    _, ds = small_lfw
    reason = missing(ds, "identities")
    assert reason is not None
    assert f"at least {MIN_PAIRS} pairs" in reason and f"lfw make {SAME_PAIRS}" in reason, reason


def test_the_audit_skips_it_and_runs_the_rest(small_lfw):
    _, ds = small_lfw
    result = run_audit(ds, ("identities", "duplicates"), workers=1)
    assert result["identities"] == {"skipped": missing(ds, "identities")}
    assert "exact_groups" in result["duplicates"]


def test_the_command_reports_the_skip_and_succeeds(small_lfw, capsys):
    home, _ = small_lfw
    assert cli_main(["audit", str(home / "data" / "lfw"), "--name", "lfw", "--checks", "identities", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert f"lfw make {SAME_PAIRS}" in printed["checks"]["identities"]["skipped"]


def test_the_page_does_not_offer_it(small_lfw):
    at = opened_at(PAGE, {"dataset": "lfw", "check": "identities"})
    offered = [i.value for i in at.info if "Not yet run" in i.value]
    assert not any(CHECK_TITLES["identities"].lower() in text for text in offered), offered
    assert any(f"lfw make {SAME_PAIRS}" in i.value for i in at.info), [i.value for i in at.info]


def test_a_failed_job_says_why_once_and_names_no_server_path():
    status = JobStatus(
        job_id="audit-0123456789ab",
        kind="audit",
        state="failed",
        done=0,
        total=0,
        message="",
        started=0.0,
        updated=0.0,
        result=None,
        error="Too few identities with two or more photos to measure the same-person distance.",
        log_path="/srv/faceatlas-cache/jobs/audit-0123456789ab/log.txt",
    )
    text = failure_text(status)
    assert ".." not in text and "/srv" not in text, text
    assert text == (
        "Too few identities with two or more photos to measure the same-person distance. The full log is in "
        "cache/jobs/audit-0123456789ab/log.txt on the server."
    )
