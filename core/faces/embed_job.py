"""Embedding a whole dataset with the dlib face pipeline: chunked, parallel, resumable, reusing by content.

Chunks of rows are written atomically to cache/embeddings/<images key>/dlib/chunks/ as
chunk_<index>.npz next to a manifest.json naming what they were computed with
(the images key, model, pipeline version and settings, chunk size, rows). A run
whose manifest does not match clears the chunks first, so a changed dataset or
pipeline never mixes stale rows; an interrupted run finds its finished chunks
and computes only the rest. At the end the chunks are assembled into the
dataset's embedding matrix (core.embeddings.save_embeddings) and removed.

Each row keeps the content digest of the bytes it was computed from (core.data.fingerprints), so work is reused by
content: a dataset whose files changed (a photo replaced, files added) takes every unchanged file's descriptor from
the sets and chunks stored under earlier keys and computes only the rest. A folder that changes while the job runs
is opened again when it ends, and the work carried over to its new key (nothing finished is left under the old one).
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from core import format as fmt
from core.data.artifacts import damaged
from core.data.atomic import save_npy, write_bytes, write_json
from core.data.dataset import Dataset
from core.data.embeddings import DLIB_MODEL, embeddings_root, list_embeddings, load_embeddings, save_embeddings
from core.data.fingerprints import DIGEST_BYTES, MISSING, bytes_digest, image_digests
from core.data.images import MAX_IMAGE_FILE_BYTES, read_image_file
from core.data.ingest import ingest
from core.data.paths import cache_root
from core.errors import DatasetError, ImageError
from core.faces import pipeline as faces
from core.faces import ray_runner
from core.processes import plain_main, worker_pool

log = logging.getLogger(__name__)

MODEL = DLIB_MODEL
DEFAULT_CHUNK = 64
FAILED_NAMES_KEPT = 50
MAX_ROUNDS = 3  # a folder still changing after this many rounds is left to the next run
MAX_DONORS = 6  # earlier sets and chunk folders whose rows may be reused (the newest first)
ROW_ARRAYS = ("vectors", "status", "n_faces", "digests")  # what a chunk holds per row

ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class EmbedSummary:
    """What an embedding run did; the CLI prints it as JSON."""

    images: int
    embedded: int  # rows with a descriptor (detected, fast path or fallback)
    no_face: int
    failed: int
    fallback: int  # aligned images where nothing was detected and the fixed box was used
    aligned_fast: int
    multiple_faces: int
    seconds: float
    model: str
    resumed: int  # rows taken from chunks of an earlier, interrupted run (or reused)
    workers: int
    failed_files: tuple[str, ...] = ()
    reused: int = 0  # rows whose unchanged files were embedded before under another key (taken, not computed)

    def as_dict(self) -> dict:
        return asdict(self) | {"failed_files": list(self.failed_files)}


def model_dir(ds: Dataset) -> Path:
    return embeddings_root(ds) / MODEL


def chunks_dir(ds: Dataset) -> Path:
    return model_dir(ds) / "chunks"


def settings_token(config: faces.FaceConfig) -> str:
    """What a descriptor depends on besides the image's bytes: the model and the pipeline settings."""
    return f"{MODEL}|{config.cache_token()}"


def job_token(ds: Dataset, config: faces.FaceConfig) -> str:
    """What the chunks depend on: the image files' content (the images key) and settings_token."""
    return f"{ds.images_key or ds.key}|{settings_token(config)}"


def _chunk_path(folder: Path, index: int) -> Path:
    return folder / f"chunk_{index:06d}.npz"


def _prepare_chunks(ds: Dataset, token: str, chunk_size: int) -> tuple[Path, int]:
    """Chunk folder whose manifest matches `token` (stale chunks removed); returns (folder, chunk size)."""
    folder = chunks_dir(ds)
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = None
    if manifest and manifest.get("token") == token and manifest.get("rows") == ds.n_images:
        return folder, int(manifest["chunk_size"])
    if folder.exists():
        log.info("clearing stale chunks in %s", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    manifest = {"token": token, "rows": ds.n_images, "chunk_size": chunk_size, "aligned": ds.aligned}
    write_json(manifest_path, manifest | {"created": time.time()})
    return folder, chunk_size


def _read_chunk(path: Path, rows: int) -> dict | None:
    """A finished chunk's arrays, or None when missing, truncated or of the wrong length (digests: zeros in a
    chunk of an earlier version, which never matches a file)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in ROW_ARRAYS if k in z.files}
    except Exception:
        return None
    if set(data) < {"vectors", "status", "n_faces"}:
        return None
    data.setdefault("digests", np.zeros((rows, DIGEST_BYTES), np.uint8))
    if data["vectors"].shape != (rows, faces.DESCRIPTOR_DIM) or len(data["status"]) != rows:
        return None
    if data["digests"].shape != (rows, DIGEST_BYTES):
        return None
    return data


def _write_chunk(path: Path, chunk: dict) -> None:
    buf = io.BytesIO()
    np.savez(buf, **{k: chunk[k] for k in ROW_ARRAYS})
    write_bytes(path, buf.getvalue())


def embed_paths(paths: list[str | None], aligned: bool, config: faces.FaceConfig, backend: str) -> faces.DescribedBatch:
    """Worker entry: one chunk of image paths (None = not a safe path) -> descriptors, status and the content digest
    of the bytes each was computed from (zeros where nothing was read)."""
    results, digests = [], np.zeros((len(paths), DIGEST_BYTES), np.uint8)
    for i, p in enumerate(paths):
        if p is None:
            results.append(faces.FaceResult(faces.STATUS_FAILED, error="image path outside the dataset folder"))
            continue
        try:
            data = read_image_file(p)
            digests[i] = np.frombuffer(bytes_digest(data), np.uint8)
            results.append(faces.process_image(data, aligned, config, max_bytes=MAX_IMAGE_FILE_BYTES))
        except ImageError as exc:
            results.append(faces.FaceResult(faces.STATUS_FAILED, error=str(exc)))
        except Exception as exc:
            log.warning("%s: %s", p, exc)
            results.append(faces.FaceResult(faces.STATUS_FAILED, error=f"{Path(p).name}: {exc}"))
    failed = np.array([r.status == faces.STATUS_FAILED for r in results], bool)
    digests[failed] = 0  # a failure is not kept as an answer for that content: it is tried again next time
    return replace(faces.describe_results(results, config, backend), digests=digests)


def _row_paths(ds: Dataset, rows: np.ndarray) -> list[str | None]:
    ids = ds.table["image_id"]
    out = []
    for row in rows:
        path = ds.image_path(ids[int(row)])
        out.append(str(path) if path is not None else None)
    return out


def _existing_summary(ds: Dataset, config: faces.FaceConfig, t0: float) -> EmbedSummary | None:
    """The summary of a finished set of this images key and these settings, or None (the images key is where it
    is stored; a set adopted from an earlier key keeps that key in its token)."""
    emb = load_embeddings(ds, MODEL)
    settings = str(emb.meta.get("token", "")).partition("|")[2] if emb is not None else ""
    if emb is None or settings != settings_token(config) or emb.meta.get("rows") != ds.n_images:
        return None
    m = emb.meta
    return EmbedSummary(
        images=ds.n_images,
        embedded=m["with_face"],
        no_face=m["no_face"],
        failed=m["failed"],
        fallback=m["fallback"],
        aligned_fast=m["aligned_fast"],
        multiple_faces=m["multiple_faces"],
        seconds=round(time.perf_counter() - t0, 3),
        model=MODEL,
        resumed=ds.n_images,
        workers=0,
        failed_files=tuple(m.get("failed_files", ())),
    )


def embed_dataset(
    ds: Dataset,
    workers: int | None = None,
    config: faces.FaceConfig = faces.FaceConfig(),
    backend: str = faces.DEFAULT_BACKEND,
    chunk_size: int = DEFAULT_CHUNK,
    progress: ProgressFn | None = None,
    stop_after_chunks: int | None = None,
    ray: ray_runner.RayTarget | None = None,
) -> EmbedSummary:
    """Compute (or resume, or reuse) the dlib embeddings of every image of `ds`.

    With `ray`, the chunks run as Ray tasks on that target instead of local worker processes (workers: CPUs
    used, default all of the cluster's); the chunk files, resume and result are the same.

    stop_after_chunks stops after computing that many new chunks without assembling
    (what an interrupted run leaves behind); the summary then counts only those rows.
    When the image folder changed while the job ran, the dataset is opened again and its changed files embedded,
    the rest carried over, until it holds still (at most MAX_ROUNDS times).
    """
    t0 = time.perf_counter()
    if ds.layout == "embedding_csv" or (MODEL not in list_embeddings(ds) and "csv" in list_embeddings(ds)):
        emb = load_embeddings(ds, "csv")
        if emb is not None:
            return _csv_summary(ds, emb, t0)
    if not ds.has_images:
        raise DatasetError(
            f"{ds.name} has no image files, so there is nothing to embed. Put its images beside the annotations."
        )
    written: list[Path] = []  # sets this run wrote under a key the folder no longer has, then carried over
    for round_ in range(MAX_ROUNDS):
        existed = (model_dir(ds) / "meta.json").is_file()
        summary = _embed_once(ds, workers, config, backend, chunk_size, progress, stop_after_chunks, ray, t0)
        if stop_after_chunks is not None or summary.images < ds.n_images:
            return summary
        now = _reopened(ds)
        if now is None or now.images_key == ds.images_key or round_ == MAX_ROUNDS - 1:
            break
        log.info("%s changed while it was embedded: carrying the work over to its new content", ds.name)
        if progress:
            progress(0, now.n_images, "the image folder changed meanwhile: embedding what changed")
        if not existed:
            written.append(model_dir(ds))
        ds = now
    for folder in written:  # carried over: nothing finished stays under a key no dataset has
        shutil.rmtree(folder, ignore_errors=True)
    return summary


def _reopened(ds: Dataset) -> Dataset | None:
    """The dataset as its folder is now (its images key computed again), or None when it cannot be opened."""
    try:
        return ingest(ds.root, ds.name)
    except DatasetError as exc:
        log.warning("could not open %s again after embedding it: %s", ds.name, exc)
        return None


def _embed_once(ds, workers, config, backend, chunk_size, progress, stop_after_chunks, ray, t0) -> EmbedSummary:
    """One pass of embed_dataset over the dataset as it was opened."""
    done_before = _existing_summary(ds, config, t0)
    if done_before is not None:
        return done_before
    token = job_token(ds, config)
    if ray is not None:
        workers = workers or ray_runner.cluster_cpus(ray)
    workers = max(1, workers or os.cpu_count() or 1)
    # Small datasets get smaller chunks so every worker has several (a resume keeps the manifest's size).
    chunk_size = max(1, min(chunk_size, math.ceil(ds.n_images / (workers * 4))))
    folder, chunk_size = _prepare_chunks(ds, token, chunk_size)
    n = ds.n_images
    spans = [(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]
    chunks: dict[int, dict] = {}
    for index, (start, stop) in enumerate(spans):
        data = _read_chunk(_chunk_path(folder, index), stop - start)
        if data is not None:
            chunks[index] = data
    resumed = sum(spans[i][1] - spans[i][0] for i in chunks)
    earlier = _earlier_rows(ds, config, [i for i in range(len(spans)) if i not in chunks], spans)
    reused = 0
    for index, rows in list(earlier.items()):  # chunks whose every file was embedded before: taken as they are
        if rows.all_found:
            chunks[index] = rows.chunk
            _write_chunk(_chunk_path(folder, index), rows.chunk)
            reused += len(rows.found)
            del earlier[index]
    todo = [i for i in range(len(spans)) if i not in chunks]
    if stop_after_chunks is not None:
        todo = todo[:stop_after_chunks]
    done = resumed + reused

    def report(message: str) -> None:
        if progress:
            progress(done, n, message)

    if resumed or reused:
        report(f"resuming: {fmt.count(done)} images already done")
    else:
        report("starting")
    rows_to_compute = {
        i: np.arange(*spans[i])[~earlier[i].found] if i in earlier else np.arange(*spans[i]) for i in todo
    }
    for index, batch in _run_chunks(ds, rows_to_compute, workers, config, backend, ray):
        chunk = _merge(earlier.get(index), spans[index], rows_to_compute[index], batch)
        _write_chunk(_chunk_path(folder, index), chunk)
        chunks[index] = chunk
        reused += spans[index][1] - spans[index][0] - len(rows_to_compute[index])
        done += spans[index][1] - spans[index][0]
        report(f"{fmt.count(done)} / {fmt.count(n)} images")
    if len(chunks) < len(spans):
        return _summary(ds, chunks, spans, t0, resumed + reused, workers, False, reused)
    summary = _summary(ds, chunks, spans, t0, resumed + reused, workers, True, reused)
    _assemble(ds, chunks, spans, token, summary, backend)
    shutil.rmtree(folder, ignore_errors=True)
    return summary


@dataclass(frozen=True)
class EarlierRows:
    """The rows of one chunk whose files were embedded before (same content, same settings), taken from there."""

    found: np.ndarray  # (rows,) bool
    chunk: dict  # ROW_ARRAYS of the chunk's rows (zeros where not found)

    @property
    def all_found(self) -> bool:
        return bool(self.found.all())


def _earlier_rows(ds: Dataset, config: faces.FaceConfig, indices: list[int], spans: list) -> dict[int, EarlierRows]:
    """{chunk index: EarlierRows} for the chunks with at least one row whose file's content was embedded before."""
    if not indices:
        return {}
    donors = _donors(ds, settings_token(config))
    if not donors:
        return {}
    where: dict[bytes, tuple[int, int]] = {}
    for d, donor in enumerate(donors):
        for row, digest in enumerate(donor["digests"]):
            key = digest.tobytes()
            if key != MISSING and any(digest):
                where.setdefault(key, (d, row))
    now = image_digests(ds.table["image_id"].to_list(), ds.image_dir).digests
    out = {}
    for index in indices:
        start, stop = spans[index]
        hits = [where.get(now[r].tobytes()) for r in range(start, stop)]
        found = np.array([h is not None for h in hits], bool)
        if not found.any():
            continue
        chunk = _empty_chunk(stop - start)
        for j, hit in enumerate(hits):
            if hit is not None:
                for k in ROW_ARRAYS:
                    chunk[k][j] = donors[hit[0]][k][hit[1]]
        out[index] = EarlierRows(found, chunk)
    return out


def _empty_chunk(rows: int) -> dict:
    return {
        "vectors": np.zeros((rows, faces.DESCRIPTOR_DIM), np.float32),
        "status": np.zeros(rows, np.int8),
        "n_faces": np.zeros(rows, np.int16),
        "digests": np.zeros((rows, DIGEST_BYTES), np.uint8),
    }


def _donors(ds: Dataset, settings: str) -> list[dict]:
    """ROW_ARRAYS of the stored sets and chunk folders under other images keys computed with these settings on
    images of the same kind (aligned or not), newest first: what a changed dataset can reuse."""
    root = cache_root() / "embeddings"
    mine = model_dir(ds)
    candidates = []
    for folder in root.glob(f"*/{MODEL}"):
        if folder == mine or folder.parent.name.startswith("."):
            continue
        for source in (folder, folder / "chunks"):
            meta_path = source / ("meta.json" if source == folder else "manifest.json")
            try:
                candidates.append((meta_path.stat().st_mtime, source, json.loads(meta_path.read_text())))
            except (OSError, ValueError):
                continue
    donors = []
    for _, source, meta in sorted(candidates, key=lambda c: c[0], reverse=True):
        if str(meta.get("token", "")).partition("|")[2] != settings or meta.get("aligned") != ds.aligned:
            continue
        rows = _set_rows(source, meta) if source.name == MODEL else _chunk_rows(source)
        if rows is not None:
            donors.append(rows)
        if len(donors) >= MAX_DONORS:
            break
    return donors


def _set_rows(folder: Path, meta: dict) -> dict | None:
    """ROW_ARRAYS of a finished set that recorded its digests (checked against their records), or None."""
    names = {"vectors": "vectors.npy", "status": "status.npy", "n_faces": "n_faces.npy", "digests": "digests.npy"}
    recorded = meta.get("files", {})
    if not all(name in recorded for name in names.values()) or damaged(folder, recorded):
        return None
    try:
        return {k: np.load(folder / name, allow_pickle=False) for k, name in names.items()}
    except (OSError, ValueError):
        return None


def _chunk_rows(folder: Path) -> dict | None:
    """ROW_ARRAYS of the finished chunks of an interrupted run (those with digests), or None."""
    parts = [c for c in (_read_chunk_any(p) for p in sorted(folder.glob("chunk_*.npz"))) if c is not None]
    if not parts:
        return None
    return {k: np.concatenate([c[k] for c in parts]) for k in ROW_ARRAYS}


def _read_chunk_any(path: Path) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in ROW_ARRAYS} if set(ROW_ARRAYS) <= set(z.files) else None
    except Exception:
        return None


def _merge(earlier: EarlierRows | None, span: tuple[int, int], computed: np.ndarray, batch) -> dict:
    """One chunk's ROW_ARRAYS: the rows taken from earlier work and those just computed (`computed` table rows)."""
    chunk = earlier.chunk if earlier is not None else _empty_chunk(span[1] - span[0])
    at = computed - span[0]
    chunk["vectors"][at] = batch.vectors
    chunk["status"][at] = batch.status
    chunk["n_faces"][at] = batch.n_faces
    chunk["digests"][at] = batch.digests if batch.digests is not None else 0
    return chunk


def _run_chunks(ds, rows_to_compute: dict[int, np.ndarray], workers, config, backend, ray=None):
    """Yield (chunk index, DescribedBatch of its rows to compute) as chunks finish, in-process for one worker."""
    if ray is not None:
        yield from _run_chunks_on_ray(ds, rows_to_compute, workers, config, backend, ray)
        return
    todo = list(rows_to_compute)
    if workers == 1 or len(todo) <= 1:
        for index in todo:
            yield index, embed_paths(_row_paths(ds, rows_to_compute[index]), ds.aligned, config, backend)
        return
    with worker_pool(min(workers, len(todo))) as pool:  # workers exit with this process (kill -9 leaves none)
        with plain_main():  # the workers start here: they must not run the caller's script (a page, a test)
            futures = {
                pool.submit(embed_paths, _row_paths(ds, rows_to_compute[i]), ds.aligned, config, backend): i
                for i in todo
            }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_chunks_on_ray(ds, rows_to_compute, workers, config, backend, ray: ray_runner.RayTarget):
    """The same chunks as Ray tasks; paths made absolute, since workers run elsewhere (core.faces.ray_runner)."""
    jobs = {}
    for index, rows in rows_to_compute.items():
        paths = [os.path.abspath(p) if p is not None else None for p in _row_paths(ds, rows)]
        jobs[index] = (paths, ds.aligned, config, backend)
    shared_dir = Path(os.path.abspath(ds.image_dir))
    yield from ray_runner.run_tasks(ray, embed_paths, jobs, workers, shared_dir)


def _concat(chunks: dict, spans: list, key: str) -> np.ndarray:
    return np.concatenate([chunks[i][key] for i in range(len(spans)) if i in chunks])


def _summary(ds, chunks, spans, t0, resumed, workers, assembled: bool, reused: int = 0) -> EmbedSummary:
    status = _concat(chunks, spans, "status") if chunks else np.zeros(0, np.int8)
    n_faces = _concat(chunks, spans, "n_faces") if chunks else np.zeros(0, np.int16)
    failed_rows = [
        start + j
        for i, (start, stop) in enumerate(spans)
        if i in chunks
        for j in np.flatnonzero(chunks[i]["status"] == faces.STATUS_FAILED)
    ]
    ids = ds.table["image_id"]
    return EmbedSummary(
        images=ds.n_images if assembled else len(status),
        embedded=int(np.isin(status, (faces.STATUS_FACE, faces.STATUS_ALIGNED, faces.STATUS_FALLBACK)).sum()),
        no_face=int((status == faces.STATUS_NO_FACE).sum()),
        failed=int((status == faces.STATUS_FAILED).sum()),
        fallback=int((status == faces.STATUS_FALLBACK).sum()),
        aligned_fast=int((status == faces.STATUS_ALIGNED).sum()),
        multiple_faces=int((n_faces > 1).sum()),
        seconds=round(time.perf_counter() - t0, 3),
        model=MODEL,
        resumed=resumed,
        workers=workers,
        failed_files=tuple(str(ids[int(r)]) for r in failed_rows[:FAILED_NAMES_KEPT]),
        reused=reused,
    )


def _assemble(ds, chunks, spans, token, summary: EmbedSummary, backend: str) -> None:
    vectors = _concat(chunks, spans, "vectors")
    status = _concat(chunks, spans, "status")
    folder = model_dir(ds)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").unlink(missing_ok=True)
    save_npy(folder / "status.npy", status)
    save_npy(folder / "n_faces.npy", _concat(chunks, spans, "n_faces"))
    save_npy(folder / "digests.npy", _concat(chunks, spans, "digests"))
    has_face = np.isin(status, (faces.STATUS_FACE, faces.STATUS_ALIGNED, faces.STATUS_FALLBACK))
    save_embeddings(
        ds,
        MODEL,
        vectors,
        has_face,
        no_face=summary.no_face,
        failed=summary.failed,
        fallback=summary.fallback,
        aligned_fast=summary.aligned_fast,
        multiple_faces=summary.multiple_faces,
        failed_files=list(summary.failed_files),
        token=token,
        aligned=ds.aligned,
        backend=backend,
        seconds=summary.seconds,
        status_codes=faces.STATUS_NAMES,
    )


def _csv_summary(ds: Dataset, emb, t0: float) -> EmbedSummary:
    n_valid = emb.n_valid
    return EmbedSummary(
        images=ds.n_images,
        embedded=n_valid,
        no_face=ds.n_images - n_valid,
        failed=0,
        fallback=0,
        aligned_fast=0,
        multiple_faces=0,
        seconds=round(time.perf_counter() - t0, 3),
        model="csv",
        resumed=ds.n_images,
        workers=0,
    )


def load_status(ds: Dataset) -> np.ndarray | None:
    """(N,) int8 per-row STATUS_* codes of the stored dlib embeddings, or None (absent or not as written)."""
    return _recorded_rows(ds, "status.npy")


def load_face_counts(ds: Dataset) -> np.ndarray | None:
    """(N,) int16 number of faces dlib found in each image of the stored run, or None (absent or not as written)."""
    return _recorded_rows(ds, "n_faces.npy")


def _recorded_rows(ds: Dataset, name: str) -> np.ndarray | None:
    folder = model_dir(ds)
    try:
        recorded = json.loads((folder / "meta.json").read_text()).get("files", {})
        if damaged(folder, {k: r for k, r in recorded.items() if k == name}):
            return None
        rows = np.load(folder / name, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return rows if len(rows) == ds.n_images else None
