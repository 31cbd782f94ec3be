"""dlib descriptors (plain and mirror-averaged) for ../shared/real/celeba_wild_sample, for tests and benches.

Computed with core.faces.pipeline, as the app computes them; photos with no detected face get has_face False.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from core.faces import pipeline as faces

log = logging.getLogger(__name__)


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

    Faces come from core.faces.pipeline (detector cascade, 5-point chip, the project's descriptor backend) so
    benches and tests measure what the app computes. Mirror-averaged: the mean of the descriptors of the
    chip and of its horizontal mirror (mirror=False returns the plain descriptors twice, at half the cost).
    """
    results = [faces.process_image(folder / name) for name in names]
    has_face = np.array([r.has_face for r in results], dtype=bool)
    plain = np.zeros((len(names), faces.DESCRIPTOR_DIM), np.float32)
    mirrored = np.zeros_like(plain)
    if has_face.any():
        chips = np.stack([r.chip for r in results if r.has_face])
        plain[has_face] = faces.describe_chips(chips, mirror=False)
        mirrored[has_face] = faces.describe_chips(chips, mirror=True) if mirror else plain[has_face]
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
    out = {
        "names": np.array(names),
        "identity": np.array(ids),
        "plain": plain,
        "mirrored": mirrored,
        "has_face": has_face,
    }
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
