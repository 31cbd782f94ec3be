"""dlib's 128-d face descriptor: dlib-bin (no BLAS) vs the same network in torch (core.faces.dlib_torch).

Real faces: HOG detector (upsample 1) + 5-point landmarks + dlib.get_face_chip(size=150,
padding=0.25) on photos of ../shared/real/celeba_wild_sample. Accuracy: torch vs dlib's
compute_face_descriptor on the same chips. Speed: median per-face time of each, in the same run.

    python -m bench.bench_descriptor [--images 140] [--repeat 3] [--dlib-blas DIR]

--dlib-blas DIR: also time a dlib Python module built from source with BLAS (the folder
holding its _dlib_pybind11*.so; set LD_LIBRARY_PATH for its BLAS), in a subprocess since it
cannot share a process with dlib-bin.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.common import SHARED, fmt_s, table, timeit, write_section
from core.data.images import open_rgb
from core.faces.dlib_torch import TorchFaceDescriptor, dlib_model_path

logger = logging.getLogger(__name__)

WILD = SHARED / "real" / "celeba_wild_sample"
CELEBA_IMAGES = 202_599


def face_chips(n_images: int) -> tuple[np.ndarray, list]:
    """(n, 150, 150, 3) uint8 chips of the largest face in the first n_images photos, and (image, shape) pairs."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
    chips, sources = [], []
    for path in sorted(WILD.glob("*.jpg"))[:n_images]:
        img = np.asarray(open_rgb(path))
        faces = detector(img, 1)
        if not faces:
            continue
        face = max(faces, key=lambda r: r.area())
        shape = predictor(img, face)
        chips.append(dlib.get_face_chip(img, shape, size=150, padding=0.25))
        sources.append((img, shape))
    return np.stack(chips), sources


def accuracy(chips: np.ndarray, sources: list, facerec) -> tuple[str, np.ndarray]:
    """Max/mean |torch - dlib| over all descriptor components, folded and unfolded affine layers."""
    reference = np.array([facerec.compute_face_descriptor(chip) for chip in chips], dtype=np.float32)
    # The chip overload and the (image, shape) overload must agree for the comparison to mean anything.
    via_shape = np.array([facerec.compute_face_descriptor(img, shape) for img, shape in sources[:5]], dtype=np.float32)
    chip_vs_shape = float(np.abs(via_shape - reference[:5]).max())
    rows = []
    for fold in (True, False):
        ours = TorchFaceDescriptor(batch_size=64, fold_affine=fold).compute(chips)
        diff = np.abs(ours - reference)
        dist_diff = np.abs(
            np.linalg.norm(ours[:, None] - ours[None], axis=2)
            - np.linalg.norm(reference[:, None] - reference[None], axis=2)
        )
        rows.append(
            [
                "folded into conv (default)" if fold else "separate (as dlib)",
                f"{diff.max():.2e}",
                f"{diff.mean():.2e}",
                f"{dist_diff.max():.2e}",
            ]
        )
    body = table(["affine layers", "max abs diff", "mean abs diff", "max pairwise-distance diff"], rows)
    body += (
        f"\n\n{len(chips)} real face chips; |descriptor| components up to {np.abs(reference).max():.3f}. "
        f"dlib's chip overload vs its (image, shape) overload on 5 faces: max diff {chip_vs_shape:.1e}."
    )
    return body, reference


# Run by a subprocess with the BLAS build of dlib on its path: times it, saves its descriptors.
_BLAS_PROBE = """
import json, sys, statistics, time
import numpy as np
import _dlib_pybind11 as dlib
chips_path, out_path, model, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
chips = np.load(chips_path)
facerec = dlib.face_recognition_model_v1(model)
np.save(out_path, np.array([facerec.compute_face_descriptor(c) for c in chips], dtype=np.float32))
times = []
for _ in range(repeat):
    t0 = time.perf_counter()
    for c in chips[:8]:
        facerec.compute_face_descriptor(c)
    times.append((time.perf_counter() - t0) / 8)
print(json.dumps({"per_face": statistics.median(times), "blas": bool(dlib.DLIB_USE_BLAS),
                  "version": dlib.__version__}))
"""


def dlib_blas(module_dir: Path, chips: np.ndarray, reference: np.ndarray, repeat: int) -> dict:
    """Per-face seconds and max |diff| vs dlib-bin of a dlib module built with BLAS (run in a subprocess)."""
    with tempfile.TemporaryDirectory() as tmp:
        chips_path, out_path = Path(tmp) / "chips.npy", Path(tmp) / "out.npy"
        np.save(chips_path, chips)
        env = os.environ | {"PYTHONPATH": str(module_dir), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        done = subprocess.run(
            [sys.executable, "-c", _BLAS_PROBE, str(chips_path), str(out_path), str(dlib_model_path()), str(repeat)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["max_diff"] = float(np.abs(np.load(out_path) - reference).max())
    return result


def speed(chips: np.ndarray, facerec, repeat: int, blas: dict | None = None) -> str:
    """Median seconds per face: dlib (1 thread) vs torch at batch 1/16/64 with 1 and 2 threads."""
    n_dlib = 8
    dlib_s, _ = timeit(lambda: [facerec.compute_face_descriptor(c) for c in chips[:n_dlib]], repeat=repeat)
    dlib_face = dlib_s / n_dlib
    rows = [
        [
            "dlib-bin 20.0.1 (no BLAS)",
            "1",
            "1",
            fmt_s(dlib_face),
            f"{1 / dlib_face:.1f}",
            "1.0×",
            f"{CELEBA_IMAGES * dlib_face / 3600:.1f} h",
        ]
    ]
    if blas is not None:
        face = blas["per_face"]
        rows.append(
            [
                f"dlib {blas['version']} built with OpenBLAS (BLAS={blas['blas']})",
                "1",
                "1",
                fmt_s(face),
                f"{1 / face:.1f}",
                f"{dlib_face / face:.1f}×",
                f"{CELEBA_IMAGES * face / 3600:.1f} h",
            ]
        )
    for threads in (1, 2):
        model = TorchFaceDescriptor(num_threads=threads).load()
        for batch in (1, 16, 64):
            model.batch_size = batch
            block = chips[: max(batch, 16)] if batch == 1 else chips[:batch]
            seconds, _ = timeit(lambda model=model, block=block: model.compute(block), repeat=repeat)
            face = seconds / len(block)
            rows.append(
                [
                    f"torch {torch.__version__}",
                    str(threads),
                    str(batch),
                    fmt_s(face),
                    f"{1 / face:.1f}",
                    f"{dlib_face / face:.1f}×",
                    f"{CELEBA_IMAGES * face / 3600:.1f} h",
                ]
            )
    return table(
        [
            "descriptor",
            "threads",
            "batch",
            "per face (median)",
            "faces/s",
            "speed-up vs dlib",
            f"{CELEBA_IMAGES:,} faces",
        ],
        rows,
    )


BLAS_NOTE = """
The OpenBLAS row is dlib 20.0.1 from the PyPI sdist (PyPI has no BLAS-enabled dlib wheel;
dlib-bin is built without BLAS), compiled here with cmake, `-DDLIB_USE_BLAS=ON
-DUSE_AVX_INSTRUCTIONS=ON` against Debian's libopenblas0-pthread (one BLAS thread): about
45 minutes of compiling on this machine, and it needs cmake, a C++ compiler and the OpenBLAS
and gfortran libraries at build and run time. The torch port needs nothing beyond the pinned torch.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=140, help="wild photos to take faces from")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (median reported)")
    parser.add_argument("--dlib-blas", type=Path, default=None, help="folder of a dlib module built with BLAS")
    args = parser.parse_args(argv)
    if not WILD.is_dir():
        print(f"{WILD} is absent: nothing to measure.", file=sys.stderr)
        return 1
    import dlib

    facerec = dlib.face_recognition_model_v1(str(dlib_model_path()))
    chips, sources = face_chips(args.images)
    accuracy_md, reference = accuracy(chips, sources, facerec)
    blas = dlib_blas(args.dlib_blas, chips, reference, args.repeat) if args.dlib_blas else None
    if blas is not None:
        accuracy_md += f" dlib built with OpenBLAS vs dlib-bin: max diff {blas['max_diff']:.1e}."
    speed_md = speed(chips, facerec, args.repeat, blas)
    load = Path("/proc/loadavg").read_text().split()[:3]
    body = f"""
Same network, same weights (parsed from `dlib_face_recognition_resnet_model_v1.dat`), same
150×150 chips. Torch runs in `core.dlib_torch.TorchFaceDescriptor`.

### Accuracy: torch vs `dlib.face_recognition_model_v1.compute_face_descriptor`

{accuracy_md}

### Speed (median of {args.repeat} runs, run under `nice`)

{speed_md}

The last column is the descriptor alone for every CelebA image (one face each) on one process.
The machine is shared (load average {" / ".join(load)} during the run), so figures are noisy; with
another process busy, 2 torch threads fight for the 2 cores and can be slower than 1. For a
multi-process job use 1 torch thread per worker.
{BLAS_NOTE if blas is not None else ""}"""
    write_section("descriptor", "Face descriptor: dlib vs torch", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
