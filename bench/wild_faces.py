"""dlib descriptors (plain and mirror-averaged) for ../shared/real/celeba_wild_sample, for tests and benches.

Pipeline: HOG detector (1 upsample) -> 5-point landmarks -> get_face_chip 150 px ->
ResNet descriptor of the chip and of its horizontal mirror. Photos with no detected
face get has_face False. The model files come from the face_recognition_models
package folder (located with importlib; the package itself is never imported).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from core.images import ImageError, open_rgb

log = logging.getLogger(__name__)


def _model_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face_recognition_models is not installed (pip install face_recognition_models).")
    return Path(spec.submodule_search_locations[0]) / "models"


def read_identities(folder: Path) -> tuple[list[str], list[str]]:
    """(image names, identity labels) from folder/identity.txt (header line `image identity`)."""
    names, ids = [], []
    for line in (folder / "identity.txt").read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) == 2:
            names.append(parts[0])
            ids.append(parts[1])
    return names, ids


def wild_descriptors(folder: Path, names: list[str], mirror: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(plain (N,128) float32, mirror-averaged (N,128) float32, has_face (N,) bool) for the named photos.

    Mirror-averaged: the mean of the descriptors of the face chip and of its horizontal mirror
    (mirror=False skips the mirror and returns the plain descriptors twice, at half the cost).
    """
    import dlib

    models = _model_dir()
    detector = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    plain = np.zeros((len(names), 128), np.float32)
    mirrored = np.zeros((len(names), 128), np.float32)
    has_face = np.zeros(len(names), bool)
    for i, name in enumerate(names):
        try:
            img = np.asarray(open_rgb(folder / name))
        except ImageError as exc:
            log.warning("%s", exc)
            continue
        boxes = detector(img, 1)
        if not boxes:
            continue
        box = max(boxes, key=lambda r: r.width() * r.height())
        chip = dlib.get_face_chip(img, shape(img, box), size=150)
        flipped = np.ascontiguousarray(chip[:, ::-1])
        a = np.asarray(net.compute_face_descriptor(chip))
        b = np.asarray(net.compute_face_descriptor(flipped)) if mirror else a
        plain[i] = a
        mirrored[i] = (a + b) / 2  # kept at dlib's scale so the usual thresholds (0.5, 0.6) still apply
        has_face[i] = True
    return plain, mirrored, has_face


def cached_wild_descriptors(
    folder: Path, cache_file: Path, identities: int = 0, mirror: bool = True
) -> dict[str, np.ndarray]:
    """Descriptors of the photos in identity.txt (only the first `identities` identities, sorted, when > 0),
    computed once and kept in cache_file (.npz): names, identity, plain, mirrored, has_face."""
    if cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    names, ids = read_identities(folder)
    if identities:
        keep = set(sorted(set(ids))[:identities])
        names, ids = zip(*[(n, i) for n, i in zip(names, ids) if i in keep]) if keep else ([], [])
        names, ids = list(names), list(ids)
    plain, mirrored, has_face = wild_descriptors(folder, names, mirror=mirror)
    out = {"names": np.array(names), "identity": np.array(ids), "plain": plain, "mirrored": mirrored, "has_face": has_face}
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    tmp.replace(cache_file)
    return out


if __name__ == "__main__":
    import sys
    import time

    t0 = time.perf_counter()
    d = cached_wild_descriptors(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{d['has_face'].sum()} / {len(d['names'])} faces in {time.perf_counter() - t0:.0f} s")
