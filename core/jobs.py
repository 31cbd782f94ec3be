"""Long work (embedding, training, UMAP at scale) as background jobs.

A job is a `python -m core <command> ... --progress-file F` subprocess in its own
process group, so it survives Streamlit reruns, never holds the server's GIL,
and can be cancelled by any session. Its folder cache/jobs/<job_id>/ holds
spec.json, progress.json (rewritten atomically by the job) and log.txt.
The job id is derived from the command, so two sessions asking for the same
work share one job instead of starting two.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from core.data.atomic import write_json
from core.data.paths import PROJECT_ROOT, cache_root

FINAL_STATES = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    kind: str
    state: str  # queued | running | done | failed | cancelled
    done: int
    total: int
    message: str
    started: float
    updated: float
    result: dict | None
    error: str | None
    done_at_start: int = 0  # rows a resumed job found already done

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def rate(self) -> float:
        """Items per second so far."""
        elapsed = max(self.updated - self.started, 1e-9)
        return max(self.done - self.done_at_start, 0) / elapsed

    @property
    def eta_seconds(self) -> float | None:
        if not self.done or not self.total or self.finished:
            return None
        return (self.total - self.done) / max(self.rate, 1e-9)


@dataclass(frozen=True)
class JobSpec:
    """One piece of background work: `python -m core <argv>`; built beside its command in core/cli/."""

    kind: str  # what the work is ("embed", "train", "cluster-map"): the job id's prefix
    argv: tuple[str, ...]

    @property
    def job_id(self) -> str:
        return job_id_for(self.kind, list(self.argv))


def jobs_root() -> Path:
    root = cache_root() / "jobs"
    root.mkdir(parents=True, exist_ok=True)
    return root


def job_id_for(kind: str, argv: list[str]) -> str:
    digest = hashlib.blake2b(json.dumps([kind, argv]).encode(), digest_size=6).hexdigest()
    return f"{kind}-{digest}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process still answers kill(0); reap it if it is ours.
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == 0
    except ChildProcessError:
        return True


def _lower_priority() -> None:
    """Run in the job's child before exec: jobs yield the CPU to interactive sessions.

    The job starts its own session, which on Linux also gives it its own scheduling
    autogroup, so the autogroup's niceness is what counts, not only the process's.
    """
    try:
        os.nice(10)
        Path("/proc/self/autogroup").write_text("10")
    except OSError:
        pass


def start_job(kind: str, argv: list[str]) -> str:
    """Start `python -m core <argv>` in the background unless the same job already runs; return its id."""
    job_id = job_id_for(kind, argv)
    folder = jobs_root() / job_id
    current = job_status(job_id)
    if current is not None and not current.finished:
        return job_id
    folder.mkdir(parents=True, exist_ok=True)
    progress = folder / "progress.json"
    write_json(progress, {"state": "queued", "done": 0, "total": 0, "message": "starting…", "started": time.time()})
    cmd = [sys.executable, "-m", "core", *argv, "--progress-file", str(progress)]
    with open(folder / "log.txt", "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=_lower_priority,
        )
    write_json(folder / "spec.json", {"kind": kind, "argv": argv, "pid": proc.pid, "started": time.time()})
    return job_id


def job_status(job_id: str) -> JobStatus | None:
    """Current state of a job, or None if it never existed. A dead job that did not finish is 'failed'."""
    folder = jobs_root() / job_id
    try:
        spec = json.loads((folder / "spec.json").read_text())
    except (OSError, ValueError):
        spec = {}
    try:
        prog = json.loads((folder / "progress.json").read_text())
    except (OSError, ValueError):
        if not spec:
            return None
        prog = {}
    state = prog.get("state", "queued")
    error = prog.get("error")
    if state not in FINAL_STATES and spec.get("pid") and not _pid_alive(spec["pid"]):
        state = "failed"
        error = error or _log_tail(folder) or "the job stopped unexpectedly"
    return JobStatus(
        job_id=job_id,
        kind=spec.get("kind", job_id.split("-")[0]),
        state=state,
        done=int(prog.get("done", 0)),
        total=int(prog.get("total", 0)),
        message=prog.get("message", ""),
        started=float(prog.get("started", spec.get("started", time.time()))),
        updated=float(prog.get("updated", time.time())),
        result=prog.get("result"),
        error=error,
        done_at_start=int(prog.get("done_at_start", 0)),
    )


def _log_tail(folder: Path, lines: int = 3) -> str:
    try:
        text = (folder / "log.txt").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " / ".join(text[-lines:])


def cancel_job(job_id: str) -> None:
    """Stop a running job's whole process group; what it wrote atomically stays for a resume."""
    folder = jobs_root() / job_id
    try:
        spec = json.loads((folder / "spec.json").read_text())
        os.killpg(spec["pid"], signal.SIGTERM)
    except (OSError, ValueError, KeyError, ProcessLookupError):
        pass
    status = job_status(job_id)
    write_json(
        folder / "progress.json",
        {
            "state": "cancelled",
            "done": status.done if status else 0,
            "total": status.total if status else 0,
            "message": "cancelled",
            "started": status.started if status else time.time(),
            "updated": time.time(),
        },
    )


class ProgressReporter:
    """Used inside a job (or any long CLI command) to publish progress; a no-op without a file."""

    def __init__(self, path: str | Path | None, total: int = 0, min_interval: float = 0.5):
        self.path = Path(path) if path else None
        self.total = total
        self.min_interval = min_interval
        self.started = time.time()
        self._last = 0.0
        self._done_at_start: int | None = None

    def update(self, done: int, message: str = "", total: int | None = None, force: bool = False) -> None:
        if total is not None:
            self.total = total
        if self._done_at_start is None:
            self._done_at_start = done
        now = time.time()
        if self.path is None or (not force and now - self._last < self.min_interval):
            return
        self._last = now
        self._write("running", done, message)

    def finish(self, result: dict | None = None, message: str = "done") -> None:
        self._write("done", self.total, message, result=result)

    def fail(self, error: str) -> None:
        self._write("failed", 0, error, error=error)

    def _write(self, state: str, done: int, message: str, **extra) -> None:
        if self.path is None:
            return
        write_json(
            self.path,
            {
                "state": state,
                "done": done,
                "total": self.total,
                "message": message,
                "started": self.started,
                "updated": time.time(),
                "done_at_start": self._done_at_start or 0,
                **extra,
            },
        )
