"""Process helpers with no dependencies beyond the standard library (worker processes import this first)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, ...), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs; a zombie (dead, not yet reaped) counts as gone, and is reaped if ours."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _proc_stat(pid)
    if fields is not None and fields[0] not in ("Z", "X"):
        return True
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == 0 and fields is None
    except ChildProcessError:
        return fields is None  # not ours: alive unless /proc says it is a zombie


def stop_leftovers(group: int, sig: int = signal.SIGKILL) -> int:
    """Kill what is left of a dead job's session (pool workers, forkserver, resource tracker, a local Ray).

    A job is started as the leader of a new session, so its leftovers are the processes whose session and
    process group are the dead job's pid; nothing else is touched. Returns how many were signalled.
    """
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        fields = _proc_stat(int(entry.name))
        if fields is None or fields[0] in ("Z", "X") or int(fields[2]) != group or int(fields[3]) != group:
            continue
        try:
            os.kill(int(entry.name), sig)
            killed += 1
        except (OSError, ProcessLookupError):
            continue
    return killed


def exit_with_parent(parent_pid: int, interval_s: float = 1.0) -> None:
    """In a worker process: exit as soon as `parent_pid` is gone (a job killed with -9 leaves no workers)."""

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if not pid_alive(parent_pid) or os.getppid() == 1:
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def worker_pool(workers: int, method: str = "forkserver") -> ProcessPoolExecutor:
    """A process pool whose workers exit with this process: every pool FaceAtlas starts is made here.

    forkserver by default, not fork: a parent that already ran torch (a test, a notebook) would hand forked workers
    a locked OpenMP thread pool. Each worker watches this process (exit_with_parent), so a command killed with -9
    leaves no workers; the forkserver and the resource tracker end by themselves when their pipes close. Create it
    and submit its first tasks inside plain_main().
    """
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context(method), initializer=exit_with_parent, initargs=(os.getpid(),)
    )


@contextmanager
def plain_main() -> Iterator[None]:
    """Start worker processes (spawn, forkserver) that do not run the caller's main script first.

    multiprocessing starts a spawned or forkserver worker by re-importing the parent's __main__ from its file.
    Under `streamlit run` or an AppTest that file is a page, so each worker would run the page (the fresh
    deploy that hung on its first visit did exactly that). Inside this block __main__ is a bare module with no
    file; create the pool and submit its first tasks here.
    """
    real = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if real is not None:
            sys.modules["__main__"] = real


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota (a container's share).

    A hosted container can see 8 cores yet be allowed a fraction of one; workers beyond the quota only cost memory.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def map_in_threads(fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """fn(item) for each item, in order, computed in one thread per usable core, each with single-threaded BLAS.

    numpy's matrix products release the GIL, so the threads fill the cores. Left alone, OpenBLAS spreads every
    product over all cores, and on a busy machine its threads spin against each other (a gradient product of the
    classifier's fits: 7.2 s with them, 0.17 s on one thread).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(usable_cores()) as pool:
        yield from pool.map(fn, items)
