"""Process helpers with no dependencies beyond the standard library (worker processes import this first)."""

from __future__ import annotations

import os
import threading
import time


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie child of ours is reaped and counts as gone)."""
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


def exit_with_parent(parent_pid: int, interval_s: float = 1.0) -> None:
    """In a worker process: exit as soon as `parent_pid` is gone (a job killed with -9 leaves no workers)."""

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if not pid_alive(parent_pid) or os.getppid() == 1:
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
