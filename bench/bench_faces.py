"""Faces: pipeline throughput (classic face_recognition-style vs ours), detection, verification, fast path, neighbours.

    nice python -m bench.bench_faces [--images N] [--skip-quality]

Real images: ../shared/real/celeba_wild_sample (502 photos, 30 identities) and
178x218 crops cut from them the way CelebA aligned its img_align_celeba (eyes
moved to CelebA's mean aligned eye positions by a similarity transform).
Writes docs/bench/faces.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from bench.common import SHARED, fmt_s, table, timeit, write_section
from core.data.images import open_rgb
from core.faces import pipeline as faces
from core.faces.neighbours import build_index, hamming_distances, nearest, top_k

WILD = SHARED / "real" / "celeba_wild_sample"
CELEBA = 202_599
CHUNK = 8


# ---------------------------------------------------------------- pipelines (run in worker processes)


def classic_pipeline(paths: list[str]) -> int:
    """face_recognition-style: HOG upsample 1, 68-point landmarks, descriptor of every face."""
    hog = faces.load_dlib_model("hog")
    sp68 = faces.load_dlib_model("landmarks68")
    net = faces.load_dlib_model("descriptor")
    n = 0
    for p in paths:
        arr = np.asarray(open_rgb(p))
        for rect in hog(arr, 1):
            net.compute_face_descriptor(arr, sp68(arr, rect))
            n += 1
    return n


def our_pipeline(paths: list[str], aligned: bool, mirror: bool = True) -> int:
    config = faces.FaceConfig(mirror=mirror)
    return int(faces.describe_images(paths, aligned=aligned, config=config).status.size)


def _run(fn, chunks, workers: int, *extra) -> None:
    if workers == 1:
        for c in chunks:
            fn(c, *extra)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        list(pool.map(fn, chunks, *[[e] * len(chunks) for e in extra]))


def throughput(paths: list[Path], aligned: bool) -> dict:
    """Images/s of both pipelines with 1 and 2 workers (models warmed up in the parent before forking)."""
    chunks = [[str(p) for p in paths[i : i + CHUNK]] for i in range(0, len(paths), CHUNK)]
    for name in ("hog", "landmarks5", "landmarks68", "descriptor"):
        faces.load_dlib_model(name)
    out = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        _run(classic_pipeline, chunks, workers)
        out[("classic", workers)] = len(paths) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        _run(our_pipeline, chunks, workers, aligned)
        out[("ours", workers)] = len(paths) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        _run(our_pipeline, chunks, workers, aligned, False)
        out[("plain", workers)] = len(paths) / (time.perf_counter() - t0)
    return out


# ---------------------------------------------------------------- real-data quality


def identities() -> dict[str, str]:
    rows = [line.split() for line in (WILD / "identity.txt").read_text().splitlines()[1:]]
    return dict(rows)


def cut_crops(names: list[str], out: Path) -> dict:
    """Detect each wild photo's face (cascade), cut its CelebA-style crop; returns detection stats."""
    hog = faces.load_dlib_model("hog")
    stats = {
        "n": len(names),
        "up0": 0,
        "up01": 0,
        "cascade": 0,
        "t_up0": [],
        "t_up1": [],
        "t_rescue": [],
        "chips": {},
        "multi": 0,
    }
    for name in names:
        img = open_rgb(WILD / name)
        arr, scale = faces.to_array(img)
        t = time.perf_counter()
        b0 = list(hog(arr, 0))
        stats["t_up0"].append(time.perf_counter() - t)
        t = time.perf_counter()
        b1 = b0 if b0 else list(hog(arr, 1))
        stats["t_up1"].append(time.perf_counter() - t if not b0 else 0.0)
        stats["up0"] += bool(b0)
        stats["up01"] += bool(b0 or b1)
        t = time.perf_counter()
        boxes = faces.detect_faces(arr)
        if not (b0 or b1):
            stats["t_rescue"].append(time.perf_counter() - t)
        if not boxes:
            continue
        stats["cascade"] += 1
        stats["multi"] += len(boxes) > 1
        stats["chips"][name] = faces.face_chip(arr, faces.landmarks(arr, boxes[0]))
        eyes = faces.eye_centres68(faces.shape_points(faces.landmarks(arr, boxes[0], "landmarks68"))) / scale
        faces.align_like_celeba(img, eyes).save(out / name, quality=95)
    return stats


def verification(vectors: np.ndarray, who: np.ndarray) -> tuple[float, float, float]:
    """(best balanced accuracy, its threshold, balanced accuracy at 0.6) over all pairs."""
    d = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    iu = np.triu_indices(len(vectors), 1)
    same, dist = (who[:, None] == who[None])[iu], d[iu]

    def acc(t: float) -> float:
        return ((dist[same] < t).mean() + (dist[~same] >= t).mean()) / 2

    grid = np.arange(0.30, 0.90, 0.005)
    scores = [acc(t) for t in grid]
    best = int(np.argmax(scores))
    return scores[best], float(grid[best]), acc(0.6)


def quality(names: list[str], crops_dir: Path, det: dict) -> str:
    ids = identities()
    found = [n for n in names if n in det["chips"]]
    chips = np.stack([det["chips"][n] for n in found])
    plain = faces.describe_chips(chips, mirror=False)
    flip = faces.describe_chips(chips[:, :, ::-1], mirror=False)
    mirror = (plain + flip) / 2
    who = np.array([ids[n] for n in found])
    rows = []
    for label, v in (
        ("plain", plain),
        ("mirror-averaged", mirror),
        ("mirror-averaged, renormalised", mirror / np.linalg.norm(mirror, axis=1, keepdims=True)),
    ):
        best, t, at06 = verification(v, who)
        rows.append([label, f"{best:.4f}", f"{t:.3f}", f"{at06:.4f}"])
    text = "### Verification on the wild sample (all pairs of faces found)\n\n"
    text += f"{len(found)} faces, {len(set(who))} identities. Balanced accuracy = mean of same-pair and different-pair accuracy.\n\n"
    text += table(["descriptor", "best balanced accuracy", "best threshold", "at 0.6"], rows) + "\n\n"
    # aligned crops: the fixed face box alone (no detection) vs HOG's box
    hog = faces.load_dlib_model("hog")
    fixed_chips, det_chips, crop_names = [], [], []
    for n in found:
        arr = np.asarray(open_rgb(crops_dir / n))
        boxes = sorted((faces._rect_tuple(r) for r in hog(arr, 0) or hog(arr, 1)), key=faces._area, reverse=True)
        if boxes:
            crop_names.append(n)
            fixed_chips.append(faces.face_chip(arr, faces.landmarks(arr, faces.aligned_box(arr))))
            det_chips.append(faces.face_chip(arr, faces.landmarks(arr, boxes[0])))
    fd = faces.describe_chips(np.stack(fixed_chips), mirror=False)
    dd = faces.describe_chips(np.stack(det_chips), mirror=False)
    same_box = np.array([np.array_equal(a, b) for a, b in zip(fixed_chips, det_chips)])
    gap = np.linalg.norm(fd - dd, axis=1)
    cw = np.array([ids[n] for n in crop_names])
    fb, ft, _ = verification(fd, cw)
    db, dt, _ = verification(dd, cw)
    text += "### Aligned crops: skip detection (fixed face box) or not?\n\n"
    text += (
        f"{len(found)} crops (178x218) cut from the photos; HOG (upsample 0, then 1) finds a face in "
        f"{len(crop_names)} ({len(crop_names) / len(found):.1%}). On those, landmarks on the fixed box "
        f"{faces.ALIGNED_BOX} give the very same chip as on HOG's box in {same_box.mean():.1%} of crops; descriptor "
        f"distance fixed box vs HOG box: median {np.median(gap):.4f}, 95th percentile {np.percentile(gap, 95):.4f}, "
        f"max {gap.max():.4f} (max abs component difference {np.abs(fd - dd).max():.4f}, far above 1e-4).\n"
        f"Verification on these crops (plain descriptors): fixed box {fb:.4f} (threshold {ft:.3f}), HOG box "
        f"{db:.4f} (threshold {dt:.3f}).\n\n"
        "Decision: skipping detection does not give the same descriptors and verifies worse, so the aligned fast "
        "path keeps HOG (upsample 0 then 1: a few ms on a 178x218 crop, next to ~120 ms of descriptor) and drops "
        "only the slow rescue step: where HOG finds nothing the fixed box is used and the row flagged as a fallback.\n\n"
    )
    return text


def detection_text(det: dict) -> str:
    n = det["n"]
    rescue = det["t_rescue"]
    return (
        "### Face detection on the wild sample\n\n"
        + table(
            ["detector", "faces found", "mean time per image"],
            [
                ["HOG upsample 0", f"{det['up0']}/{n} ({det['up0'] / n:.1%})", fmt_s(np.mean(det["t_up0"]))],
                [
                    "+ HOG upsample 1 where 0 found none",
                    f"{det['up01']}/{n} ({det['up01'] / n:.1%})",
                    fmt_s(np.mean(det["t_up0"]) + np.mean(det["t_up1"])),
                ],
                [
                    "+ HOG upsample 2 (small images) / CNN where HOG found none (this pipeline)",
                    f"{det['cascade']}/{n} ({det['cascade'] / n:.1%})",
                    fmt_s(np.mean(det["t_up0"]) + np.mean(det["t_up1"]) + sum(rescue) / n),
                ],
            ],
        )
        + f"\n\nThe rescue step ran on {len(rescue)} images, {fmt_s(np.mean(rescue)) if rescue else '-'} each. "
        f"{det['multi']} photos had more than one face (the largest is kept).\n\n"
    )


# ---------------------------------------------------------------- neighbours


def neighbours_text() -> str:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(CELEBA, 128)).astype(np.float32)
    mask = rng.random(CELEBA) > 0.05
    index = build_index(vectors, mask)
    q = vectors[123]

    def naive():
        d = np.linalg.norm(vectors - q, axis=1)
        d[~mask] = np.inf
        return np.argsort(d)[:10]

    t_ours, rows = timeit(lambda: nearest(index, q, 10, "euclidean", exclude=123), repeat=9)
    t_cos, _ = timeit(lambda: nearest(index, q, 10, "cosine", exclude=123), repeat=9)
    t_naive, base = timeit(naive, repeat=5)
    assert rows[0][:9].tolist() == [r for r in base.tolist() if r != 123][:9]
    attrs = (rng.random((CELEBA, 40)) < 0.25).astype(np.uint8)
    t_ham, _ = timeit(lambda: top_k(hamming_distances(attrs, attrs[5]).astype(np.float32), 10, 5), repeat=9)
    t_ham_naive, _ = timeit(lambda: np.argsort((attrs != attrs[5]).sum(1), kind="stable")[:11], repeat=5)
    t_build, _ = timeit(lambda: build_index(vectors, mask), repeat=3)
    return (
        "### Nearest neighbours at CelebA scale (202,599 x 128 float32, top 10)\n\n"
        + table(
            ["query", "time"],
            [
                ["euclidean, norms precomputed + argpartition (ours)", fmt_s(t_ours)],
                ["cosine, unit vectors precomputed + argpartition (ours)", fmt_s(t_cos)],
                ["naive: np.linalg.norm(V - q) + full argsort", fmt_s(t_naive)],
                ["Hamming over 40 attributes, packbits + bitwise_count (ours)", fmt_s(t_ham)],
                ["Hamming naive: (A != q).sum + argsort", fmt_s(t_ham_naive)],
                ["index build (once per dataset, cached)", fmt_s(t_build)],
            ],
        )
        + "\n\n"
    )


def descriptor_text() -> str:
    chip = np.zeros((150, 150, 3), np.uint8) + 128
    chips = np.repeat(chip[None], 16, 0)
    faces.load_dlib_model("descriptor")
    t16, _ = timeit(lambda: faces.describe_chips(chips, mirror=False), repeat=3)
    return f"dlib descriptor (dlib-bin, no BLAS): {fmt_s(t16 / 16)} per chip in batches of 16 on one core.\n\n"


DECISIONS = """### Findings and decisions

- **Detection.** HOG upsample 0 first, upsample 1 only where 0 finds nothing, then a rescue step only where
  HOG finds nothing at all: HOG upsample 2 on images up to 700x700 px, else the CNN (mmod) detector. The rescue
  runs on a few percent of photos and lifts the found rate from HOG's figure to the cascade's (table above),
  beating the issue's 4.4 % misses of HOG upsample 1. It costs seconds per rescued image on this CPU (the CNN
  has no BLAS either), which is cheap spread over the dataset. Photos with several faces keep the largest
  (the count is stored per row in n_faces.npy).
- **Mirror-averaged descriptors** (mean of the descriptors of the chip and its horizontal flip, *not*
  renormalised) verify better than plain ones at the best threshold and clearly better at the customary 0.6
  (table above); renormalising to unit length hurts (it shrinks every distance, so 0.6 no longer means the same
  thing). Kept as the default (`FaceConfig.mirror`); `python -m core embed --no-mirror` halves the descriptor
  cost where speed matters more.
- **Aligned crops.** Landmarks on a fixed face box (skipping detection) give the same descriptors only where
  HOG would have returned that very box; elsewhere they differ by far more than 1e-4 and verify worse (section
  above). So the aligned fast path keeps HOG (upsample 0 then 1, a few ms on a 178x218 crop) and drops only the
  slow rescue: where HOG finds nothing, the fixed box (45, 83, 131, 170) is used and the row flagged as a
  fallback (status 2 in status.npy; counted as `fallback`).
- **Speed.** The dlib descriptor (dlib-bin has no BLAS) is the floor: about 120 ms per pass when the machine is
  quiet, and this pipeline runs two passes per face (mirror). On aligned crops the classic pipeline's only extra
  costs are HOG upsample 1 on a small crop and 68 landmarks, so with dlib's own descriptor ours cannot reach
  1.5x the classic rate; without mirror averaging it is about even-to-faster. The descriptor is pluggable
  (`core.faces.DESCRIPTOR_BACKENDS`, `--backend torch` once `core/faces/dlib_torch.py` from the dlib->torch port is
  merged): that is where the 2x+ comes from, and the chunked job already batches chips for it.
- Timings were taken while the 2 cores were shared with other jobs (load average well above 2), so absolute
  rates are pessimistic; ratios within one table come from the same run.
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=64, help="images per throughput run")
    parser.add_argument("--photos", type=int, default=0, help="use only the first N photos (0 = all 502)")
    parser.add_argument("--skip-quality", action="store_true", help="skip verification / fixed-box comparisons")
    args = parser.parse_args()
    names = sorted(p.name for p in WILD.glob("*.jpg"))
    names = names[: args.photos] if args.photos else names
    body = []
    with tempfile.TemporaryDirectory() as tmp:
        crops = Path(tmp)
        t0 = time.perf_counter()
        det = cut_crops(names, crops)
        print(f"detection + crops: {time.perf_counter() - t0:.0f}s", flush=True)
        sample = [n for n in names if n in det["chips"]][: args.images]
        wild = throughput([WILD / n for n in sample], aligned=False)
        aligned = throughput([crops / n for n in sample], aligned=True)
        print("throughput done", flush=True)
        rows = []
        for label, res in (("wild photos", wild), ("aligned 178x218 crops", aligned)):
            for w in (1, 2):
                c, o, p = res[("classic", w)], res[("ours", w)], res[("plain", w)]
                rows.append([label, w, f"{c:.2f}", f"{o:.2f}", f"{o / c:.2f}x", f"{p:.2f}", f"{p / c:.2f}x"])
        ours2 = aligned[("ours", 2)]
        body.append(
            "### Throughput (images/s; same images, same run)\n\n"
            f"{len(sample)} images. Classic = face_recognition-style (HOG upsample 1, 68-point landmarks, plain "
            "descriptor of every face). Ours = HOG 0 -> 1 -> rescue cascade, 5-point chip, mirror-averaged descriptor "
            "(two descriptor passes) of the largest face; on aligned crops the fast path (HOG only, no rescue). "
            "Wild photos: the classic pipeline runs HOG on the full-resolution photo (some are 20 megapixels), "
            "ours on a copy at most 1024 px on the longer side.\n\n"
            + table(
                ["images", "workers", "classic", "ours", "ours / classic", "ours, no mirror", "no mirror / classic"],
                rows,
            )
            + f"\n\nAll 202,599 CelebA aligned images at the 2-worker rate of ours ({ours2:.2f}/s): "
            f"{CELEBA / ours2 / 3600:.1f} h (at 1 worker: {CELEBA / aligned[('ours', 1)] / 3600:.1f} h; without "
            f"mirror averaging at 2 workers: {CELEBA / aligned[('plain', 2)] / 3600:.1f} h).\n\n"
        )
        body.append(descriptor_text())
        body.append(detection_text(det))
        if not args.skip_quality:
            body.append(quality(names, crops, det))
    body.append(neighbours_text())
    body.append(DECISIONS)
    write_section("faces", "Faces: pipeline, detection, verification, neighbours", "".join(body))


if __name__ == "__main__":
    main()
