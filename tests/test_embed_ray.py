"""The embedding job on a local Ray instance (2 CPUs): the local job's result, and a job killed half-way then resumed.

The job is caught half-way by waiting until a few of its many small chunks are written (each chunk is two faces
through detection and the descriptor, so the rest cannot all finish between two looks); no timing is asserted.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core import jobs
from core.__main__ import main
from core.cli import embed as embed_cli
from core.data.embeddings import embeddings_root, load_embeddings
from core.data.ingest import ingest
from core.demo import generate_demo
from core.errors import ClusterError
from core.faces import embed_job, ray_runner
from core.faces import pipeline as faces
from core.faces.embed_job import chunks_dir, embed_dataset, load_status
from core.faces.ray_runner import RayTarget
from tests.support import seed_face_weights

pytestmark = pytest.mark.ray

IMAGES = 48
CHUNK = 2  # 24 chunks
WORKERS = 2
WAIT_S = 300  # generous bounds on a busy machine: a wait that ends early is never a failure, only a hang would be


@pytest.fixture(scope="module")
def small_set(tmp_path_factory, face_weights):
    """(dataset, cache dir): a small drawn CelebA-layout set in its own cache."""
    root = tmp_path_factory.mktemp("ray") / "small"
    generate_demo(root, n_images=IMAGES, seed=5, workers=1)
    cache = root.parent / "cache"
    seed_face_weights(face_weights, cache)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEATLAS_CACHE", str(cache))
        yield ingest(root, "small"), cache


def _clear(ds) -> None:
    shutil.rmtree(embeddings_root(ds), ignore_errors=True)


def _stored(ds) -> dict:
    emb = load_embeddings(ds, "dlib")
    assert emb is not None
    return {"vectors": np.asarray(emb.vectors, np.float64), "has_face": emb.has_face.copy(), "status": load_status(ds)}


def _assert_same(result: dict, reference: dict) -> None:
    np.testing.assert_array_equal(result["has_face"], reference["has_face"])
    np.testing.assert_array_equal(result["status"], reference["status"])
    np.testing.assert_allclose(result["vectors"], reference["vectors"], rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def reference(small_set):
    """What the local worker processes compute for the small set."""
    ds, _ = small_set
    _clear(ds)
    summary = embed_dataset(ds, workers=WORKERS, chunk_size=CHUNK)
    assert (summary.images, summary.failed) == (IMAGES, 0)
    stored = _stored(ds)
    assert stored["has_face"].sum() > IMAGES // 2 and np.abs(stored["vectors"][stored["has_face"]]).sum(1).min() > 0
    _clear(ds)
    return summary, stored


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance (2 CPUs) for this module's in-process runs (each run would otherwise start its own)."""
    with ray_runner.connected(RayTarget(), cpus=WORKERS) as ray:
        assert ray.cluster_resources()["CPU"] == WORKERS
        yield ray


def _through_ray(monkeypatch) -> list[int]:
    """Record the chunks that came back through Ray tasks."""
    seen: list[int] = []
    run_tasks = ray_runner.run_tasks

    def spy(*args, **kwargs):
        for key, value in run_tasks(*args, **kwargs):
            seen.append(key)
            yield key, value

    monkeypatch.setattr(ray_runner, "run_tasks", spy)
    return seen


def test_ray_job_gives_the_local_result(small_set, reference, local_ray, monkeypatch):
    ds, _ = small_set
    local_summary, expected = reference
    seen = _through_ray(monkeypatch)
    summary = embed_dataset(ds, workers=WORKERS, chunk_size=CHUNK, ray=RayTarget())
    assert sorted(seen) == list(range(IMAGES // CHUNK))  # every chunk was a Ray task
    assert (summary.images, summary.embedded, summary.no_face, summary.failed, summary.resumed) == (
        IMAGES,
        local_summary.embedded,
        local_summary.no_face,
        0,
        0,
    )
    _assert_same(_stored(ds), expected)
    assert not chunks_dir(ds).exists()
    _clear(ds)


def _session_processes(sid: int) -> list[str]:
    """Processes still in the job's session (the job, its local Ray instance and Ray's workers)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()  # after "pid (comm) "
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(text[: text.rfind(")") + 1])
    return out


def _wait(condition, what: str):
    deadline = time.monotonic() + WAIT_S
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)
    return value


def test_ray_job_killed_half_way_resumes(small_set, reference, local_ray, monkeypatch):
    ds, _ = small_set
    _, expected = reference
    # The page's job, as the job launcher starts it, on Ray. Not niced here: a job's lowered priority is the
    # product's choice, but Ray's own fixed start-up deadlines can be missed at nice 10 on a saturated machine.
    monkeypatch.setattr(jobs, "_lower_priority", lambda: None)
    monkeypatch.setenv(embed_cli.RAY_ENV_VAR, "local")
    spec = embed_cli.embed_job_spec(ds)
    assert spec.argv[-2:] == ("--ray", "local")
    job_id = jobs.start_job(spec.kind, [*spec.argv, "--workers", str(WORKERS), "--chunk-size", str(CHUNK)])
    pid = json.loads((jobs.jobs_root() / job_id / "spec.json").read_text())["pid"]
    folder = chunks_dir(ds)

    def half_way():
        status = jobs.job_status(job_id)
        assert status is not None and status.state in ("queued", "running"), status
        written = len(list(folder.glob("chunk_*.npz"))) if folder.exists() else 0
        return status if written >= 3 and status.done >= CHUNK else None  # progress is published at most 2/s

    status = _wait(half_way, "the Ray job to write 3 chunks")
    assert status.total == IMAGES and "images" in status.message  # what the page's job panel shows
    jobs.cancel_job(job_id)
    _wait(lambda: not _session_processes(pid), "the job and its Ray processes to exit")
    assert jobs.job_status(job_id).state == "cancelled"
    assert load_embeddings(ds, "dlib") is None
    kept = sorted(folder.glob("chunk_*.npz"))
    assert 3 <= len(kept) < IMAGES // CHUNK

    seen = _through_ray(monkeypatch)
    summary = embed_dataset(ds, workers=WORKERS, chunk_size=CHUNK, ray=RayTarget())
    assert summary.resumed == CHUNK * len(kept)  # only the missing chunks were computed
    assert len(seen) == IMAGES // CHUNK - len(kept)
    _assert_same(_stored(ds), expected)


def test_ray_target_from_flag(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert RayTarget.from_flag("") == RayTarget.from_flag(None) == RayTarget.from_flag("local") == RayTarget()
    assert RayTarget.from_flag("ray://head:10001").address == "ray://head:10001"
    monkeypatch.setenv("RAY_ADDRESS", "head:6379")
    assert RayTarget.from_flag("").address == "head:6379"
    assert RayTarget.from_flag("local") == RayTarget()  # an explicit "local" wins over RAY_ADDRESS


def test_node_without_the_images_fails_loudly(tmp_path):
    with pytest.raises(ClusterError, match="does not see"):
        ray_runner._on_node(
            embed_job.embed_paths, str(tmp_path / "not-mounted"), ([], True, faces.FaceConfig(), "torch")
        )
    batch = ray_runner._on_node(embed_job.embed_paths, str(tmp_path), ([None], True, faces.FaceConfig(), "torch"))
    assert batch.status.tolist() == [faces.STATUS_FAILED]


def test_ray_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ClusterError, match=r"requirements-ray\.txt"):
        ray_runner.cluster_cpus(RayTarget("ray://head:10001"))


def test_cli_unreachable_cluster_is_a_clear_error(small_set, tmp_path, isolated_cache, capsys):
    ds, _ = small_set
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("000002.jpg", "000003.jpg"):
        shutil.copy(ds.image_path(name), folder / name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing answers there
    progress = tmp_path / "progress.json"
    argv = ["embed", str(folder), "--ray", f"127.0.0.1:{port}", "--json", "--progress-file", str(progress)]
    assert main(argv) == 2
    assert "Nothing answers at 127.0.0.1" in json.loads(capsys.readouterr().out)["error"]
    assert json.loads(progress.read_text())["state"] == "failed"  # what the page's job panel shows
