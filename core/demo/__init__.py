"""Synthetic demo dataset in the CelebA original layout (drawn faces, sampled labels), at any size.

`generate_demo(out_dir)` samples identities, partitions and the 40 attribute labels up front from the seed
(core.demo.labels), writes the annotation files first (Anno/list_attr_celeba.txt, Anno/identity_CelebA.txt,
Eval/list_eval_partition.txt: every count, chart and relation works from then on), then draws the 178x218 faces
(core.demo.specs, core.demo.draw) in worker processes into Img/.drawing/images/ and renames that folder to
Img/img_align_celeba/ when every face is there.

The marker file core.data.loaders.DEMO_MARKER says how far a drawing got ("stage": labels, images, done) and what
it was asked for; a half-drawn demo is never taken for a finished one, and a rerun with the same request (after a
crash or kill -9) keeps the faces already drawn and draws the rest.
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.data.atomic import write_bytes, write_json
from core.data.celeba import CELEBA_ATTRIBUTES
from core.data.loaders import DEMO_MARKER
from core.demo.drawing import draw_missing, drawn_indices, image_name
from core.demo.estimate import DrawingClock
from core.demo.labels import LabelPlan, sample_labels
from core.demo.specs import iter_face_specs
from core.processes import pid_alive, usable_cores

log = logging.getLogger(__name__)

DEFAULT_IMAGES = 6000
DEMO_VERSION = 4  # 2: people a face descriptor tells apart (issue 16), stratified partitions; 3: spectacle
# frames and smiles a CNN still sees at 80 px; 4: smiles two pixels deep at 80 px (corners, creases, folds), a
# shine and a shaded rim on every bald scalp
IMAGES = Path("Img") / "img_align_celeba"
DRAWING = Path("Img") / ".drawing"  # the drawing's state; its images/ becomes IMAGES when complete
PROGRESS_EVERY_S = 1.0  # the drawing's progress file is rewritten at most this often
STAGES = ("labels", "images", "done")
NOTE = (
    "Synthetic cartoon faces drawn by FaceAtlas, not real people. To explore the real CelebA, put its folder "
    "(Anno/, Eval/, Img/img_align_celeba/) under data/ and pick it in the sidebar."
)

__all__ = [
    "DEFAULT_IMAGES",
    "DrawingProgress",
    "annotation_texts",
    "demo_exists",
    "demo_stage",
    "drawing_progress",
    "generate_demo",
    "image_name",
    "labels_ready",
    "write_labels",
]


@dataclass(frozen=True)
class DrawingProgress:
    """How far a drawing is: its stage, faces drawn of total, seconds left (estimated) and who draws it."""

    stage: str  # labels | images | done
    done: int
    total: int
    left_s: float
    rate: float | None  # faces a second measured in this run (None before the first)
    pid: int
    updated: float  # time.time() of this report

    @property
    def alive(self) -> bool:
        """Whether the process drawing it still runs."""
        return pid_alive(self.pid)

    def left_now(self, now: float | None = None) -> float:
        """The estimate counted down since it was written."""
        return max(1.0, self.left_s - max(0.0, (time.time() if now is None else now) - self.updated))


@dataclass(frozen=True)
class DemoRequest:
    """What a drawing was asked for: the same request resumes it, another starts afresh."""

    images: int
    identities: int | None  # None: the classic demo's people (about one per 20 images)
    seed: int
    version: int = DEMO_VERSION


def demo_size() -> int:
    """Images in the demo a fresh home draws: FACEATLAS_DEMO_IMAGES, else DEFAULT_IMAGES."""
    raw = os.environ.get("FACEATLAS_DEMO_IMAGES", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_IMAGES


def _marker(out_dir: Path) -> dict:
    try:
        marker = json.loads((Path(out_dir) / DEMO_MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def demo_stage(out_dir: Path) -> str | None:
    """How far the demo in out_dir got: 'labels' (being written), 'images' (labels written, faces being drawn),
    'done'; None without a demo of the current version."""
    marker = _marker(out_dir)
    try:
        current = int(marker.get("version", 0)) >= DEMO_VERSION
    except (TypeError, ValueError):
        return None
    if not current:
        return None
    stage = marker.get("stage", "done")  # demos drawn before stages wrote their marker last
    return stage if stage in STAGES else None


def demo_exists(out_dir: Path) -> bool:
    """Whether out_dir holds a finished demo of the current version: labels and every face."""
    return demo_stage(out_dir) == "done"


def labels_ready(out_dir: Path) -> bool:
    """Whether the demo's annotation files are written (its faces may still be being drawn)."""
    return demo_stage(out_dir) in ("images", "done")


def drawing_progress(out_dir: Path) -> DrawingProgress | None:
    """The progress a drawing in out_dir last reported (None before its first report and once it is done)."""
    try:
        return DrawingProgress(**json.loads((Path(out_dir) / DRAWING / "progress.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def annotation_texts(plan: LabelPlan) -> dict[str, str]:
    """The three annotation files of the CelebA original layout, keyed by relative path."""
    n = plan.n_images
    rows = [image_name(i) + " " + " ".join(f"{2 * int(v) - 1:2d}" for v in plan.attributes[i]) for i in range(n)]
    return {
        "Anno/list_attr_celeba.txt": f"{n}\n" + " ".join(CELEBA_ATTRIBUTES) + " \n" + "\n".join(rows) + "\n",
        "Anno/identity_CelebA.txt": "".join(f"{image_name(i)} {int(plan.identity[i])}\n" for i in range(n)),
        "Eval/list_eval_partition.txt": "".join(f"{image_name(i)} {int(plan.partition[i])}\n" for i in range(n)),
    }


# ---------------------------------------------------------------- the drawing job


def _same_request(marker: dict, request: DemoRequest) -> bool:
    return marker.get("request") == asdict(request)


def _write_marker(out_dir: Path, request: DemoRequest, stage: str, identities: int) -> None:
    marker = {
        "synthetic": True,
        "stage": stage,
        "images": request.images,
        "identities": identities,
        "seed": request.seed,
        "version": request.version,
        "request": asdict(request),
        "note": NOTE,
    }
    write_json(out_dir / DEMO_MARKER, marker)


def _discard(folder: Path) -> None:
    """Remove a folder, first renamed aside so no reader ever sees it half deleted."""
    if not folder.exists():
        return
    aside = folder.with_name(f".discarded-{folder.name}-{os.getpid()}-{time.time_ns()}")
    os.rename(folder, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _plan(state: Path, request: DemoRequest) -> LabelPlan:
    """The request's labels: read back when a killed drawing of the same request planned them already."""
    path = state / "plan.npz"
    try:
        with np.load(path, allow_pickle=False) as saved:
            if json.loads(str(saved["request"])) == asdict(request):
                return LabelPlan(saved["identity"], saved["partition"], saved["attributes"])
    except (OSError, ValueError, KeyError):
        pass
    plan = sample_labels(request.images, request.seed, request.identities)
    buffer = io.BytesIO()
    request_text = np.asarray(json.dumps(asdict(request)))
    np.savez(buffer, identity=plan.identity, partition=plan.partition, attributes=plan.attributes, request=request_text)
    write_bytes(path, buffer.getvalue())
    return plan


def _write_annotations(out_dir: Path, plan: LabelPlan) -> None:
    for rel, text in annotation_texts(plan).items():
        data = text.encode()
        path = out_dir / rel
        if not (path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data):
            write_bytes(path, data)  # unchanged files keep their time stamps: the app's ingest cache stays valid


@contextmanager
def _ticking(report: Callable[[], None], every_s: float) -> Iterator[None]:
    """Call report() every every_s seconds in a thread while the block runs (a long step that reports nothing)."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every_s):
            report()

    thread = threading.Thread(target=tick, name="demo-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class _Reporter:
    """Publishes a drawing's progress: to the caller's callback and to Img/.drawing/progress.json for any reader."""

    def __init__(self, state: Path, clock: DrawingClock, callback: Callable[[DrawingProgress], None] | None):
        self.state, self.clock, self.callback = state, clock, callback
        self.stage, self.done = "labels", 0
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, stage: str | None = None, done: int | None = None, force: bool = False) -> None:
        with self._lock:
            self.stage = stage or self.stage
            self.done = self.done if done is None else done
            now = time.time()
            if not force and now - self._last < PROGRESS_EVERY_S:
                return
            self._last = now
            event = DrawingProgress(
                self.stage,
                self.done,
                self.clock.n_images,
                round(self.clock.left(self.done), 1),
                self.clock.rate(self.done),
                os.getpid(),
                now,
            )
            if self.state.is_dir():
                write_json(self.state / "progress.json", asdict(event))
            if self.callback:
                self.callback(event)


def _request(n_images: int, seed: int, identities: int | None) -> DemoRequest:
    if n_images < 1:
        raise ValueError(f"the demo needs at least 1 image, not {n_images}")
    if identities is not None and not 1 <= identities <= n_images:
        raise ValueError(f"the demo's people must number between 1 and its images ({n_images:,}), not {identities:,}")
    return DemoRequest(n_images, identities, seed)


@contextmanager
def _labels_lock(out_dir: Path) -> Iterator[None]:
    """Held while a demo's labels are planned and written: the first visitor's page and the drawing job plan once."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir.parent / f".{out_dir.name}.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_labels(
    out_dir: Path, n_images: int = DEFAULT_IMAGES, seed: int = 0, identities: int | None = None
) -> LabelPlan | None:
    """Plan a demo's labels and write its annotation files (stage 'images'); None when the demo is finished.

    The same request planned before (by a killed drawing, or by the first visitor's page before the drawing job
    started) is read back, its annotations left as they are and its faces kept; another request's faces and
    state are discarded. Takes seconds for the default demo, about a minute at CelebA's size.
    """
    request = _request(n_images, seed, identities)
    out_dir = Path(out_dir)
    state, final = out_dir / DRAWING, out_dir / IMAGES
    with _labels_lock(out_dir):
        marker = _marker(out_dir)
        foreign = any((out_dir / rel).exists() for rel in ("Anno", "Eval", "Img"))
        if foreign and not (out_dir / DEMO_MARKER).exists():  # never overwrite a real dataset's files
            raise ValueError(
                f"{out_dir} holds a dataset that FaceAtlas did not draw: draw the demo into another folder"
            )
        same = _same_request(marker, request)
        if same and marker.get("stage") == "done":
            return None
        if not same:  # another drawing's faces do not fit these labels
            _discard(final)
            _discard(state)
        (state / "images").mkdir(parents=True, exist_ok=True)
        plan = _plan(state, request)
        if not (same and marker.get("stage") == "images"):
            people = len(np.unique(plan.identity))
            _write_marker(out_dir, request, "labels", people)  # from here on the folder is a demo, not yet complete
            _write_annotations(out_dir, plan)
            _write_marker(out_dir, request, "images", people)
    return plan


def generate_demo(
    out_dir: Path,
    n_images: int = DEFAULT_IMAGES,
    seed: int = 0,
    progress: Callable[[DrawingProgress], None] | None = None,
    workers: int | None = None,
    identities: int | None = None,
) -> Path:
    """Draw n_images synthetic faces into out_dir in the CelebA original layout; returns out_dir.

    identities: how many people, with CelebA's spread of images per person (None: the classic demo's people).
    Deterministic in (n_images, identities, seed): the same files whatever the workers. The annotations are
    written before the faces (write_labels); a rerun of the same request continues where a killed one stopped,
    another request starts afresh. workers: drawing processes (default: every usable core).
    progress(DrawingProgress) is called from this process about once a second.
    """
    request = _request(n_images, seed, identities)
    out_dir = Path(out_dir)
    workers = usable_cores() if workers is None else max(1, workers)
    clock = DrawingClock(n_images, workers)
    state, final = out_dir / DRAWING, out_dir / IMAGES
    report = _Reporter(state, clock, progress)
    report("labels", 0, force=True)
    with _ticking(report, PROGRESS_EVERY_S):
        plan = write_labels(out_dir, n_images, seed, identities)
    if plan is None:  # finished before
        return out_dir
    clock.planned()
    if not (final.is_dir() and len(drawn_indices(final, n_images)) == n_images):  # else: killed after the rename
        _discard(final)
        images = state / "images"
        clock.drawing(len(drawn_indices(images, n_images)))
        report("images", clock.already, force=True)
        log.info("drawing %d demo faces into %s with %d workers", n_images - clock.already, out_dir, workers)
        with _ticking(report, PROGRESS_EVERY_S):
            drawn = draw_missing(images, iter_face_specs(plan, seed), n_images, workers, lambda d: report(done=d))
        if drawn != n_images:
            raise RuntimeError(f"the drawing ended with {drawn:,} of {n_images:,} faces; run it again to resume")
        os.rename(images, final)
    _write_marker(out_dir, request, "done", len(np.unique(plan.identity)))
    shutil.rmtree(state, ignore_errors=True)
    if progress:
        progress(DrawingProgress("done", n_images, n_images, 0.0, clock.rate(n_images), os.getpid(), time.time()))
    return out_dir
