"""A class of 30 on one small server: every student takes the same lesson at once, on Community Cloud's limits.

One `streamlit run Home.py` serves the default demo with its face embeddings (the app as a teacher leaves it
before class: drawn, embeddings computed, the lesson's classifier not trained yet), in a memory cgroup capped at
2.7 GB (Community Cloud's largest plan) where the machine lets us make one. The teacher opens the lesson link
once (not measured), then the students come:

- every student opens the teacher's link to the lesson (`Lessons?dataset=demo&lesson=base-rates&step=1`), all
  within --arrival seconds, and takes every step: Next step, the step's link to its page view, back to the lesson
  through the sidebar, Reveal the answer; before each action a think time drawn from 5-20 s (seeded per student);
- the first two students open the teacher's link to the step that needs the lesson's classifier and both press
  "Train the lessons' classifier" at the same moment (one job must serve both), then walk back to step 1;
- the third uploads a photo on Face search after the second step (one of ../shared's wild photos, else a demo
  image). Alone (the baseline, in the same run on a fresh server), the one student does all of that.

Students are Streamlit websocket clients (tests/streamlit_client.py), not browser contexts: a client sends and
receives what the page's frontend would (reruns with the page, its query string and widget states; fragments'
auto-reruns; the upload's PUT; the page's HTML, scripts, styles and images once per session), so the server does
the same work (server CPU per session: 0.25 s for a client, 0.27 s for a browser, measured). A headless Chromium
context costs this 2-core machine about 100 times the client CPU (5 s against 0.04 s for opening the lesson and
revealing one answer) and about 190 MB against 0.3 MB per student (--compare-clients measures it on the same
server), so 30 browsers would measure Chromium competing with the server for the same two cores rather than the
server; what the clients leave out is rendering, which happens on the students' own machines.

Per interaction: seconds from the action until the last script run it caused has finished (the page is idle),
its errors (exception boxes, st.error alerts) and reconnects. Memory: RSS of the server and of the server with its
job processes, sampled every 0.5 s; per session: the server's RSS growth with every student still connected,
divided by the students. CPU: seconds the server process spent per interaction (unlike times, not inflated by
what else runs on the machine). Tracebacks: in the server's log and the jobs' logs.

    python -m bench.bench_class [--students 30] [--json] [--think 5 20] [--arrival 60] [--demo PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.bench_load import browser_cpu_s, descendants, settle, status_kb, tree_cpu_s
from bench.common import SHARED, fmt_s, table, write_section
from core.demo import DEFAULT_IMAGES, generate_demo
from core.lessons.catalogue import LESSONS
from core.lessons.model import Lesson
from tests.browser_support import CHROMIUM, launch_chromium, start_server, stop_server
from tests.streamlit_client import StreamlitClient

SLOW = True  # about 17 minutes (the class, one student alone, the comparison); bench.run_all --skip-slow leaves it out
LESSON = "base-rates"
MEMORY_CAP_BYTES = int(2.7e9)  # Community Cloud's largest app (690 MB to 2.7 GB)
SAMPLE_S = 0.5
MODEL_WAIT_S = 300.0  # a student waiting longer than this for the lesson's classifier counts it as an error
WILD_PHOTOS = SHARED / "real" / "celeba_wild_sample"


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- memory: a cgroup cap and samples over time


class MemoryCap:
    """A memory cgroup under this process's own (cgroup v1 or v2) holding the server and the jobs it starts.

    Only made where the machine lets this process create a child of its own cgroup; `create` returns None
    otherwise (the run then says it was not capped).
    """

    def __init__(self, folder: Path, v2: bool):
        self.folder, self.v2 = folder, v2

    @classmethod
    def create(cls, limit_bytes: int, name: str) -> MemoryCap | None:
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        v1 = [path for _, controllers, path in (x.split(":", 2) for x in lines) if "memory" in controllers.split(",")]
        v2 = [x[3:] for x in lines if x.startswith("0::")]
        if v1:
            parent, unified = Path("/sys/fs/cgroup/memory") / v1[0].lstrip("/"), False
        elif v2:
            parent, unified = Path("/sys/fs/cgroup") / v2[0].lstrip("/"), True
        else:
            return None
        folder = parent / name
        try:
            folder.mkdir(exist_ok=True)
            (folder / ("memory.max" if unified else "memory.limit_in_bytes")).write_text(str(limit_bytes))
        except OSError:
            with contextlib.suppress(OSError):
                folder.rmdir()
            return None
        return cls(folder, unified)

    def add(self, pid: int) -> None:
        (self.folder / "cgroup.procs").write_text(str(pid))

    def peak_mb(self) -> float | None:
        """Highest memory the cgroup was charged (RSS and page cache), as the limit counts it."""
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        try:
            return int((self.folder / name).read_text()) / 2**20
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        try:
            text = (self.folder / ("memory.events" if self.v2 else "memory.oom_control")).read_text()
        except OSError:
            return 0
        counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", 0))

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.folder.rmdir()


class MemorySeries(threading.Thread):
    """RSS of the server process and of its whole tree (jobs included), in MB, every SAMPLE_S until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float, float]] = []  # (seconds since start, server, tree)
        self.cpu_s = 0.0  # what sampling cost this process (left out of the clients' CPU)
        self._stop_event = threading.Event()

    def sample(self) -> tuple[float, float]:
        server = status_kb(self.pid, "VmRSS") / 1024
        tree = sum(status_kb(p, "VmRSS") for p in descendants(self.pid)) / 1024
        return server, tree

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self._stop_event.is_set():
            self.samples.append((time.perf_counter() - t0, *self.sample()))
            self.cpu_s = time.thread_time()
            self._stop_event.wait(SAMPLE_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)

    @property
    def peak_server_mb(self) -> float:
        return max((s for _, s, _ in self.samples), default=0.0)

    @property
    def peak_tree_mb(self) -> float:
        return max((t for _, _, t in self.samples), default=0.0)


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of one process (all its threads), not its children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the students


@dataclass(frozen=True)
class Role:
    trains: bool = False  # opens the classifier's step first and presses Train
    uploads: bool = False  # uploads a photo on Face search after the second step


def class_roles(students: int) -> list[Role]:
    """Students 1 and 2 train (the same job), student 3 uploads; alone, the one student does both."""
    if students == 1:
        return [Role(trains=True, uploads=True)]
    roles = [Role(trains=k < 2, uploads=k == 2) for k in range(students)]
    if students == 2:
        roles[1] = Role(trains=True, uploads=True)
    return roles


@dataclass(frozen=True)
class Record:
    student: int
    action: str
    seconds: float
    runs: int
    errors: tuple[str, ...]
    reconnects: int
    at: float  # seconds since the class began


@dataclass
class ClassLog:
    records: list[Record] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # a student who could not go on
    waits: list[float] = field(default_factory=list)  # seconds students waited for the lesson's classifier
    auto_runs: int = 0  # fragments' auto-reruns the clients answered (job panels)
    reconnects: int = 0


@dataclass(frozen=True)
class Plan:
    lesson: Lesson
    think_s: tuple[float, float]
    arrival_s: float
    seed: int
    photo: Path


def model_step(lesson: Lesson) -> int | None:
    """The first step (1-based) that reads the lesson's classifier (its page is Attribute classifiers)."""
    return next((k for k, s in enumerate(lesson.steps, 1) if s.page == "classifiers"), None)


async def student(index: int, role: Role, base: str, plan: Plan, log: ClassLog, t0: float, shared: dict) -> None:
    """One student through one lesson; every action is recorded, a failure ends this student only."""
    rng = random.Random(plan.seed * 1000 + index)
    lesson = plan.lesson
    client = StreamlitClient(base)

    async def act(coro) -> None:
        at = time.perf_counter() - t0
        done = await coro
        log.records.append(Record(index, done.action, done.seconds, done.runs, done.errors, done.reconnects, at))

    async def think() -> None:
        await asyncio.sleep(rng.uniform(*plan.think_s))

    link = f"dataset=demo&lesson={lesson.id}&step="
    train_step = model_step(lesson)
    try:
        await asyncio.sleep(shared["train_arrival"] if role.trains else rng.uniform(0, plan.arrival_s))
        if role.trains and train_step:
            await act(client.open("Lessons", f"{link}{train_step}"))
            await asyncio.sleep(shared["train_think"])  # both trainers press at the same moment
            if client.has_widget("button", "lesson-train"):
                await act(client.click("lesson-train"))
            for _ in range(train_step - 1):
                await think()
                await act(client.click("lesson-prev"))
        else:
            await act(client.open("Lessons", f"{link}1"))
        for step in range(1, len(lesson.steps) + 1):
            if step > 1:
                await think()
                await act(client.click("lesson-next"))
            await think()
            view = next(p for p in client.page_links() if p.label.startswith("Open "))
            await act(client.follow(view))
            await think()
            await act(client.navigate("Lessons"))
            if role.uploads and step == 2:
                await think()
                await act(client.navigate("Face_search"))
                await think()
                await act(client.upload("fs-upload", plan.photo.name, plan.photo.read_bytes(), "image/jpeg"))
                await think()
                await act(client.navigate("Lessons"))
            await think()
            reveal = f"lesson-reveal-{lesson.id}-{step}"
            waited = time.perf_counter()
            while not client.has_widget("button", reveal):  # the classifier is still training: its panel refreshes
                if time.perf_counter() - waited > MODEL_WAIT_S:
                    raise TimeoutError(f"step {step}: no answer to reveal after {MODEL_WAIT_S:.0f} s")
                await asyncio.sleep(1.0)
            if time.perf_counter() - waited > 0.5:
                log.waits.append(time.perf_counter() - waited)
            await act(client.click(reveal))
    except Exception as exc:  # reported, never fatal for the other students
        first_line = (str(exc).splitlines() or [""])[0][:200]
        log.failures.append(f"student {index + 1}: {type(exc).__name__}: {first_line}")
    finally:
        shared["finish"]()
        await shared["class_over"].wait()  # everyone stays connected until the last student is done
        log.auto_runs += client.auto_runs
        log.reconnects += client.reconnects
        shared.setdefault("clients", []).append(client)


async def run_class(base: str, students: int, plan: Plan, on_all_done) -> tuple[ClassLog, float]:
    """All students at once; on_all_done() is called once every student is done and still connected. (log, wall s)"""
    log = ClassLog()
    rng = random.Random(plan.seed)
    all_done, class_over = asyncio.Event(), asyncio.Event()
    finished = []

    def finish() -> None:
        finished.append(1)
        if len(finished) == students:
            all_done.set()

    shared = {
        "train_arrival": rng.uniform(0, plan.arrival_s),
        "train_think": rng.uniform(*plan.think_s),
        "finish": finish,
        "class_over": class_over,
    }
    t0 = time.perf_counter()
    roles = class_roles(students)

    async def release() -> None:
        await all_done.wait()
        await asyncio.sleep(2.0)  # the last runs' messages are sent and the server settles before it is measured
        on_all_done()
        class_over.set()

    await asyncio.gather(release(), *(student(k, roles[k], base, plan, log, t0, shared) for k in range(students)))
    wall = time.perf_counter() - t0
    for client in shared.get("clients", []):
        with contextlib.suppress(Exception):
            await client.close()
    return log, wall


async def teacher_visit(base: str, lesson: Lesson) -> None:
    """The teacher checks the lesson before class: its link, and every step's view (answers stay unrevealed)."""
    teacher = StreamlitClient(base)
    await teacher.open("Lessons", f"dataset=demo&lesson={lesson.id}&step=1")
    for step in range(1, len(lesson.steps) + 1):
        if step > 1:
            await teacher.click("lesson-next")
        await teacher.follow(next(p for p in teacher.page_links() if p.label.startswith("Open ")))
        await teacher.navigate("Lessons")
    await teacher.close()


# ---------------------------------------------------------------- comparing the two kinds of client


async def _ws_visits(base: str, k: int, lesson: Lesson) -> None:
    clients = [StreamlitClient(base) for _ in range(k)]
    for client in clients:
        await client.connect()

    async def visit(client: StreamlitClient) -> None:
        await client.open("Lessons", f"dataset=demo&lesson={lesson.id}&step=1")
        await client.click(f"lesson-reveal-{lesson.id}-1")

    await asyncio.gather(*(visit(c) for c in clients))
    for client in clients:
        await client.close()


async def _browser_visits(base: str, k: int, lesson: Lesson) -> tuple[float, float]:
    """k Chromium contexts open the lesson and reveal step 1; returns what the browser side grew by once launched:
    (MB of proportional memory, CPU seconds), measured before it closes (its processes are gone after)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await launch_chromium(pw.chromium)
        mb0, cpu0 = _browser_pss_mb(), browser_cpu_s()
        contexts = [await browser.new_context(viewport={"width": 1280, "height": 800}) for _ in range(k)]

        async def visit(context) -> None:
            page = await context.new_page()
            t0 = time.perf_counter()
            await page.goto(f"{base}/Lessons?dataset=demo&lesson={lesson.id}&step=1", wait_until="domcontentloaded")
            await settle(page, t0, "Lessons")
            t0 = time.perf_counter()
            # .first: the key's class marks a nested container as well as the button's own
            await page.locator(f".st-key-lesson-reveal-{lesson.id}-1 button").first.click()
            await settle(page, t0, "Lessons")

        await asyncio.gather(*(visit(c) for c in contexts))
        grown = (_browser_pss_mb() - mb0, browser_cpu_s() - cpu0)
        await browser.close()
    return grown


def _browser_pss_mb() -> float:
    """Proportional set size (shared pages split between the processes sharing them) of the Playwright driver trees
    (the driver and the Chromium it runs): RSS would count Chromium's shared pages once per process."""
    total = 0
    for pid in descendants(os.getpid())[1:]:
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"playwright" in cmdline and b"run-driver" in cmdline:
                total += sum(_pss_kb(p) for p in descendants(pid))
    return total / 1024


def _pss_kb(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("Pss:")), 0)


def own_rss_mb() -> float:
    return status_kb(os.getpid(), "VmRSS") / 1024


def compare_clients(base: str, server_pid: int, k: int, lesson: Lesson) -> dict[str, dict[str, float]]:
    """Per session, for k websocket clients and k browser contexts doing the same two actions on the same server:
    CPU seconds of the client side, MB of client memory, CPU seconds of the server."""
    out: dict[str, dict[str, float]] = {}
    cpu0, server0, rss0 = time.process_time(), process_cpu_s(server_pid), own_rss_mb()
    asyncio.run(_ws_visits(base, k, lesson))
    out["websocket client"] = {
        "client_cpu_s": (time.process_time() - cpu0) / k,
        "client_mb": max(own_rss_mb() - rss0, 0.0) / k,
        "server_cpu_s": (process_cpu_s(server_pid) - server0) / k,
    }
    if CHROMIUM.exists():
        server0 = process_cpu_s(server_pid)
        mb, cpu = asyncio.run(_browser_visits(base, k, lesson))
        out["browser context"] = {
            "client_cpu_s": cpu / k,
            "client_mb": mb / k,
            "server_cpu_s": (process_cpu_s(server_pid) - server0) / k,
        }
    return out


# ---------------------------------------------------------------- one scenario on a fresh server


@dataclass
class Outcome:
    students: int
    log: ClassLog
    wall_s: float
    idle_server_mb: float
    idle_tree_mb: float
    connected_server_mb: float  # every student still connected, all done
    series: MemorySeries
    cap_peak_mb: float | None
    oom_kills: int
    server_cpu_s: float
    tree_cpu_s: float
    client_cpu_s: float
    jobs_started: int
    tracebacks: int
    clients: dict[str, dict[str, float]] | None = None

    def per_session_mb(self, alone: Outcome | None) -> float:
        """Server RSS growth per session: with every student connected, over the one student alone (per
        additional session), or over the idle server when there is no baseline."""
        if alone is not None and alone.students < self.students:
            return (self.connected_server_mb - alone.connected_server_mb) / (self.students - alone.students)
        return (self.connected_server_mb - self.idle_server_mb) / self.students

    @property
    def times(self) -> list[float]:
        return [r.seconds for r in self.log.records]

    @property
    def errors(self) -> list[str]:
        return [f"student {r.student + 1}, {r.action}: {e}" for r in self.log.records for e in r.errors]

    def summary(self, alone: Outcome | None = None) -> dict:
        """The figures of this run; with `alone` (one student, same run), memory per additional session."""
        times = self.times or [float("nan")]
        n = max(len(self.log.records), 1)
        return {
            "students": self.students,
            "interactions": len(self.log.records),
            "p50_s": round(float(np.percentile(times, 50)), 3),
            "p95_s": round(float(np.percentile(times, 95)), 3),
            "max_s": round(max(times), 3),
            "errors": len(self.errors) + len(self.log.failures),
            "reconnects": self.log.reconnects,
            "tracebacks": self.tracebacks,
            "peak_rss_mb": round(self.series.peak_tree_mb, 1),
            "peak_server_rss_mb": round(self.series.peak_server_mb, 1),
            "cgroup_peak_mb": None if self.cap_peak_mb is None else round(self.cap_peak_mb, 1),
            "oom_kills": self.oom_kills,
            "per_session_mb": round(self.per_session_mb(alone), 2),
            "jobs_started": self.jobs_started,
            "server_cpu_s_per_interaction": round(self.server_cpu_s / n, 4),
            "client_cpu_s_per_interaction": round(self.client_cpu_s / n, 4),
            "auto_reruns": self.log.auto_runs,
            "waited_for_model_s": round(max(self.log.waits, default=0.0), 1),
            "wall_s": round(self.wall_s, 1),
        }


def fresh_home(prepared: Path, target: Path) -> Path:
    """A home for one scenario: the prepared demo (hard links) and its embeddings, no classifier, no jobs."""
    shutil.copytree(prepared / "data", target / "data", copy_function=os.link)
    shutil.copytree(prepared / "cache" / "embeddings", target / "cache" / "embeddings")
    (target / "cache" / "models").mkdir(parents=True)
    for weights in (prepared / "cache" / "models").glob("*.npz"):  # the converted face descriptor, not classifiers
        os.link(weights, target / "cache" / "models" / weights.name)
    return target


def count_tracebacks(server_log: Path, jobs: Path) -> int:
    logs = [server_log, *jobs.glob("*/log.txt")]
    return sum(p.read_text(errors="replace").count("Traceback (most recent call last)") for p in logs if p.exists())


def job_folders(home: Path) -> set[str]:
    jobs = home / "cache" / "jobs"
    return {p.name for p in jobs.iterdir() if p.is_dir() and not p.name.startswith(".")} if jobs.exists() else set()


def stop_tree(proc, pids: list[int]) -> None:
    """Stop the server, then any process it started that is still there (a job that outlived it)."""
    stop_server(proc)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def run_scenario(prepared: Path, work: Path, students: int, plan: Plan, compare: int = 0) -> Outcome:
    home = fresh_home(prepared, work / f"class-{students}")
    server_log = home / "server.log"
    cap = MemoryCap.create(MEMORY_CAP_BYTES, f"faceatlas-class-{os.getpid()}-{students}")
    proc, base = start_server(home, server_log)
    if cap is not None:
        cap.add(proc.pid)
    series = MemorySeries(proc.pid)
    pids: list[int] = []
    try:
        asyncio.run(teacher_visit(base, plan.lesson))  # before class, not measured
        idle_server, idle_tree = series.sample()
        jobs_before = job_folders(home)
        series.start()
        cpu0, tree0, client0 = process_cpu_s(proc.pid), tree_cpu_s(proc.pid), time.process_time()
        connected: list[float] = []

        def all_done() -> None:
            connected.append(series.sample()[0])
            pids.extend(descendants(proc.pid)[1:])

        log, wall = asyncio.run(run_class(base, students, plan, all_done))
        server_cpu, tree_cpu = process_cpu_s(proc.pid) - cpu0, tree_cpu_s(proc.pid) - tree0
        series.stop()
        client_cpu = time.process_time() - client0 - series.cpu_s
        clients = compare_clients(base, proc.pid, compare, plan.lesson) if compare else None  # after the class
        outcome = Outcome(
            students=students,
            log=log,
            wall_s=wall,
            idle_server_mb=idle_server,
            idle_tree_mb=idle_tree,
            connected_server_mb=connected[0] if connected else series.sample()[0],
            series=series,
            cap_peak_mb=cap.peak_mb() if cap else None,
            oom_kills=cap.oom_kills() if cap else 0,
            server_cpu_s=server_cpu,
            tree_cpu_s=tree_cpu,
            client_cpu_s=client_cpu,
            jobs_started=len(job_folders(home) - jobs_before),
            tracebacks=0,
            clients=clients,
        )
    finally:
        series.stop()
        pids.extend(descendants(proc.pid)[1:])
        stop_tree(proc, pids)
        if cap is not None:
            time.sleep(1.0)
            cap.remove()
    outcome.tracebacks = count_tracebacks(server_log, home / "cache" / "jobs")
    note(f"{students} student(s): {json.dumps(outcome.summary())}")
    return outcome


# ---------------------------------------------------------------- preparing the demo


def prepare(home: Path, demo: Path | None, images: int) -> None:
    """The default demo (copied from `demo`, or drawn) with its face embeddings, once per home."""
    from core.data.ingest import open_dataset
    from core.faces.embed_job import embed_dataset

    os.environ.update(FACEATLAS_HOME=str(home), FACEATLAS_CACHE=str(home / "cache"))
    target = home / "data" / "demo"
    if not target.exists():
        if demo is not None:
            shutil.copytree(demo, target)
        else:
            generate_demo(target, n_images=images, seed=0)
    ds = open_dataset(target, name="demo")
    t0 = time.perf_counter()
    summary = embed_dataset(ds, workers=os.cpu_count())  # resumes, or finds them done
    note(f"demo of {ds.n_images:,} images embedded ({summary}) in {time.perf_counter() - t0:.0f}s")


def pick_photo(home: Path) -> Path:
    """A photo to upload: one of ../shared's wild photos (a real face), else a demo image."""
    wild = sorted(WILD_PHOTOS.glob("*.jpg")) if WILD_PHOTOS.exists() else []
    if wild:
        return wild[0]
    return sorted((home / "data" / "demo" / "Img" / "img_align_celeba").glob("*.jpg"))[0]


# ---------------------------------------------------------------- report


def memory_over_time(series: MemorySeries, points: int = 8) -> str:
    if not series.samples:
        return "–"
    step = max(1, len(series.samples) // points)
    picks = [*series.samples[::step][:points], series.samples[-1]]
    return ", ".join(f"{t:.0f} s: {tree:.0f}" for t, _, tree in picks)


def action_kind(action: str) -> str:
    """'click lesson-reveal-base-rates-3' -> 'click lesson-reveal': one row per kind of action."""
    return action.split("-base")[0].split(f"-{LESSON}")[0] if action.startswith("click lesson-reveal") else action


def by_action(outcome: Outcome) -> dict[str, list[float]]:
    kinds: dict[str, list[float]] = {}
    for r in outcome.log.records:
        kinds.setdefault(action_kind(r.action), []).append(r.seconds)
    return kinds


def p50_p95(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{fmt_s(statistics.median(values))} / {fmt_s(float(np.percentile(values, 95)))}"


def report(outcomes: list[Outcome], plan: Plan, load: tuple[float, float], cap_text: str) -> str:
    base, full = outcomes[0], outcomes[-1]
    rows = []
    for key, label in [
        ("interactions", "Interactions"),
        ("p50_s", "Interaction p50 (s)"),
        ("p95_s", "Interaction p95 (s)"),
        ("max_s", "Interaction max (s)"),
        ("errors", "Errors"),
        ("reconnects", "Reconnects"),
        ("tracebacks", "Tracebacks in the logs"),
        ("server_cpu_s_per_interaction", "Server CPU per interaction (s)"),
        ("client_cpu_s_per_interaction", "Client CPU per interaction (s)"),
        ("auto_reruns", "Fragment auto-reruns answered"),
        ("jobs_started", "Jobs started"),
        ("waited_for_model_s", "Longest wait for the classifier (s)"),
        ("peak_server_rss_mb", "Peak RSS, server (MB)"),
        ("peak_rss_mb", "Peak RSS, server + jobs (MB)"),
        ("cgroup_peak_mb", "Peak charged to the cgroup (MB)"),
        ("per_session_mb", "Per additional session: server RSS growth (MB)"),
        ("wall_s", "Wall (s)"),
    ]:
        values = [o.summary(outcomes[0])[key] for o in outcomes]
        ratio = ""
        if key in ("p50_s", "p95_s", "max_s", "server_cpu_s_per_interaction") and values[0]:
            ratio = f"{values[-1] / values[0]:.2f}x"
        rows.append([label, *values, ratio])
    kinds = sorted(set(by_action(base)) | set(by_action(full)))
    action_rows = [[k, *[p50_p95(by_action(o).get(k, [])) for o in outcomes]] for k in kinds]
    headers = [f"{o.students} student{'s' if o.students > 1 else ''}" for o in outcomes]
    memory_rows = [[h, f"{o.idle_server_mb:.0f}", f"{o.connected_server_mb:.0f}", memory_over_time(o.series)]
                   for h, o in zip(headers, outcomes)]  # fmt: skip
    lines = [
        __doc__.split("\n\n")[1].strip(),
        "",
        f"Lesson `{plan.lesson.id}` ({len(plan.lesson.steps)} steps), think time {plan.think_s[0]:g}-"
        f"{plan.think_s[1]:g} s, arrivals within {plan.arrival_s:g} s, seed {plan.seed}. Memory cap: {cap_text}. "
        f"Load average (1 min) at the start and end: {load[0]:.1f} and {load[1]:.1f} on {os.cpu_count()} cores "
        "(the machine is shared: read times as ratios to the baseline, and CPU per interaction as the cost).",
        "",
        table(["Figure", *headers, "class / alone"], rows),
        "",
        "Per kind of action, p50 / p95:",
        "",
        table(["Action", *headers], action_rows),
        "",
        "Server RSS idle (after the teacher's visit) and with every student connected, and server + jobs over "
        "time (MB):",
        "",
        table(["Scenario", "Idle", "All connected", "Server + jobs over time"], memory_rows),
    ]
    clients = next((o.clients for o in outcomes if o.clients), None)
    if clients:
        lines += [
            "",
            "Why websocket clients: the same two actions (open the lesson link, reveal step 1) per session, on the "
            "same server, measured in this run:",
            "",
            table(
                ["Client", "Client CPU (s)", "Client memory (MB)", "Server CPU (s)"],
                [
                    [name, f"{c['client_cpu_s']:.2f}", f"{c['client_mb']:.0f}", f"{c['server_cpu_s']:.2f}"]
                    for name, c in clients.items()
                ],
            ),
        ]
    problems = sorted({*full.errors, *full.log.failures, *base.errors, *base.log.failures})
    if problems:
        lines += ["", "Errors seen:", "", *[f"- {p}" for p in problems[:20]]]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of writing the docs")
    parser.add_argument("--docs", action="store_true", help="with --json: write docs/bench/class.md as well")
    parser.add_argument("--lesson", default=LESSON, choices=list(LESSONS))
    parser.add_argument("--think", type=float, nargs=2, default=(5.0, 20.0), metavar=("MIN", "MAX"))
    parser.add_argument("--arrival", type=float, default=60.0, help="students open the link within this many s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-clients", type=int, default=3, metavar="K", help="0: skip the client comparison")
    parser.add_argument("--no-baseline", action="store_true", help="leave out the one-student run")
    parser.add_argument("--demo", type=Path, help="a drawn demo folder to copy instead of drawing one")
    parser.add_argument("--home", type=Path, help="keep the prepared demo and embeddings here between runs")
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="faceatlas-class-") as tmp:
        prepared = args.home or Path(tmp) / "prepared"
        prepare(prepared, args.demo, args.images)
        plan = Plan(LESSONS[args.lesson], tuple(args.think), args.arrival, args.seed, pick_photo(prepared))
        probe = MemoryCap.create(MEMORY_CAP_BYTES, f"faceatlas-class-probe-{os.getpid()}")
        cap_text = (
            f"a memory cgroup{' (v2)' if probe and probe.v2 else ''} at {MEMORY_CAP_BYTES / 1e9:.1f} GB holding the "
            "server and its jobs"
            if probe
            else "none (no memory cgroup could be made here)"
        )
        if probe:
            probe.remove()
        load0 = os.getloadavg()[0]
        sizes = ([] if args.no_baseline or args.students == 1 else [1]) + [args.students]
        work = Path(tmp) / "runs"
        outcomes = [
            run_scenario(prepared, work, n, plan, compare=args.compare_clients if n == sizes[-1] else 0) for n in sizes
        ]
        load = (load0, os.getloadavg()[0])
    rusage = resource.getrusage(resource.RUSAGE_SELF)
    note(f"bench process: {rusage.ru_utime + rusage.ru_stime:.1f} s CPU")
    if args.json:
        result = outcomes[-1].summary(outcomes[0]) | {"load": [round(x, 2) for x in load], "memory_cap": cap_text}
        if len(outcomes) > 1:
            result["baseline"] = outcomes[0].summary()
        if outcomes[-1].clients:
            result["clients"] = outcomes[-1].clients
        result["plan"] = {"lesson": plan.lesson.id, "think_s": plan.think_s, "arrival_s": plan.arrival_s,
                          "seed": plan.seed, "photo": plan.photo.name}  # fmt: skip
        print(json.dumps(result, default=str))
    if args.docs or not args.json:
        with contextlib.redirect_stdout(sys.stderr if args.json else sys.stdout):  # stdout keeps the one JSON object
            write_section("class", "A class of 30 on one small server", report(outcomes, plan, load, cap_text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
