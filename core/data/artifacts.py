"""Cached artefacts that heal: every stored file is recorded (size and checksum) when written and checked before
use; a damaged one is moved aside (never deleted, never read) and rebuilt, and one line tells the user.

Set aside means moved out of the cache's folders into cache/set-aside/<its path>.damaged-<time>, so no listing
(models, embeddings, results) sees it again and nothing renames it twice. The notices of what was moved aside are
kept in cache/repairs.jsonl so the page of the dataset concerned can say so once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from core.data.dataset import Dataset
from core.data.paths import cache_root
from core.errors import ModelFileError

log = logging.getLogger(__name__)

REPAIRS_FILE = "repairs.jsonl"
NOTICE_MAX_AGE_S = 24 * 3600
SET_ASIDE_DIR = "set-aside"
SET_ASIDE_MARK = ".damaged-"  # in the name of whatever was set aside (also in place, by versions before the folder)
META_FILE = "meta.json"  # written last into a stored artefact's folder: without it the folder is incomplete

Meta = TypeVar("Meta")


def results_dir(ds: Dataset, kind: str) -> Path:
    """Where results derived from a dataset are stored: cache/<kind>/<its images key, else its key>/.

    Outside the ingest folder, which a touched folder or a copy replaces: like embeddings and pixel caches, results
    are filed by the image files' content (or, without images, by the annotations' content), and each result's own
    name says what else it depends on, so it is recomputed only when that changes.
    """
    return cache_root() / kind / (ds.images_key or ds.key)


def file_record(path: Path) -> dict:
    """{"size", "blake2b"} of a file as written (what `verify` later compares with)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return {"size": path.stat().st_size, "blake2b": h.hexdigest()}


def records(folder: Path, names: list[str]) -> dict[str, dict]:
    """file_record of each named file of `folder` that exists."""
    return {name: file_record(folder / name) for name in names if (folder / name).is_file()}


def damaged(folder: Path, recorded: dict[str, dict]) -> list[str]:
    """Names of recorded files that are missing or differ from their record (empty when all are intact)."""
    bad = []
    for name, record in recorded.items():
        path = folder / name
        try:
            if path.stat().st_size != record["size"] or file_record(path)["blake2b"] != record["blake2b"]:
                bad.append(name)
        except (OSError, KeyError, TypeError):
            bad.append(name)
    return bad


def is_set_aside(path: Path) -> bool:
    """Whether `path` is something set aside as damaged (listings skip it; it is never set aside again)."""
    if SET_ASIDE_MARK in path.name:
        return True
    try:
        return path.resolve().is_relative_to((cache_root() / SET_ASIDE_DIR).resolve())
    except (OSError, RuntimeError):
        return False


def artefact_folder(root: Path, artefact_id: str, noun: str) -> Path:
    """root/<artefact_id>; ModelFileError when the id is not a plain folder name (a path, a hidden or empty name)."""
    if not artefact_id or "/" in artefact_id or "\\" in artefact_id or artefact_id.startswith("."):
        raise ModelFileError(f"{artefact_id!r} is not a {noun} id.")
    return root / artefact_id


def read_meta_json(folder: Path, noun: str) -> dict:
    """A stored artefact's meta.json as a dict; ModelFileError (train it again) when it is unreadable or not one."""
    try:
        raw = json.loads((folder / META_FILE).read_text())
    except (OSError, ValueError):
        raise ModelFileError(f"{noun.capitalize()} {folder.name} has no readable meta.json; train it again.") from None
    if not isinstance(raw, dict):
        raise ModelFileError(f"meta.json of {folder.name} is not a {noun} description; train it again.")
    return raw


def complete_folders(root: Path) -> list[Path]:
    """The stored artefacts' folders under `root` whose meta.json is written; hidden (temporary) and set-aside ones
    are skipped."""
    if not root.is_dir():
        return []
    return [
        p for p in root.iterdir() if not p.name.startswith(".") and not is_set_aside(p) and (p / META_FILE).is_file()
    ]


def stored_metas(
    root: Path, read_meta: Callable[[str], Meta | None], keep: Callable[[Meta], bool], newest: Callable[[Meta], str]
) -> list[Meta]:
    """The metas of the complete artefacts under `root` that `keep` accepts, newest first by `newest` (an ISO time).

    `read_meta` reads one by its folder's name; one it cannot read (ModelFileError) or finds unfinished (None) is
    not listed.
    """
    metas = []
    for folder in complete_folders(root):
        try:
            meta = read_meta(folder.name)
        except ModelFileError:
            continue
        if meta is not None and keep(meta):
            metas.append(meta)
    return sorted(metas, key=newest, reverse=True)


def set_aside_path(path: Path) -> Path:
    """Where `path` goes when set aside: its place under cache/set-aside/, stamped with the time and process."""
    root = cache_root()
    try:
        relative = path.resolve().relative_to(root.resolve())
    except (OSError, ValueError):  # outside the cache root: keep the folders that name it
        relative = Path("outside", *path.resolve().parts[1:])
    stamp = f"{SET_ASIDE_MARK}{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    return root / SET_ASIDE_DIR / relative.with_name(relative.name + stamp)


def quarantine(path: Path, what: str, why: str, dataset: str = "") -> Path | None:
    """Move a damaged file or folder out of every listing (set_aside_path) and leave a notice; the new path or None."""
    if is_set_aside(path):
        return None  # already set aside: never renamed twice
    target = set_aside_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, target)
    except FileNotFoundError:
        return None  # another process moved it first
    except OSError as exc:
        log.warning("could not move %s aside: %s", path, exc)
        return None
    notice = {"time": time.time(), "dataset": dataset, "what": what, "why": why, "moved_to": str(target)}
    log.warning("%s was damaged (%s) and was moved aside to %s", what, why, target)
    try:
        with open(cache_root() / REPAIRS_FILE, "a") as f:
            f.write(json.dumps(notice) + "\n")
    except OSError:
        pass
    return target


def recent_notices(*datasets: str, max_age_s: float = NOTICE_MAX_AGE_S) -> list[str]:
    """One sentence per artefact of the dataset moved aside recently (newest last); `datasets`: the keys its
    artefacts are filed under (its key, and its images key for results stored by content)."""
    datasets = tuple(d for d in datasets if d)
    try:
        lines = (cache_root() / REPAIRS_FILE).read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines[-200:]:
        try:
            notice = json.loads(line)
        except ValueError:
            continue
        if notice.get("dataset") in datasets and time.time() - float(notice.get("time", 0)) < max_age_s:
            out.append(f"The stored {notice['what']} was damaged ({notice['why']}); it was set aside and is rebuilt.")
    return list(dict.fromkeys(out))
