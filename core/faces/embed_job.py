"""Embedding a whole dataset with the dlib face pipeline: chunked, parallel, resumable.

Chunks of rows are written atomically to cache/<key>/embeddings/dlib/chunks/ as
chunk_<index>.npz next to a manifest.json naming what they were computed with
(dataset key, model, pipeline version and settings, chunk size, rows). A run
whose manifest does not match clears the chunks first, so a changed dataset or
pipeline never mixes stale rows; an interrupted run finds its finished chunks
and computes only the rest. At the end the chunks are assembled into the
dataset's embedding matrix (core.embeddings.save_embeddings) and removed.
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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core import format as fmt
from core.data.artifacts import damaged
from core.data.atomic import save_npy, write_bytes, write_json
from core.data.dataset import Dataset
from core.data.embeddings import DLIB_MODEL, embeddings_root, list_embeddings, load_embeddings, save_embeddings
from core.errors import DatasetError
from core.faces import pipeline as faces
from core.faces import ray_runner
from core.processes import plain_main, worker_pool

log = logging.getLogger(__name__)

MODEL = DLIB_MODEL
DEFAULT_CHUNK = 64
FAILED_NAMES_KEPT = 50

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
    resumed: int  # rows taken from chunks of an earlier, interrupted run
    workers: int
    failed_files: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self) | {"failed_files": list(self.failed_files)}


def model_dir(ds: Dataset) -> Path:
    return embeddings_root(ds) / MODEL


def chunks_dir(ds: Dataset) -> Path:
    return model_dir(ds) / "chunks"


def job_token(ds: Dataset, config: faces.FaceConfig) -> str:
    """What the chunks depend on: the image files (their names and sizes), the model and the pipeline settings."""
    return f"{ds.images_key or ds.key}|{MODEL}|{config.cache_token()}"


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
    write_json(manifest_path, {"token": token, "rows": ds.n_images, "chunk_size": chunk_size, "created": time.time()})
    return folder, chunk_size


def _read_chunk(path: Path, rows: int) -> dict | None:
    """A finished chunk's arrays, or None when missing, truncated or of the wrong length."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in ("vectors", "status", "n_faces")}
    except Exception:
        return None
    if data["vectors"].shape != (rows, faces.DESCRIPTOR_DIM) or len(data["status"]) != rows:
        return None
    return data


def _write_chunk(path: Path, batch: faces.DescribedBatch) -> None:
    buf = io.BytesIO()
    np.savez(buf, vectors=batch.vectors, status=batch.status, n_faces=batch.n_faces)
    write_bytes(path, buf.getvalue())


def embed_paths(paths: list[str | None], aligned: bool, config: faces.FaceConfig, backend: str) -> faces.DescribedBatch:
    """Worker entry: one chunk of image paths (None = not a safe path) -> descriptors and status."""
    results = []
    for p in paths:
        if p is None:
            results.append(faces.FaceResult(faces.STATUS_FAILED, error="image path outside the dataset folder"))
            continue
        try:
            results.append(faces.process_image(p, aligned, config))
        except Exception as exc:
            log.warning("%s: %s", p, exc)
            results.append(faces.FaceResult(faces.STATUS_FAILED, error=f"{Path(p).name}: {exc}"))
    return faces.describe_results(results, config, backend)


def _chunk_paths(ds: Dataset, start: int, stop: int) -> list[str | None]:
    ids = ds.table["image_id"][start:stop].to_list()
    out = []
    for image_id in ids:
        path = ds.image_path(image_id)
        out.append(str(path) if path is not None else None)
    return out


def _existing_summary(ds: Dataset, token: str, t0: float) -> EmbedSummary | None:
    emb = load_embeddings(ds, MODEL)
    if emb is None or emb.meta.get("token") != token or emb.meta.get("rows") != ds.n_images:
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
    token = job_token(ds, config)
    done_before = _existing_summary(ds, token, t0)
    if done_before is not None:
        return done_before
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
    todo = [i for i in range(len(spans)) if i not in chunks]
    if stop_after_chunks is not None:
        todo = todo[:stop_after_chunks]
    done = resumed

    def report(message: str) -> None:
        if progress:
            progress(done, n, message)

    report(f"resuming: {fmt.count(resumed)} images already done" if resumed else "starting")
    for index, batch in _run_chunks(ds, spans, todo, workers, config, backend, ray):
        _write_chunk(_chunk_path(folder, index), batch)
        chunks[index] = {"vectors": batch.vectors, "status": batch.status, "n_faces": batch.n_faces}
        done += spans[index][1] - spans[index][0]
        report(f"{fmt.count(done)} / {fmt.count(n)} images")
    if len(chunks) < len(spans):
        return _summary(ds, chunks, spans, t0, resumed, workers, assembled=False)
    summary = _summary(ds, chunks, spans, t0, resumed, workers, assembled=True)
    _assemble(ds, chunks, spans, token, summary, backend)
    shutil.rmtree(folder, ignore_errors=True)
    return summary


def _run_chunks(ds, spans, todo, workers, config, backend, ray=None):
    """Yield (chunk index, DescribedBatch) as chunks finish, in-process for one worker."""
    if ray is not None:
        yield from _run_chunks_on_ray(ds, spans, todo, workers, config, backend, ray)
        return
    if workers == 1 or len(todo) <= 1:
        for index in todo:
            yield index, embed_paths(_chunk_paths(ds, *spans[index]), ds.aligned, config, backend)
        return
    with worker_pool(min(workers, len(todo))) as pool:  # workers exit with this process (kill -9 leaves none)
        with plain_main():  # the workers start here: they must not run the caller's script (a page, a test)
            futures = {
                pool.submit(embed_paths, _chunk_paths(ds, *spans[i]), ds.aligned, config, backend): i for i in todo
            }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_chunks_on_ray(ds, spans, todo, workers, config, backend, ray: ray_runner.RayTarget):
    """The same chunks as Ray tasks; paths made absolute, since workers run elsewhere (core.faces.ray_runner)."""
    jobs = {}
    for index in todo:
        paths = [os.path.abspath(p) if p is not None else None for p in _chunk_paths(ds, *spans[index])]
        jobs[index] = (paths, ds.aligned, config, backend)
    shared_dir = Path(os.path.abspath(ds.image_dir))
    yield from ray_runner.run_tasks(ray, embed_paths, jobs, workers, shared_dir)


def _concat(chunks: dict, spans: list, key: str) -> np.ndarray:
    return np.concatenate([chunks[i][key] for i in range(len(spans)) if i in chunks])


def _summary(ds, chunks, spans, t0, resumed, workers, assembled: bool) -> EmbedSummary:
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
    )


def _assemble(ds, chunks, spans, token, summary: EmbedSummary, backend: str) -> None:
    vectors = _concat(chunks, spans, "vectors")
    status = _concat(chunks, spans, "status")
    folder = model_dir(ds)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").unlink(missing_ok=True)
    save_npy(folder / "status.npy", status)
    save_npy(folder / "n_faces.npy", _concat(chunks, spans, "n_faces"))
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
