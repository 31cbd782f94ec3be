"""Background jobs on a shared server: one start per job however many sessions ask, a server-wide cap with a
queue, workers that die with their job, and failures told in a sentence (never a traceback)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from core.demo import generate_demo
from core.errors import QueueFullError
from core.jobs import JobSpec, cancel_job, job_status, jobs_root, start_job
from core.quality.scan import IN_PROCESS_BELOW
from tests.support import PROJECT, copy_home, seed_face_weights, wait_for, write_celeba

pytestmark = pytest.mark.slow


def _group(pgid: int) -> list[int]:
    """Live processes of a process group (from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields[2] is the process group id
            pids.append(int(entry.name))
    return pids


def test_sessions_starting_the_same_job_at_once_start_it_once(isolated_cache, tmp_path):
    out = tmp_path / "demo"
    job = JobSpec("demo", ("demo", "--out", str(out), "--images", "30", "--workers", "1"))
    ids = []
    threads = [threading.Thread(target=lambda: ids.append(start_job(job.kind, list(job.argv)))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(ids) == {job.job_id}
    spec = json.loads((jobs_root() / job.job_id / "spec.json").read_text())
    wait_for(lambda: job_status(job.job_id).finished)
    wait_for(lambda: not _group(spec["pid"]), 30)  # it ended, leaving nothing behind
    assert job_status(job.job_id).state == "done"
    log = (jobs_root() / job.job_id / "log.txt").read_text()
    assert log.count("demo dataset: 30 images") == 1, log  # one process drew it


SLOT_HOLDER = """
import sys, time
from core.jobs import acquire_slot
acquire_slot(sys.argv[1])
open(sys.argv[1] + ".held", "w").close()
time.sleep(600)
"""


def test_a_job_beyond_the_servers_cap_waits_in_a_visible_queue(isolated_cache, monkeypatch):
    monkeypatch.setenv("FACEATLAS_MAX_JOBS", "4")
    root = jobs_root()
    procs, progress = [], []
    try:
        for k in range(5):
            folder = root / f"hold-{k}"
            folder.mkdir()
            progress.append(folder / "progress.json")
            procs.append(subprocess.Popen([sys.executable, "-c", SLOT_HOLDER, str(progress[k])], cwd=PROJECT))
            (folder / "spec.json").write_text(json.dumps({"kind": "hold", "argv": [], "pid": procs[k].pid}))
            if k < 4:
                wait_for(lambda k=k: Path(f"{progress[k]}.held").exists(), 60)
        wait_for(lambda: job_status("hold-4").message.startswith("queued"), 60)
        fifth = job_status("hold-4")
        assert fifth.state == "queued" and "4 jobs are running" in fifth.message
        time.sleep(2)
        assert not Path(f"{progress[4]}.held").exists()  # still waiting while four hold their slots
        procs[1].kill()  # a job ends (however it ends): its slot is free again
        wait_for(lambda: Path(f"{progress[4]}.held").exists(), 60)
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def small_demo_template(tmp_path_factory):
    """A 96-image demo drawn once for the module; small_demo copies it (each test's job writes beside it)."""
    home = tmp_path_factory.mktemp("jobs-demo")
    generate_demo(home / "data" / "demo", n_images=96, seed=7)
    return home


@pytest.fixture
def small_demo(small_demo_template, isolated_cache, face_weights, tmp_path):
    copy_home(small_demo_template, tmp_path, cache=False)
    seed_face_weights(face_weights, isolated_cache)  # the embedding jobs' workers read them instead of parsing
    return tmp_path / "data" / "demo"


def test_killing_a_job_leaves_no_workers_and_it_resumes(small_demo):
    job = JobSpec("embed", ("embed", str(small_demo), "--name", "demo", "--workers", "2", "--chunk-size", "4"))
    start_job(job.kind, list(job.argv))
    pid = json.loads((jobs_root() / job.job_id / "spec.json").read_text())["pid"]
    wait_for(lambda: job_status(job.job_id).done >= 8 and len(_group(pid)) >= 3)  # workers are busy
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not _group(pid), 30)  # forkserver, workers and resource tracker all gone
    status = job_status(job.job_id)
    assert status.state == "failed" and "stopped unexpectedly" in status.error and "Traceback" not in status.error
    start_job(job.kind, list(job.argv))  # resume: chunks written before the kill are kept
    wait_for(lambda: job_status(job.job_id).finished)
    status = job_status(job.job_id)
    assert status.state == "done" and status.result["resumed"] >= 8 and status.result["embedded"] == 96


def test_a_failed_job_says_why_in_a_sentence_not_a_traceback(isolated_cache, small_demo):
    user = JobSpec("embed", ("embed", str(small_demo.parent / "nowhere")))
    unexpected = JobSpec("cluster-map", ("cluster", str(small_demo), "--features", "attributes", "--subset-json", "{"))
    for job in (user, unexpected):
        start_job(job.kind, list(job.argv))
    for job in (user, unexpected):
        wait_for(lambda job=job: job_status(job.job_id).finished, 120)
    mistake, crash = job_status(user.job_id), job_status(unexpected.job_id)
    assert mistake.state == "failed" and "No dataset folder or name" in mistake.error
    assert crash.state == "failed" and "unexpected error" in crash.error
    for status in (mistake, crash):
        assert "Traceback" not in status.error and 'File "' not in status.error
    assert "Traceback" in Path(crash.log_path).read_text()  # the details are kept for whoever runs the server


def test_cancel_stops_the_whole_process_group(small_demo):
    job = JobSpec("embed", ("embed", str(small_demo), "--name", "demo", "--workers", "2", "--chunk-size", "4"))
    start_job(job.kind, list(job.argv))
    pid = json.loads((jobs_root() / job.job_id / "spec.json").read_text())["pid"]
    wait_for(lambda: len(_group(pid)) >= 3)
    cancel_job(job.job_id)
    wait_for(lambda: not _group(pid), 30)
    assert job_status(job.job_id).state == "cancelled"


def test_worker_processes_never_run_the_callers_page(tmp_path, monkeypatch):
    """Under `streamlit run` (or an AppTest) __main__ is a page: spawned pool workers must not execute it."""
    import types

    marker = tmp_path / "page-ran"
    page = tmp_path / "Home.py"
    page.write_text(f"open({str(marker)!r}, 'w').close()\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    generate_demo(tmp_path / "demo", n_images=200, seed=4, workers=2)  # a spawn pool of 2 workers
    assert (tmp_path / "demo" / "Img" / "img_align_celeba" / "000200.jpg").exists()
    assert not marker.exists()


def test_an_audit_killed_with_9_leaves_no_scan_workers(isolated_cache, tmp_path):
    """`core audit` run by hand (not as a job, so nobody cleans up after it) and killed -9 while its pool reads."""
    n = IN_PROCESS_BELOW  # the smallest dataset the scan reads with worker processes
    root = write_celeba(tmp_path / "big", n=n)
    slow = tmp_path / "slow.png"  # a 9-megapixel PNG: each worker spends a while on every file
    Image.new("RGB", (3000, 3000), (90, 120, 200)).save(slow)
    images = root / "Img" / "img_align_celeba"
    images.mkdir(parents=True)
    for i in range(n):
        os.link(slow, images / f"{i + 1:06d}.jpg")
    command = [sys.executable, "-m", "core", "audit", str(root), "--checks", "images", "--workers", "2"]
    proc = subprocess.Popen(command, cwd=PROJECT, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(_group(proc.pid)) >= 4)  # the command, the forkserver, its workers (and resource tracker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        wait_for(lambda: not _group(proc.pid), 60)  # every process it started ended with it
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # on failure: what it left behind


def _holding_a_slot(name: str) -> subprocess.Popen:
    """A registered job that holds a server slot until it is killed."""
    folder = jobs_root() / name
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", SLOT_HOLDER, str(folder / "progress.json")], cwd=PROJECT)
    (folder / "spec.json").write_text(json.dumps({"kind": "hold", "argv": [], "pid": proc.pid}))
    wait_for(lambda: Path(f"{folder / 'progress.json'}.held").exists(), 60)
    return proc


def _has_process(job_id: str) -> bool:
    """Whether any process runs for this job (its progress file is on its command line)."""
    needle = str(jobs_root() / job_id / "progress.json").encode()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def test_the_queue_is_bounded_and_a_queued_job_holds_no_process(isolated_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("FACEATLAS_MAX_JOBS", "1")
    monkeypatch.setenv("FACEATLAS_MAX_QUEUED", "3")
    root = write_celeba(tmp_path / "small", n=6)
    jobs = [JobSpec("audit", ("audit", str(root), "--name", f"copy-{k}", "--checks", "images")) for k in range(4)]
    holder = _holding_a_slot("hold-0")
    try:
        first = start_job(jobs[0].kind, list(jobs[0].argv), owner="tab-a")
        second = start_job(jobs[1].kind, list(jobs[1].argv), owner="tab-a")
        waits = ["(it starts when one ends)", "(1 queued before it, it starts when one ends)"]
        for job_id, wait in zip((first, second), waits, strict=True):
            status = job_status(job_id)
            assert status.state == "queued" and status.message == f"queued: 1 job is running on this server {wait}"
            assert status.pid is None and not _has_process(job_id)  # waiting costs no process
        with pytest.raises(QueueFullError, match=r"Your queue is full: 2 jobs you started are waiting.*Try again when"):
            start_job(jobs[2].kind, list(jobs[2].argv), owner="tab-a")
        assert start_job(jobs[0].kind, list(jobs[0].argv), owner="tab-b") == first  # the same work is shared
        start_job(jobs[2].kind, list(jobs[2].argv), owner="tab-b")
        with pytest.raises(QueueFullError, match=r"The queue is full: 3 jobs are waiting and 1 running.*Try again"):
            start_job(jobs[3].kind, list(jobs[3].argv), owner="tab-c")
    finally:
        holder.kill()
        holder.wait()
    for job in jobs[:3]:  # the slot freed, the queue moves on by itself, one job at a time
        wait_for(lambda job=job: job_status(job.job_id).state == "done", 180)
    assert job_status(jobs[3].job_id) is None  # refused, never queued
