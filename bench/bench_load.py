"""A classroom on one server: N browser sessions click through every page at once.

One local `streamlit run Home.py` serves a generated demo; one Debian chromium holds one browser
context (= one user, one Streamlit session) per user. Each user opens Home, then clicks every page
in the sidebar, `--rounds` times. The time of a page is from the click (or navigation) until the
page shows its title and has settled: the script run finished, nothing spins or is stale, and the
main area has stopped changing (the moment it first reached its final state is what is reported).

Scenarios: 1 user (the baseline), N users, and N users while a CPU-bound "job" (one busy Python
process per core, like an embedding job's workers) runs beside the server, at the server's priority
(what core.jobs does today: a session of its own) and niced by 10 (process and autogroup). Server memory: VmRSS of the server and its children,
sampled every 0.25 s (peak reported), and the server's own VmHWM.

    python -m bench.bench_load [--users 10 30] [--rounds 1] [--images 6000] [--no-job]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.common import fmt_s, table, write_section
from core.data.ingest import open_dataset
from core.demo import DEFAULT_IMAGES, generate_demo
from tests.browser_support import APP_PAGES, CHROMIUM, IDLE_JS, is_idle, launch_chromium, start_server, stop_server

log = logging.getLogger(__name__)

SLOW = True  # minutes; bench.run_all --skip-slow leaves it out
PAGE_TIMEOUT_S = 180  # one page for one user; a scenario is bounded by users × pages × this
SETTLE_S = 1.0  # unchanged this long after reaching idle = done
POLL_S = 0.15
ARRIVAL_SPREAD_S = 1.0  # users arrive within this window (a teacher says "open the app now")
VIEWPORT = {"width": 1280, "height": 800}
BURN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


# ---------------------------------------------------------------- server memory from /proc


def status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_mb(pid: int) -> float:
    """A process's resident memory in MB (0 once it is gone)."""
    return status_kb(pid, "VmRSS") / 1024


def descendants(pid: int) -> list[int]:
    """pid and every process below it (from /proc/*/stat parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, including reaped children) of a process tree so far."""
    ticks = 0
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def browser_cpu_s() -> float:
    """CPU seconds of this process's Playwright driver trees (the driver and the chromium it runs)."""
    total = 0.0
    for p in descendants(os.getpid())[1:]:
        try:
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            continue
        if b"playwright" in cmdline and b"run-driver" in cmdline:
            total += tree_cpu_s(p)
    return total


class MemoryWatch(threading.Thread):
    """Samples the summed VmRSS (MB) of a process tree until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_mb = 0.0
        self._stop_event = threading.Event()

    def tree_rss_mb(self) -> float:
        return sum(status_kb(p, "VmRSS") for p in descendants(self.pid)) / 1024

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_mb = max(self.peak_mb, self.tree_rss_mb())
            self._stop_event.wait(self.interval)

    def stop(self) -> float:
        self._stop_event.set()
        self.join(5)
        return self.peak_mb


# ---------------------------------------------------------------- one user


@dataclass
class Visits:
    times: dict[str, list[float]] = field(default_factory=lambda: {path: [] for path, _ in APP_PAGES})
    errors: list[str] = field(default_factory=list)


async def settle(page, t0: float, title: str) -> float:
    """Seconds from t0 until the page showed `title` and reached the state it then kept for SETTLE_S."""
    await page.locator("h1").filter(has_text=title).first.wait_for(timeout=PAGE_TIMEOUT_S * 1000)
    deadline = t0 + PAGE_TIMEOUT_S
    last, since = None, time.perf_counter()
    while time.perf_counter() < deadline:
        state = await page.evaluate(IDLE_JS)
        now = time.perf_counter()
        if state != last:
            last, since = state, now
        elif is_idle(state) and now - since >= SETTLE_S:
            return since - t0
        await asyncio.sleep(POLL_S)
    raise TimeoutError(f"{title} did not settle in {PAGE_TIMEOUT_S}s")


async def user(browser, base: str, rounds: int, visits: Visits, delay: float) -> None:
    """One student: open Home, then click every page in the sidebar, `rounds` times."""
    context = await browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_S * 1000)
    context.set_default_navigation_timeout(PAGE_TIMEOUT_S * 1000)
    page = await context.new_page()
    await asyncio.sleep(delay)
    try:
        for r in range(rounds):
            for path, title in APP_PAGES:
                t0 = time.perf_counter()
                if r == 0 and path == "":
                    await page.goto(f"{base}/?dataset=demo", wait_until="domcontentloaded")
                else:
                    link = page.locator(f'[data-testid="stSidebarNavLink"][href="{base}/{path}"]')
                    await link.click(timeout=PAGE_TIMEOUT_S * 1000)
                visits.times[path].append(await settle(page, t0, title))
                shown = await page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count()
                if shown:
                    visits.errors.append(f"{path or 'Home'}: {shown} exception/error boxes")
    except Exception as exc:  # a failed user is reported, not fatal for the others
        visits.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await context.close()


# ---------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    label: str
    users: int
    job: str | None = None  # None | "job" | "niced job"


@dataclass
class Outcome:
    scenario: Scenario
    visits: Visits
    wall_s: float
    rss_idle_mb: float
    rss_peak_mb: float
    hwm_mb: float
    server_cpu_s: float
    browser_cpu_s: float


def lower_priority(nice: int = 10) -> None:
    """In a child process: nice it, and its autogroup too (with sched_autogroup a new session is its own
    group and per-process nice alone does not yield CPU to other sessions). Errors are ignored."""
    os.nice(nice)
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(nice))


def start_burners(seconds: float, nice: int) -> list[subprocess.Popen]:
    """One CPU-bound Python process per core in a session of its own, as core.jobs starts a job (whose
    workers would each take a core); they end by themselves after `seconds`."""
    preexec = (lambda: lower_priority(nice)) if nice else None
    return [
        subprocess.Popen(
            [sys.executable, "-c", BURN.format(seconds=seconds)],
            preexec_fn=preexec,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(os.cpu_count() or 1)
    ]


def stop_burners(burners: list[subprocess.Popen]) -> None:
    for proc in burners:
        if proc.poll() is None:
            proc.terminate()
    for proc in burners:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


async def drive(base: str, users: int, rounds: int) -> tuple[Visits, float, float]:
    """Run the users; (visits, wall seconds, CPU seconds the browser side used)."""
    from playwright.async_api import async_playwright

    visits = Visits()
    rng = random.Random(users)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw.chromium)
        t0, cpu0 = time.perf_counter(), browser_cpu_s()
        budget = PAGE_TIMEOUT_S * len(APP_PAGES) * rounds + 60
        tasks = [user(browser, base, rounds, visits, rng.uniform(0, ARRIVAL_SPREAD_S)) for _ in range(users)]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=budget)
        wall, cpu = time.perf_counter() - t0, browser_cpu_s() - cpu0
        await browser.close()
    return visits, wall, cpu


def run_scenario(home: Path, scenario: Scenario, rounds: int, logs: Path) -> Outcome:
    """A fresh server, one unmeasured warm-up visit of every page, then the scenario's users."""
    proc, base = start_server(home, logs / f"streamlit-{scenario.users}-{scenario.job or 'nojob'}.log")
    burners: list[subprocess.Popen] = []
    try:
        asyncio.run(drive(base, 1, 1))  # warm-up: imports, dataset load into the shared cache
        watch = MemoryWatch(proc.pid)
        rss_idle = watch.tree_rss_mb()
        watch.start()
        server_cpu0 = tree_cpu_s(proc.pid)
        if scenario.job:
            burners = start_burners(PAGE_TIMEOUT_S * len(APP_PAGES) * rounds, 10 if "niced" in scenario.job else 0)
        visits, wall, client_cpu = asyncio.run(drive(base, scenario.users, rounds))
        server_cpu = tree_cpu_s(proc.pid) - server_cpu0
        stop_burners(burners)
        peak = watch.stop()
        hwm = status_kb(proc.pid, "VmHWM") / 1024
    finally:
        stop_burners(burners)
        stop_server(proc)
    print(f"{scenario.label}: {wall:.1f}s wall, peak RSS {peak:.0f} MB, errors {len(visits.errors)}", flush=True)
    return Outcome(scenario, visits, wall, rss_idle, peak, hwm, server_cpu, client_cpu)


# ---------------------------------------------------------------- report


def median_p95(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{fmt_s(statistics.median(values))} / {fmt_s(float(np.percentile(values, 95)))}"


def report(outcomes: list[Outcome], images: int, rounds: int, load: tuple[float, float]) -> str:
    headers = ["Page"] + [o.scenario.label for o in outcomes]
    rows = []
    for path, title in APP_PAGES:
        rows.append([title] + [median_p95(o.visits.times[path]) for o in outcomes])
    all_times = [[t for ts in o.visits.times.values() for t in ts] for o in outcomes]
    rows.append(["**all pages**"] + [median_p95(ts) for ts in all_times])
    summary = []
    for o, ts in zip(outcomes, all_times):
        per_session = (o.rss_peak_mb - o.rss_idle_mb) / max(o.scenario.users, 1)
        visits = max(len(ts), 1)
        summary.append(
            [
                o.scenario.label,
                len(ts),
                len(o.visits.errors),
                fmt_s(o.wall_s),
                f"{o.rss_idle_mb:.0f} MB",
                f"{o.rss_peak_mb:.0f} MB",
                f"{o.hwm_mb:.0f} MB",
                f"{per_session:.1f} MB",
                fmt_s(o.server_cpu_s / visits),
                fmt_s(o.browser_cpu_s / visits),
            ]
        )
    errors = sorted({e for o in outcomes for e in o.visits.errors})
    base = outcomes[0].visits.times
    base_all = statistics.median([t for ts in base.values() for t in ts]) if any(base.values()) else float("nan")
    lines = [
        f"One `streamlit run Home.py` on the generated demo ({images:,} images), users = browser contexts in one "
        f"Debian chromium, each opening Home and clicking every page in the sidebar ({rounds} round(s)). "
        "A page's time runs from the click until it shows its title and has settled (script run finished, "
        f"nothing spinning or stale, main area unchanged for {SETTLE_S:.0f} s; the moment it first reached that "
        "state is reported). The browser runs on the same machine as the server, so its rendering competes "
        "for the same cores. *job*: one CPU-bound Python process per core runs beside the server, as an "
        "embedding or training job started through core.jobs does (*niced job*: the same at nice +10).",
        "",
        "Median / 95th percentile per page, against the single-user baseline in the first column:",
        "",
        table(headers, rows),
        "",
        table(
            [
                "Scenario",
                "Page visits",
                "Errors",
                "Wall",
                "Server RSS idle",
                "Peak RSS (tree, sampled)",
                "Server VmHWM",
                "Peak growth per session",
                "Server CPU per visit",
                "Browser CPU per visit",
            ],
            summary,
        ),
        "",
        "CPU per visit is the CPU time the server process (and its children) and the browser side (Playwright's "
        "driver and chromium) spent during the scenario, divided by the page visits: unlike the times above it "
        "does not depend on how busy the machine was, and it shows which side the wall time went to.",
        "",
        f"Single-user median over all pages: {fmt_s(base_all)}. Machine load average (1 min) at the start and "
        f"end of the run: {load[0]:.1f} and {load[1]:.1f} on {os.cpu_count()} cores; the machine was shared, "
        "so read the numbers as ratios to the baseline column rather than as absolute times.",
    ]
    if errors:
        lines += ["", "Errors seen:", "", *[f"- {e}" for e in errors[:20]]]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--rounds", type=int, default=1, help="times each user clicks through all pages")
    parser.add_argument("--images", type=int, default=None, help="demo size (default: the app's default demo)")
    parser.add_argument("--no-job", action="store_true", help="skip the scenarios with a CPU-bound job")
    parser.add_argument("--name", default="load", help="docs/bench/<name>.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not CHROMIUM.exists():
        print(f"chromium not found at {CHROMIUM}; install it (make browser) to run this benchmark", file=sys.stderr)
        return 1
    images = args.images or DEFAULT_IMAGES
    scenarios = [Scenario("1 user", 1)]
    for n in args.users:
        scenarios.append(Scenario(f"{n} users", n))
        if not args.no_job and n == min(args.users):
            scenarios += [Scenario(f"{n} users + job", n, "job"), Scenario(f"{n} users + niced job", n, "niced job")]
    with tempfile.TemporaryDirectory(prefix="faceatlas-load-") as tmp:
        home = Path(tmp)
        os.environ["FACEATLAS_HOME"], os.environ["FACEATLAS_CACHE"] = str(home), str(home / "cache")
        t0 = time.perf_counter()
        generate_demo(home / "data" / "demo", n_images=images, seed=0)
        open_dataset(home / "data" / "demo", name="demo")  # ingested once, as `make run` leaves it
        print(f"demo of {images:,} images ready in {time.perf_counter() - t0:.1f}s", flush=True)
        load_start = os.getloadavg()[0]
        outcomes = [run_scenario(home, s, args.rounds, home / "logs") for s in scenarios]
    load = (load_start, os.getloadavg()[0])
    write_section(args.name, "Many users on one server", report(outcomes, images, args.rounds, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
