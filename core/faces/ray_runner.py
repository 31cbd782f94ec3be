"""The embedding job's chunks as Ray tasks, on a private local Ray instance or on a Ray cluster.

The driver (`python -m core embed DATASET --ray`) submits one task per chunk, a few per CPU at a time, and
yields each chunk's vectors as they arrive; it alone writes chunks to disk (core.faces.embed_job), so a killed
job resumes exactly as with local workers. Workers read the images themselves: every node must see the dataset
folder at the same path (a shared mount) and run the same Python environment. The `core` package travels to
the workers with the connection (Ray's py_modules), so nodes need no checkout of the project.
Ray is imported lazily: it is heavy, optional (requirements-ray.txt) and the app itself never needs it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ClusterError, FaceAtlasError

log = logging.getLogger(__name__)

CORE_DIR = Path(__file__).resolve().parent.parent
# Offline and quiet: no usage statistics are sent, no dashboard is served.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}
LOCAL_OBJECT_STORE_BYTES = 128 << 20  # chunk results are a few kB; don't reserve 30% of RAM for them
TASKS_PER_CPU = 2  # queued ahead so a CPU never waits for the driver, few enough that a cancel stops little
CONNECT_TIMEOUT_S = 10
TASK_NAME = "faceatlas-embed-chunk"  # what `ray status` and the workers' log lines call the tasks
INSTALL_HINT = "Ray is not installed: `pip install -r requirements-ray.txt` (every node needs it too)."


@dataclass(frozen=True)
class RayTarget:
    """Where the chunks run: address None = a private local Ray instance (or this process's connection); else a cluster."""

    address: str | None = None  # "auto" (a cluster started on this machine), "ray://head:10001", "head:6379"

    @classmethod
    def from_flag(cls, value: str | None) -> RayTarget:
        """`--ray` with no value uses RAY_ADDRESS when set, else a local instance; "local" forces one."""
        value = (value or os.environ.get("RAY_ADDRESS") or "").strip()
        return cls(None if value in ("", "local") else value)

    @property
    def where(self) -> str:
        return f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"


def _import_ray():
    os.environ.update(RAY_ENV)  # before Ray reads it, and inherited by the local instance's processes
    try:
        import ray
    except ImportError as exc:
        raise ClusterError(INSTALL_HINT) from exc
    return ray


@contextmanager
def connected(target: RayTarget, cpus: int | None = None) -> Iterator[Any]:
    """The ray module, connected to `target` with `core` shipped to its workers.

    A local target uses the connection this process already has, if any (a notebook's, a test's), and leaves it open.
    """
    ray = _import_ray()
    if target.address is None and ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        "runtime_env": {"py_modules": [str(CORE_DIR)], "excludes": ["__pycache__"]},
    }
    if target.address is None:
        options |= {"address": "local", "num_cpus": cpus, "object_store_memory": LOCAL_OBJECT_STORE_BYTES}
    else:
        _check_reachable(target)
        options |= {"address": target.address}
    try:
        ray.init(**options)
    except Exception as exc:  # Ray raises a bare Exception when a local node misses its start-up deadline
        log.warning("ray.init(%s) failed: %s", options.get("address"), exc)
        ray.shutdown()
        if target.address is None:
            raise ClusterError(
                "A local Ray instance did not start in time: Ray gives its processes fixed start-up deadlines, "
                "which a busy machine (or a background job's lowered priority) can miss. Run the job again when the "
                "machine is less busy (it resumes), or run it without Ray."
            ) from exc
        raise ClusterError(
            f"Could not connect to the Ray cluster at {target.address}. Check the address, and that the cluster "
            "runs Ray 2.60.0 (README, Scaling out); a cluster with token authentication, Ray's default, also "
            "needs RAY_AUTH_MODE=token here and the head's ~/.ray/auth_token on this machine."
        ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(target: RayTarget) -> None:
    """Fail fast on an address nothing answers at (Ray itself keeps retrying for minutes)."""
    host, _, port = target.address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(
            f"Nothing answers at {target.address} ({exc.strerror or exc}). Start the cluster's head with "
            "`ray start --head` (README, Scaling out) and check the address and the firewall."
        ) from None


def cluster_cpus(target: RayTarget) -> int:
    """CPUs the job can use: this machine's for a local instance, the whole cluster's otherwise."""
    if target.address is None:
        return os.cpu_count() or 1
    with connected(target) as ray:
        return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _on_node(fn: Callable, shared_dir: str, args: tuple) -> Any:
    """Runs in a Ray worker: fail loudly when this node does not see the images (else every row is 'unreadable')."""
    if not os.path.isdir(shared_dir):
        raise ClusterError(
            f"Ray node {socket.gethostname()} does not see {shared_dir}. Mount the dataset at the same path on "
            "every node (shared storage), then run the job again: it resumes."
        )
    return fn(*args)


def run_tasks(
    target: RayTarget, fn: Callable, jobs: dict[int, tuple], workers: int, shared_dir: Path
) -> Iterator[tuple[int, Any]]:
    """Yield (key, fn(*args)) for each of `jobs` as its Ray task finishes; at most 2 tasks per worker queued.

    shared_dir is the folder every node must see. Leaving early (an error, the caller stops) cancels the
    tasks still queued or running.
    """
    if not jobs:
        return
    with connected(target, cpus=workers) as ray:
        task = ray.remote(num_cpus=1)(_on_node).options(name=TASK_NAME)
        queue = list(jobs.items())
        pending: dict[Any, int] = {}
        try:
            while queue or pending:
                while queue and len(pending) < TASKS_PER_CPU * workers:
                    key, args = queue.pop(0)
                    pending[task.remote(fn, str(shared_dir), args)] = key
                ready, _ = ray.wait(list(pending), num_returns=1)
                key = pending.pop(ready[0])
                yield key, _result(ray, ready[0], key)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


def _result(ray, ref, key: int) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, FaceAtlasError):
            raise exc.cause from None
        raise ClusterError(
            f"A Ray task failed on chunk {key} ({type(exc.cause).__name__}: {exc.cause}). "
            "The chunks done so far are kept: run the job again to resume."
        ) from exc
    except ray.exceptions.RayError as exc:
        raise ClusterError(
            f"Ray lost chunk {key} ({type(exc).__name__}: {exc}). The chunks done so far are kept: "
            "run the job again to resume."
        ) from exc
