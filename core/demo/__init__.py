"""Synthetic demo dataset in the CelebA original layout (drawn faces, sampled labels).

`generate_demo(out_dir)` samples identities, partitions and the 40 attribute labels up front
from the seed (core.demo.labels), turns them into per-image drawing specs (core.demo.specs),
draws the 178x218 faces in worker processes (core.demo.draw) and writes
Anno/list_attr_celeba.txt, Anno/identity_CelebA.txt, Eval/list_eval_partition.txt and
Img/img_align_celeba/NNNNNN.jpg, then the marker file core.loaders.DEMO_MARKER last, so a
half-written demo is never taken for a finished one.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from core.data.atomic import write_bytes
from core.data.celeba import CELEBA_ATTRIBUTES
from core.data.loaders import DEMO_MARKER
from core.demo.draw import FaceSpec, draw_face
from core.demo.labels import LabelPlan, sample_labels
from core.demo.specs import face_specs
from core.processes import exit_with_parent, plain_main

log = logging.getLogger(__name__)

DEFAULT_IMAGES = 6000
DEMO_VERSION = 4  # 2: people a face descriptor tells apart (issue 16), stratified partitions; 3: spectacle
# frames and smiles a CNN still sees at 80 px; 4: smiles two pixels deep at 80 px (corners, creases, folds), a
# shine and a shaded rim on every bald scalp
DEFAULT_WORKERS = 2
CHUNK = 40
IN_PROCESS_BELOW = 150  # smaller sets are drawn without worker processes
JPEG_QUALITY = 90
IMAGE_NAME = re.compile(r"^\d{6}\.jpg$")

__all__ = ["DEFAULT_IMAGES", "annotation_texts", "demo_exists", "generate_demo", "image_name"]


def demo_size() -> int:
    """Images in the demo a fresh home draws: FACEATLAS_DEMO_IMAGES, else DEFAULT_IMAGES."""
    raw = os.environ.get("FACEATLAS_DEMO_IMAGES", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_IMAGES


def demo_exists(out_dir: Path) -> bool:
    """Whether out_dir holds a finished demo of the current version (its marker file is written last)."""
    try:
        marker = json.loads((Path(out_dir) / DEMO_MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and int(marker.get("version", 0)) >= DEMO_VERSION


def image_name(index: int) -> str:
    """CelebA file name of the 0-based image index: 000001.jpg, ..."""
    return f"{index + 1:06d}.jpg"


def annotation_texts(plan: LabelPlan) -> dict[str, str]:
    """The three annotation files of the CelebA original layout, keyed by relative path."""
    n = plan.n_images
    rows = [image_name(i) + " " + " ".join(f"{2 * int(v) - 1:2d}" for v in plan.attributes[i]) for i in range(n)]
    return {
        "Anno/list_attr_celeba.txt": f"{n}\n" + " ".join(CELEBA_ATTRIBUTES) + " \n" + "\n".join(rows) + "\n",
        "Anno/identity_CelebA.txt": "".join(f"{image_name(i)} {int(plan.identity[i])}\n" for i in range(n)),
        "Eval/list_eval_partition.txt": "".join(f"{image_name(i)} {int(plan.partition[i])}\n" for i in range(n)),
    }


def _draw_chunk(job: tuple[str, list[tuple[int, FaceSpec]]]) -> int:
    """Worker: draw and save a chunk of (index, spec); returns how many were written."""
    folder, items = job
    for index, spec in items:
        path = os.path.join(folder, image_name(index))
        draw_face(spec).save(path, format="JPEG", quality=JPEG_QUALITY)
    return len(items)


def _chunks(folder: Path, specs: list[FaceSpec]) -> Iterator[tuple[str, list[tuple[int, FaceSpec]]]]:
    for start in range(0, len(specs), CHUNK):
        yield str(folder), list(enumerate(specs[start : start + CHUNK], start))


def draw_images(
    folder: Path,
    specs: list[FaceSpec],
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Draw specs[i] to folder/image_name(i) using `workers` processes (default 2); progress in this process."""
    folder.mkdir(parents=True, exist_ok=True)
    total = len(specs)
    workers = DEFAULT_WORKERS if workers is None else max(1, workers)
    done = 0
    if workers == 1 or total < IN_PROCESS_BELOW:
        results: Iterator[int] = map(_draw_chunk, _chunks(folder, specs))
        for n in results:
            done += n
            if progress:
                progress(done, total)
        return
    # Workers die with this process (exit_with_parent), so a killed drawing leaves none behind.
    with plain_main():  # spawned workers must not run the caller's main script (a page under `streamlit run`)
        pool = multiprocessing.get_context("spawn").Pool(workers, exit_with_parent, (os.getpid(),))
    with pool:
        for n in pool.imap_unordered(_draw_chunk, _chunks(folder, specs)):
            done += n
            if progress:
                progress(done, total)


def _clear_old_images(folder: Path, keep: int) -> None:
    if not folder.is_dir():
        return
    for entry in os.scandir(folder):
        if IMAGE_NAME.match(entry.name) and int(entry.name[:6]) > keep:
            os.unlink(entry.path)


def generate_demo(
    out_dir: Path,
    n_images: int = DEFAULT_IMAGES,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> Path:
    """Draw n_images synthetic faces into out_dir in the CelebA original layout; returns out_dir.

    Deterministic in seed (annotation files are byte-identical for the same seed and size).
    progress(done, total) is called from this process as images are written.
    """
    if n_images < 1:
        raise ValueError(f"the demo needs at least 1 image, not {n_images}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DEMO_MARKER).unlink(missing_ok=True)
    plan = sample_labels(n_images, seed)
    specs = face_specs(plan, seed)
    img_dir = out_dir / "Img" / "img_align_celeba"
    _clear_old_images(img_dir, n_images)
    log.info("drawing %d demo faces into %s", n_images, img_dir)
    draw_images(img_dir, specs, workers=workers, progress=progress)
    for rel, text in annotation_texts(plan).items():
        write_bytes(out_dir / rel, text.encode())
    marker = {
        "synthetic": True,
        "images": n_images,
        "identities": len(set(plan.identity.tolist())),
        "seed": seed,
        "version": DEMO_VERSION,
        "note": (
            "Synthetic cartoon faces drawn by FaceAtlas, not real people. To explore the real CelebA, "
            "put its folder (Anno/, Eval/, Img/img_align_celeba/) under data/ and pick it in the sidebar."
        ),
    }
    write_bytes(out_dir / DEMO_MARKER, json.dumps(marker, indent=2).encode())
    return out_dir
