"""The images key at CelebA scale: what keying embeddings by content costs beside names and sizes.

A folder of 202,599 image files (hard links to the drawn demo's faces, copied once into a temp folder: every name
is opened and read as a real dataset's would be; their bytes come from the page cache, as on a server that read
them before), then times:
- baseline: the key of earlier versions (image names and sizes: one listing and one stat per file);
- cold: content digests with no digest cache (every file opened and read);
- warm: the same scan again (a stat per file; nothing read): what every open of the dataset costs;
- after `touch` of every file: every file read again, the key unchanged.

    python -m bench.bench_fingerprints [--images 202599] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl

from bench.common import PROJECT, fmt_s, table, write_section
from core.data.celeba import CELEBA_IMAGES
from core.data.fingerprints import image_digests
from core.data.ingest import _names_and_sizes_key
from core.demo import generate_demo

TARGET_WARM_S = 3.0


def build_folder(root: Path, n_images: int, faces: Path | None) -> list[str]:
    """root/img holding n_images names (hard links to copies of a few thousand drawn faces); their ids."""
    copies = root / "faces"
    if faces is None:
        generate_demo(root / "demo", n_images=6000, seed=0)
        faces = root / "demo" / "Img" / "img_align_celeba"
    shutil.copytree(faces, copies)  # linked from here: the source folder is only read
    sources = sorted(copies.glob("*.jpg"))
    images = root / "img"
    images.mkdir()
    ids = [f"{i + 1:06d}.jpg" for i in range(n_images)]
    for i, name in enumerate(ids):
        os.link(sources[i % len(sources)], images / name)
    return ids


def timed(fn, repeat: int, before=None) -> tuple[float, float, object]:
    """(median wall seconds, median CPU seconds of this process and its threads, last result)."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        if before:
            before()
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=CELEBA_IMAGES)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--faces", type=Path, default=None, help="a folder of drawn faces to use (default: draw 6,000)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fingerprints-", dir=os.environ.get("TMPDIR")))
    os.environ["FACEATLAS_CACHE"] = str(root / "cache")
    try:
        ids = build_folder(root, args.images, args.faces)
        frame = pl.DataFrame({"image_id": ids})
        images = root / "img"
        cache = root / "cache" / "fingerprints"
        load0 = os.getloadavg()[0]
        base = timed(lambda: _names_and_sizes_key(frame, images), args.repeat)
        cold = timed(lambda: image_digests(ids, images), args.repeat, lambda: shutil.rmtree(cache, True))
        warm = timed(lambda: image_digests(ids, images), args.repeat + 2)
        touched = timed(lambda: image_digests(ids, images), 1, lambda: [os.utime(images / i) for i in ids])
        assert cold[2].key == warm[2].key == touched[2].key and warm[2].read == 0 and touched[2].read == len(ids)
        load1 = os.getloadavg()[0]
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def cell(result) -> str:
        return f"{fmt_s(result[0])} ({fmt_s(result[1])})"

    rows = [
        ["Names and sizes (earlier versions' key: baseline)", cell(base), "", "–"],
        ["Content digests, cold (every file read)", cell(cold), "", f"{cold[0] / base[0]:.1f}× the baseline"],
        [
            "Content digests, warm (a stat per file): every open",
            cell(warm),
            f"< {fmt_s(TARGET_WARM_S)}",
            f"{warm[0] / base[0]:.1f}× the baseline",
        ],
        ["After `touch` of every file (all read again, same key)", cell(touched), "", ""],
    ]
    met = warm[0] < TARGET_WARM_S
    body = (
        f"{args.images:,} image files (hard links to 6,000 drawn faces; their bytes in the page cache), keyed as "
        f"{PROJECT.name} keys embeddings, pixel caches and image scans. Medians of {args.repeat} run(s) (warm: "
        f"{args.repeat + 2}); wall clock with the CPU time of the process and its threads in brackets (load average "
        f"{load0:.1f} at the start, {load1:.1f} at the end, on {os.cpu_count()} cores).\n\n"
        + table(["Scan", "Wall (CPU)", "Target", "Beside the baseline"], rows)
        + ("\n\nTarget met." if met else "\n\nTarget missed.")
    )
    write_section("fingerprints", "The images key at CelebA scale: content digests beside names and sizes", body)


if __name__ == "__main__":
    main()
