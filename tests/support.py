"""What test modules share besides fixtures: where things are, small dataset writers, and copies of homes built once.

Test modules import from here, never from one another or from conftest.py (pytest imports those itself).
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from core.data.celeba import CELEBA_ATTRIBUTES

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
REAL_ANNOTATIONS = SHARED / "real" / "celeba_annotations"
WILD_SAMPLE = SHARED / "real" / "celeba_wild_sample"
REFERENCE = SHARED / "reference"
SMALL_DEMO_IMAGES = 400
# numba's compiled code, kept between processes and runs (git-ignored cache/): UMAP compiles once per machine.
NUMBA_CACHE = PROJECT / "cache" / "numba"
HOME_VARIABLES = ("FACEATLAS_HOME", "FACEATLAS_CACHE")
COPIED_CACHE = ("embeddings", "models")  # the parts of a cache/ that copy_home copies
WILD_HOME_IDENTITIES = 12  # people of the wild sample in conftest's wild_home (the smallest identity labels)


def needs(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not present (../shared absent)")


def opened_at(page: str, params: dict, timeout_s: float = 120):
    """The AppTest of `page` (a script path) opened from a link with `params`, run once; it must raise nothing."""
    from streamlit.testing.v1 import AppTest  # here: most test modules never run a page

    at = AppTest.from_file(page, default_timeout=timeout_s)
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    return at


def wait_for(predicate: Callable[[], object], timeout_s: float = 300, poll_s: float = 0.2):
    """predicate()'s first true value, polled (for a job or process to reach a state); the timeout is a safety net
    on a loaded machine, not a timing check."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"gave up after {timeout_s:.0f}s")


def inside_polygon(x: float, y: float, polygon: list) -> bool:
    """Whether (x, y) lies inside `polygon` ([(x, y), ...]): crossing number, one point at a time (plain Python, as a
    user would count; the map's selections are checked against it)."""
    inside = False
    for k in range(len(polygon)):
        (xi, yi), (xj, yj) = polygon[k], polygon[k - 1]
        if yi != yj and (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
    return inside


def wild_identities(n: int) -> dict[str, list[str]]:
    """{identity: its photo names, sorted} for the n smallest identity labels of the wild sample."""
    groups: dict[str, list[str]] = {}
    for line in (WILD_SAMPLE / "identity.txt").read_text().splitlines()[1:]:
        name, who = line.split()
        groups.setdefault(who, []).append(name)
    return {who: sorted(groups[who]) for who in sorted(groups, key=int)[:n]}


def copy_home(source: Path, target: Path, datasets: tuple[str, ...] | None = None, cache: bool = True) -> Path:
    """A copy of a home built once, for a test that changes files or writes results: its data/ folders (or only
    `datasets`) and, with `cache`, what its cache/ computed (embeddings, models, the converted face weights).

    Those are keyed by the image files and labels, not by the folder, so the copy finds them. Each copied folder is
    touched, so a copy is a dataset of its own (a new ingest key, as a fresh draw had): nothing cached in memory for
    the source or another copy is served for it. Ingest folders are not copied: each copy ingests its own (quick).
    """
    names = datasets if datasets is not None else tuple(p.name for p in (source / "data").iterdir() if p.is_dir())
    for name in names:
        shutil.copytree(source / "data" / name, target / "data" / name)
        for folder, _, _ in os.walk(target / "data" / name):
            os.utime(folder)
    for part in COPIED_CACHE if cache else ():
        if (source / "cache" / part).is_dir():
            shutil.copytree(
                source / "cache" / part, target / "cache" / part, copy_function=_copy_new, dirs_exist_ok=True
            )
    return target


def _copy_new(source: str, target: str) -> str:
    """shutil.copy2, keeping a file the target already has (a cache seeded with the face weights)."""
    return target if os.path.exists(target) else shutil.copy2(source, target)


def seed_face_weights(weights: Path, cache: Path) -> None:
    """Put the session's converted face weights (conftest face_weights) into a fresh cache/models/, as on a machine
    that converted them before, so the jobs and worker processes a test starts read them instead of each parsing
    dlib's .dat again (seconds each). A hard link: the weights file is only ever replaced, never written in place."""
    target = cache / "models" / weights.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    try:
        os.link(weights, target)
    except OSError:
        shutil.copyfile(weights, target)


@contextmanager
def home_environment(home: Path) -> Iterator[Path]:
    """FACEATLAS_HOME and FACEATLAS_CACHE point at `home` inside the block (for module and session fixtures, which
    cannot use the function-scoped monkeypatch); the old values are restored after."""
    saved = {k: os.environ.get(k) for k in HOME_VARIABLES}
    os.environ["FACEATLAS_HOME"] = str(home)
    os.environ["FACEATLAS_CACHE"] = str(home / "cache")
    try:
        yield home
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ---------------------------------------------------------------- a small CelebA original-layout dataset

ATTR_FILE = "Anno/list_attr_celeba.txt"


def jpeg_bytes(size=(40, 48), color=(200, 120, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def attr_rows(n: int) -> list[str]:
    """n rows of the CelebA attribute file: name and 40 values of -1/1 (a fixed pattern)."""
    return [
        f"{i + 1:06d}.jpg " + " ".join("1" if (i + j) % 3 == 0 else "-1" for j in range(len(CELEBA_ATTRIBUTES)))
        for i in range(n)
    ]


def write_celeba(root: Path, n: int = 6, images: bool = False) -> Path:
    """A small CelebA original-layout dataset: attributes, identities, partitions, optional images."""
    (root / "Anno").mkdir(parents=True)
    (root / "Eval").mkdir()
    lines = [str(n), " ".join(CELEBA_ATTRIBUTES), *attr_rows(n)]
    (root / ATTR_FILE).write_text("\n".join(lines) + "\n")
    (root / "Anno/identity_CelebA.txt").write_text("".join(f"{i + 1:06d}.jpg {i % 3 + 1}\n" for i in range(n)))
    (root / "Eval/list_eval_partition.txt").write_text("".join(f"{i + 1:06d}.jpg {i % 3}\n" for i in range(n)))
    if images:
        img_dir = root / "Img" / "img_align_celeba"
        img_dir.mkdir(parents=True)
        for i in range(n):
            (img_dir / f"{i + 1:06d}.jpg").write_bytes(jpeg_bytes())
    return root
