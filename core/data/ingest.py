"""Ingest a dataset folder once into cache/<name>-<fingerprint>/; later opens read the cache.

Cache folder contents: table.parquet (the data model's table), extra_<name>.parquet
(bbox, landmarks), meta.json (written last: its presence means the folder is
complete), embeddings/<model>/ (see core.data.embeddings) for datasets without images.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from core.data.artifacts import damaged, quarantine, records
from core.data.atomic import write_json, write_parquet
from core.data.dataset import Dataset
from core.data.embeddings import write_embeddings
from core.data.fingerprints import image_digests
from core.data.loaders import DEMO_MARKER, detect_layout, load_source, source_paths
from core.data.paths import cache_root, data_roots
from core.errors import DatasetError, said_when_disk_full

log = logging.getLogger(__name__)

HASH_LIMIT = 256 << 20  # files up to 256 MB are hashed; larger ones are identified by size + mtime
CACHE_FORMAT = 1


@dataclass(frozen=True)
class DatasetRef:
    """A dataset found under a data root, before it is loaded."""

    name: str
    path: Path
    layout: str


SLUG_MAX = 60  # the cache folder's name keeps this much of the dataset's (file names stop at 255 bytes)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:SLUG_MAX].strip("._") or "dataset"


def stat_signature(root: Path, layout: str) -> tuple:
    """Cheap signature (names, sizes, mtimes) of a dataset's sources: changes when any source changes, and when a
    process found its image content changed (source_marker)."""
    sig = []
    # one stat each: an LFW folder has thousands, read on every page run
    for p in (*source_paths(root, layout), source_marker(root)):
        try:
            st = p.stat()
            sig.append((str(p), st.st_size if stat.S_ISREG(st.st_mode) else 0, st.st_mtime_ns))
        except OSError:
            sig.append((str(p), -1, -1))
    return (layout, tuple(sig))


def fingerprint(root: Path, layout: str) -> str:
    """Content hash of the annotation files plus the stat signature of image folders."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"v{CACHE_FORMAT}:{layout}".encode())
    for p in source_paths(root, layout):
        h.update(os.fsencode(p.name))  # file names may be undecodable bytes
        if p.is_file() and p.stat().st_size <= HASH_LIMIT:
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    h.update(block)
        else:
            try:
                st = p.stat()
                h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
            except OSError:
                h.update(b"missing")
    return h.hexdigest()


def _hash_strings(h, values) -> None:
    for v in values:
        h.update(("\x00" if v is None else str(v)).encode("utf-8", "surrogatepass") + b"\n")


def images_key(table: pl.DataFrame, image_dir: Path | None) -> str:
    """What a dataset's face embeddings, pixel caches and image scans depend on: its image files' content, in row
    order (core.data.fingerprints).

    Touching the folder, copying the dataset (cp, rsync) or editing its annotations leaves it unchanged, so hours
    of embedding are reused; replacing an image file, even by one of the same size, changes it. "" without images.
    """
    if image_dir is None:
        return ""
    return image_digests(table["image_id"].to_list(), image_dir).key


def _names_and_sizes_key(table: pl.DataFrame, image_dir: Path) -> str:
    """The images key of versions before content digests (image names and sizes): found once, to adopt their work."""
    ids = table["image_id"].to_list()
    sizes: dict[str, int] = {}
    for parent in sorted({i.rpartition("/")[0] for i in ids}):
        try:
            with os.scandir(image_dir / parent) as it:
                for entry in it:
                    try:
                        sizes[f"{parent}/{entry.name}" if parent else entry.name] = entry.stat().st_size
                    except OSError:
                        continue
        except OSError:
            continue
    h = hashlib.blake2b(digest_size=16)
    _hash_strings(h, (f"{i}\t{sizes.get(i, -1)}" for i in ids))
    return h.hexdigest()


KEYED_BY_IMAGES = ("embeddings", "pixels")  # cache/<folder>/<images key>/: work keyed by the image files


def _adopt_older_work(cache_dir: Path, meta: dict, table: pl.DataFrame, image_dir: Path) -> None:
    """Once per ingest folder: work stored under the names-and-sizes key of older versions moves to the content
    key (trusted as it was then; from now on a replaced photo changes the key)."""
    if meta.get("older_work_adopted") or not meta.get("images_key"):
        return
    old = _names_and_sizes_key(table, image_dir)
    for kind in KEYED_BY_IMAGES:
        source, target = cache_dir.parent / kind / old, cache_dir.parent / kind / meta["images_key"]
        if source.is_dir() and not target.exists():
            try:
                os.rename(source, target)
                log.info("adopted %s of %s under its content key", kind, cache_dir.name)
            except OSError as exc:
                log.warning("could not adopt %s: %s", source, exc)
    write_json(cache_dir / "meta.json", meta | {"older_work_adopted": True})


def source_marker(root: Path) -> Path:
    """A file whose date changes when a process finds a dataset's image content changed (the server's cue to
    open it again: a photo replaced in place changes no folder date)."""
    name = hashlib.blake2b(os.fsencode(Path(root).absolute()), digest_size=10).hexdigest()
    return cache_root() / "sources" / name


def current_images_key(ds: Dataset) -> str:
    """The images key of `ds`'s files as they are now; when it is not the one `ds` was opened with, the source
    marker is rewritten, so every process (the server) opens the dataset again."""
    if ds.image_dir is None:
        return ds.images_key
    key = images_key(ds.table, ds.image_dir)
    if key != ds.images_key:
        write_json(source_marker(ds.root), {"images_key": key})
    return key


def _refresh_images_key(cache_dir: Path, root: Path, meta: dict, table: pl.DataFrame) -> dict:
    """The ingest meta with the images key of the files as they are now (the folder's dates miss a file replaced
    in place, so the key is computed at every open: a stat per file, reading only files whose stat changed)."""
    if meta.get("image_dir") is None:
        return meta
    image_dir = root / meta["image_dir"]
    key = images_key(table, image_dir)
    if key != meta.get("images_key"):
        meta = meta | {"images_key": key}
        write_json(cache_dir / "meta.json", meta)
        write_json(source_marker(root), {"images_key": key})
    _adopt_older_work(cache_dir, meta, table, image_dir)
    return meta


def labels_key(table: pl.DataFrame, attributes: tuple[str, ...]) -> str:
    """What a trained attribute model depends on: the image ids and their attribute labels."""
    h = hashlib.blake2b(digest_size=16)
    _hash_strings(h, [*attributes, "|", *table["image_id"].to_list()])
    if attributes:
        h.update(table.select(attributes).to_numpy().astype("uint8").tobytes())
    return h.hexdigest()


def identities_key(table: pl.DataFrame) -> str:
    """The image ids and their identity labels: what the identity and duplicate checks depend on."""
    h = hashlib.blake2b(digest_size=16)
    _hash_strings(h, [*table["image_id"].to_list(), "|", *table["identity"].to_list()])
    return h.hexdigest()


def split_key(table: pl.DataFrame) -> str:
    """The partition and identities: a model measured on another split is flagged, not hidden."""
    h = hashlib.blake2b(digest_size=16)
    _hash_strings(h, table["partition"].to_list())
    _hash_strings(h, table["identity"].to_list())
    return h.hexdigest()


def _read_cached(cache_dir: Path, root: Path, name: str) -> Dataset:
    """The dataset from its cache folder (its images key refreshed); DatasetError when the folder's files are not
    what was written."""
    try:
        meta = json.loads((cache_dir / "meta.json").read_text())
        bad = damaged(cache_dir, meta.get("files", {}))
        if bad:
            raise DatasetError(f"{', '.join(bad)} changed since it was written")
        # Read into memory (no memory map): a cache file shrunk behind the server's back cannot crash it.
        table = pl.read_parquet(cache_dir / "table.parquet", memory_map=False)
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"its files cannot be read ({exc.__class__.__name__})") from None
    meta = _refresh_images_key(cache_dir, root, meta, table)
    image_dir = root / meta["image_dir"] if meta["image_dir"] is not None else None
    return Dataset(
        key=cache_dir.name,
        name=name,
        root=root,
        layout=meta["layout"],
        table=table,
        attributes=tuple(meta["attributes"]),
        image_dir=image_dir,
        images_found=meta["images_found"],
        cache_dir=cache_dir,
        warnings=tuple(meta["warnings"]),
        is_demo=meta["is_demo"],
        aligned=meta["aligned"],
        extras=meta.get("extras", {}),
        images_key=meta.get("images_key", ""),
        labels_key=meta.get("labels_key", ""),
        split_key=meta.get("split_key", ""),
    )


def _write_cache(cache_dir: Path, root: Path, source) -> None:
    """Build into a temp folder and rename it into place, so a crash leaves nothing half written."""
    tmp = cache_dir.parent / f".tmp-{cache_dir.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write_parquet(tmp / "table.parquet", source.table)
        for key, frame in source.extra_tables.items():
            write_parquet(tmp / f"extra_{key}.parquet", frame)
        if source.embeddings is not None:
            vectors, valid = source.embeddings
            write_embeddings(
                tmp / "embeddings" / "csv", "csv", vectors, valid, source=source.extras.get("embedding_source")
            )
        image_dir = source.image_dir
        rel_image_dir = None
        if image_dir is not None:
            rel_image_dir = "." if image_dir == root else str(image_dir.relative_to(root))
        write_json(
            tmp / "meta.json",
            {
                "layout": source.layout,
                "attributes": list(source.attributes),
                "image_dir": rel_image_dir,
                "images_found": source.images_found,
                "warnings": source.warnings,
                "is_demo": (root / DEMO_MARKER).exists() if root.is_dir() else False,
                "aligned": source.aligned,
                "extras": source.extras,
                "rows": source.table.height,
                "source": str(root),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "images_key": images_key(source.table, image_dir),
                "older_work_adopted": False,
                "labels_key": labels_key(source.table, tuple(source.attributes)),
                "split_key": split_key(source.table),
                "files": records(tmp, ["table.parquet", *(f"extra_{k}.parquet" for k in source.extra_tables)]),
            },
        )
        try:
            os.rename(tmp, cache_dir)
        except OSError:
            if not (cache_dir / "meta.json").exists():  # another process won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ingest(root: Path, name: str | None = None, *, layout: str | None = None) -> Dataset:
    """Open a dataset folder, parsing it only when its cache is missing or its sources changed."""
    root = Path(root)
    name = name or (root.stem if root.is_file() else root.name)
    layout = layout or detect_layout(root)
    if layout is None:
        load_source(root)  # raises the explanatory DatasetError
    fp = fingerprint(root, layout)
    cache_dir = cache_root() / f"{_slug(name)}-{fp[:16]}"
    if (cache_dir / "meta.json").is_file():
        try:
            return _read_cached(cache_dir, root, name)
        except DatasetError as exc:  # damaged: set it aside and parse the sources again
            quarantine(cache_dir, f"copy of {name}'s annotations", str(exc), dataset=cache_dir.name)
    t0 = time.perf_counter()
    source = load_source(root, layout)
    with said_when_disk_full(f"the parsed copy of {name}'s annotations could not be saved"):
        cache_dir.parent.mkdir(parents=True, exist_ok=True)
        _write_cache(cache_dir, root, source)
    log.info("ingested %s (%s rows) in %.2fs", name, source.table.height, time.perf_counter() - t0)
    _remove_superseded(cache_dir, root)
    return _read_cached(cache_dir, root, name)


def _remove_superseded(current: Path, root: Path) -> None:
    """Delete older ingest folders of the same source (their embeddings live elsewhere, keyed by the images)."""
    for folder in current.parent.iterdir():
        if folder == current or folder.name.startswith(".") or ".damaged-" in folder.name:
            continue
        if not (folder / "meta.json").is_file():
            continue
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            continue
        if meta.get("source") == str(root) and not (folder / "embeddings").exists():
            shutil.rmtree(folder, ignore_errors=True)
            log.info("removed %s, superseded by %s", folder.name, current.name)


def discover() -> list[DatasetRef]:
    """Every dataset folder under the data roots, demo first, names made unique."""
    refs: list[DatasetRef] = []
    for root in data_roots():
        try:
            children = sorted(root.iterdir())
        except OSError:
            continue
        for child in children:
            if child.name.startswith(".") or not (child.is_dir() or child.suffix.lower() == ".csv"):
                continue
            layout = detect_layout(child)
            if layout:
                refs.append(DatasetRef(child.stem if child.is_file() else child.name, child, layout))
    names: dict[str, int] = {}
    unique = []
    for ref in refs:
        names[ref.name] = names.get(ref.name, 0) + 1
        label = ref.name if names[ref.name] == 1 else f"{ref.name} ({ref.path.parent.name})"
        unique.append(DatasetRef(label, ref.path, ref.layout))
    return sorted(unique, key=lambda r: (r.name != "demo", r.name.lower()))


def folder_without_dataset(name: str) -> Path | None:
    """The folder called `name` directly under a data root when FaceAtlas recognises no dataset in it (None when
    there is no such folder, or it is a dataset): what a link naming a dataset that is not listed points at."""
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\x00" in name:
        return None
    for root in data_roots():
        candidate = root / name
        if candidate.is_dir() and detect_layout(candidate) is None:
            return candidate
    return None


def resolve(path_or_name: str | Path) -> tuple[Path, str]:
    """A CLI argument (a folder path, or a dataset name under the data roots) -> (path, name)."""
    candidate = Path(path_or_name).expanduser()
    if candidate.exists():
        return candidate, candidate.stem if candidate.is_file() else candidate.resolve().name
    for ref in discover():
        if ref.name == str(path_or_name):
            return ref.path, ref.name
    known = ", ".join(r.name for r in discover()) or "none"
    raise DatasetError(f"No dataset folder or name {str(path_or_name)!r}. Datasets under data/: {known}.")


def open_dataset(path_or_name: str | Path, name: str | None = None) -> Dataset:
    """Resolve a path or data/ name and ingest it (from cache when unchanged)."""
    path, default_name = resolve(path_or_name)
    return ingest(path, name or default_name)
