"""Long work (drawing the demo, embedding, training, maps, audits) as background jobs.

A job is a `python -m core <command> ... --progress-file F` subprocess in its own process group, so it
survives Streamlit reruns, never holds the server's GIL, and can be cancelled by any session. Its folder
cache/jobs/<job_id>/ holds spec.json, progress.json (rewritten atomically by the job) and log.txt.
The job id is derived from the command, so two sessions asking for the same work share one job: starting
is locked, so two visitors arriving at once still start it once.

At most `max_jobs()` jobs do their work at the same time on one server (FACEATLAS_MAX_JOBS, default
max(2, cores // 2)); the others wait in a first-come queue, and their progress says so. A queued job is only its
folder (spec.json without a pid): no process waits for it. `dispatch()` starts the oldest queued jobs whenever slots
are free; it runs when a job is started, cancelled or ends, and when a page looks at a queued job (so a job killed
with -9 still frees its slot). The queue is bounded, per server (FACEATLAS_MAX_QUEUED) and per session
(MAX_QUEUED_PER_SESSION): beyond that, starting a job raises QueueFullError, which says when to try again. A running
job also holds its slot through an flock, so a job that dies frees its slot without anyone cleaning up.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core import format as fmt
from core.data.atomic import write_json
from core.data.dataset import Dataset
from core.data.paths import PROJECT_ROOT, cache_root
from core.errors import QueueFullError, said_when_disk_full
from core.processes import pid_alive, stop_leftovers

FINAL_STATES = ("done", "failed", "cancelled")
QUEUE_POLL_S = 1.0
UNEXPECTED_ERROR = "it stopped on an unexpected error"
MAX_QUEUED_PER_SESSION = 2  # jobs one visitor may have waiting (one per browser tab would be unbounded)
QUEUE_LOCK = ".queue.lock"


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
    error: str | None  # a plain sentence for the user (never a traceback)
    done_at_start: int = 0  # rows a resumed job found already done
    log_path: str = ""  # where the full log is (tracebacks go there, not to the page)
    left_s: float | None = None  # the job's own estimate of the seconds left when it last reported
    pid: int | None = None  # its process; None while it waits in the queue

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
        if self.finished:
            return None
        if self.left_s is not None:  # the job knows its phases better than done / rate: counted down since
            return max(1.0, self.left_s - max(0.0, time.time() - self.updated))
        if not self.done or not self.total:
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
    with contextlib.suppress(OSError):  # a full disk: readers find no job, and starting one says why it cannot
        root.mkdir(parents=True, exist_ok=True)
    return root


def dataset_job_spec(command: str, ds: Dataset, *options: str, kind: str = "") -> JobSpec:
    """The job `python -m core <command> <dataset folder> --name <its name> <options>`, of `kind` (the command's name
    unless said): how every page's job names its dataset, so the same work on the same dataset has one job id."""
    return JobSpec(kind or command, (command, str(ds.root), "--name", ds.name, *options))


def job_id_for(kind: str, argv: list[str]) -> str:
    digest = hashlib.blake2b(json.dumps([kind, argv]).encode(), digest_size=6).hexdigest()
    return f"{kind}-{digest}"


def max_jobs() -> int:
    """How many jobs may work at once on this server (FACEATLAS_MAX_JOBS, default max(2, cores // 2))."""
    raw = os.environ.get("FACEATLAS_MAX_JOBS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(2, (os.cpu_count() or 2) // 2)


def max_queued() -> int:
    """How many jobs may wait in this server's queue (FACEATLAS_MAX_QUEUED, default 4 per job slot)."""
    raw = os.environ.get("FACEATLAS_MAX_QUEUED", "").strip()
    if raw.isdigit():
        return int(raw)
    return 4 * max_jobs()


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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock held across processes (and threads: each call opens its own descriptor)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def start_job(kind: str, argv: list[str], owner: str | None = None) -> str:
    """Queue `python -m core <argv>` unless the same job is queued or running (then share it); return its id.

    It starts at once when a slot is free (dispatch). owner: who asks (a browser session), for the per-session bound;
    QueueFullError, saying when to try again, when the server's or the owner's queue is full; DiskFullError (a
    sentence for the page) when the server's disk is too full to record the job.
    """
    with said_when_disk_full("the job could not start"):
        return _start_job(kind, argv, owner)


def _start_job(kind: str, argv: list[str], owner: str | None) -> str:
    job_id = job_id_for(kind, argv)
    folder = jobs_root() / job_id
    with _locked(jobs_root() / QUEUE_LOCK):
        current = _status(job_id)
        if current is not None and not current.finished:
            return job_id
        _check_room(owner)
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        write_json(folder / "spec.json", {"kind": kind, "argv": argv, "owner": owner, "queued_since": now})
        write_json(
            folder / "progress.json", {"state": "queued", "done": 0, "total": 0, "message": "queued…", "started": now}
        )
        _dispatch()
    return job_id


@dataclass(frozen=True)
class _Queued:
    job_id: str
    spec: dict


def _jobs_by_state() -> tuple[list[JobStatus], list[_Queued]]:
    """(jobs that have a live process and did not finish, queued jobs that have no process yet, oldest first)."""
    live, queued = [], []
    for folder in jobs_root().iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            spec = json.loads((folder / "spec.json").read_text())
        except (OSError, ValueError):
            continue
        status = _status(folder.name)  # marks a dead job failed and ends what it left behind
        if status is None or status.finished:
            continue
        if spec.get("pid"):
            live.append(status)
        else:
            queued.append(_Queued(folder.name, spec))
    return live, sorted(queued, key=lambda q: float(q.spec.get("queued_since", 0)))


def _check_room(owner: str | None) -> None:
    """QueueFullError when a job asked for now would wait beyond the server's or the owner's bound."""
    live, queued = _jobs_by_state()
    if len(live) < max_jobs() and not queued:
        return  # it starts at once
    mine = [q for q in queued if owner is not None and q.spec.get("owner") == owner]
    if len(queued) < max_queued() and len(mine) < MAX_QUEUED_PER_SESSION:
        return
    left = [s.eta_seconds for s in live if s.eta_seconds is not None]
    when = (
        f"in about {fmt.duration(min(left))}, when the first running job should end"
        if left
        else ("when one of the running jobs has ended")
    )
    if len(mine) >= MAX_QUEUED_PER_SESSION:
        raise QueueFullError(
            f"Your queue is full: {fmt.plural(len(mine), 'job')} you started {'is' if len(mine) == 1 else 'are'} "
            f"waiting for a free slot. Try again {when}, or cancel one of yours."
        )
    raise QueueFullError(
        f"The queue is full: {fmt.count(len(queued))} jobs are waiting and {fmt.count(len(live))} running on this "
        f"server. Try again {when}."
    )


def dispatch() -> None:
    """Start the oldest queued jobs while slots are free, and tell the others where they stand."""
    with _locked(jobs_root() / QUEUE_LOCK):
        _dispatch()


def queued_message(ahead: int) -> str:
    """What a waiting job's progress says: 'queued: 1 job is running on this server (2 queued before it, …)'."""
    running = max_jobs()
    before = f"{fmt.count(ahead)} queued before it, " if ahead else ""
    verb = "is" if running == 1 else "are"
    return f"queued: {fmt.plural(running, 'job')} {verb} running on this server ({before}it starts when one ends)"


def _dispatch() -> None:
    live, queued = _jobs_by_state()
    free = max(0, max_jobs() - len(live))
    for job in queued[:free]:
        _spawn(job)
    waiting = queued[free:]
    for position, job in enumerate(waiting):
        message = queued_message(position)
        progress = jobs_root() / job.job_id / "progress.json"
        try:
            prog = json.loads(progress.read_text())
        except (OSError, ValueError):
            prog = {}
        if prog.get("message") != message and prog.get("state", "queued") == "queued":
            write_json(progress, prog | {"state": "queued", "message": message, "updated": time.time()})


def _spawn(job: _Queued) -> None:
    """Start a queued job's process (in its own session, at low priority); its pid goes into spec.json."""
    folder = jobs_root() / job.job_id
    progress = folder / "progress.json"
    write_json(progress, {"state": "queued", "done": 0, "total": 0, "message": "starting…", "started": time.time()})
    cmd = [sys.executable, "-m", "core", *job.spec["argv"], "--progress-file", str(progress)]
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
    write_json(folder / "spec.json", job.spec | {"pid": proc.pid, "started": time.time()})


def job_status(job_id: str) -> JobStatus | None:
    """Current state of a job, or None if it never existed. A dead job that did not finish is 'failed'; looking at
    a job still waiting in the queue starts the queue's next jobs when slots are free (dispatch)."""
    status = _status(job_id)
    if status is not None and status.state == "queued" and not status.pid:
        dispatch()
        status = _status(job_id)
    return status


def _status(job_id: str) -> JobStatus | None:
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
    if state not in FINAL_STATES and spec.get("pid") and not pid_alive(spec["pid"]):
        state = "failed"
        error = error or "it stopped unexpectedly (the process ended without finishing)"
        stop_leftovers(spec["pid"])  # a job killed with -9 leaves its pool behind: end it before a resume starts
        write_json(folder / "progress.json", prog | {"state": state, "error": error, "updated": time.time()})
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
        log_path=str(folder / "log.txt"),
        left_s=prog.get("left_s"),
        pid=spec.get("pid"),
    )


def cancel_job(job_id: str) -> None:
    """Stop a running job's whole process group (or take a queued one out of the queue); what it wrote atomically
    stays for a resume."""
    folder = jobs_root() / job_id
    with _locked(jobs_root() / QUEUE_LOCK):  # a queued job is not started while it is being cancelled
        _cancel(folder, job_id)
    dispatch()  # its slot, or its place in the queue, goes to the next job


def _cancel(folder: Path, job_id: str) -> None:
    try:
        spec = json.loads((folder / "spec.json").read_text())
        os.killpg(spec["pid"], signal.SIGTERM)
    except (OSError, ValueError, KeyError, TypeError, ProcessLookupError):
        pass
    status = _status(job_id)
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


# ---------------------------------------------------------------- inside a job


def _waiting_ahead(me: Path) -> int:
    """How many live jobs queued before the job whose progress file is `me` are still waiting for a slot."""
    mine = _queued_since(me) or time.time()
    ahead = 0
    for folder in jobs_root().iterdir():
        progress = folder / "progress.json"
        if progress == me:
            continue
        since = _queued_since(progress)
        try:
            pid = json.loads((folder / "spec.json").read_text()).get("pid")
        except (OSError, ValueError):
            continue
        if since is not None and since < mine and pid and pid_alive(pid):
            ahead += 1
    return ahead


def _queued_since(progress: Path) -> float | None:
    try:
        prog = json.loads(progress.read_text())
    except (OSError, ValueError):
        return None
    return float(prog["queued_since"]) if prog.get("state") == "queued" and "queued_since" in prog else None


def acquire_slot(progress_file: str | Path | None) -> int | None:
    """Block until this process holds one of the server's job slots; returns the lock's descriptor.

    The slot is an flock on cache/jobs/.slots/<k>.lock, released by the OS when the process ends however it
    ends. While waiting, the job's progress says it is queued and how many jobs are ahead of it.
    """
    if progress_file is None:
        return None
    me = Path(progress_file)
    slots = jobs_root() / ".slots"
    slots.mkdir(exist_ok=True)
    queued_since = time.time()
    while True:
        if _waiting_ahead(me) == 0:
            for k in range(max_jobs()):
                fd = os.open(slots / f"{k}.lock", os.O_CREAT | os.O_RDWR, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    os.close(fd)
        message = queued_message(_waiting_ahead(me))
        state = {"state": "queued", "done": 0, "total": 0, "message": message, "queued_since": queued_since}
        write_json(me, state | {"started": queued_since, "updated": time.time()})
        time.sleep(QUEUE_POLL_S)


class ProgressReporter:
    """Used inside a job (or any long CLI command) to publish progress; a no-op without a file."""

    def __init__(self, path: str | Path | None, total: int = 0, min_interval: float = 0.5):
        self.path = Path(path) if path else None
        self.total = total
        self.min_interval = min_interval
        self.started = time.time()
        self._last = 0.0
        self._done_at_start: int | None = None

    def update(
        self, done: int, message: str = "", total: int | None = None, force: bool = False, left_s: float | None = None
    ) -> None:
        """Publish done of total (at most every min_interval unless forced); left_s: the job's own estimate."""
        if total is not None:
            self.total = total
        if self._done_at_start is None:
            self._done_at_start = done
        now = time.time()
        if self.path is None or (not force and now - self._last < self.min_interval):
            return
        self._last = now
        self._write("running", done, message, **({} if left_s is None else {"left_s": left_s}))

    def finish(self, result: dict | None = None, message: str = "done") -> None:
        self._write("done", self.total, message, result=result)

    def fail(self, error: str) -> None:
        """Mark the job failed with a plain sentence for the user (details belong in the log)."""
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
