"""Shared helpers for bench scripts: timing, machine description, writing a docs/bench section."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SECTIONS = PROJECT / "docs" / "bench"
SHARED = PROJECT.parent / "shared"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> tuple[float, object]:
    """Median wall seconds over `repeat` runs after `warmup`; returns (median, last result)."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def table(headers: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def write_section(name: str, title: str, body: str) -> Path:
    """Write docs/bench/<name>.md; bench/run_all.py assembles docs/BENCHMARKS.md from these."""
    SECTIONS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    path = SECTIONS / f"{name}.md"
    path.write_text(f"## {title}\n\n_Measured {stamp} on {machine()}._\n\n{body.strip()}\n")
    print(path.read_text())
    return path
