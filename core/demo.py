"""Synthetic demo dataset in the CelebA original layout (placeholder; the full drawer replaces it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.atomic import write_bytes
from core.celeba import ALIGNED_SIZE, CELEBA_ATTRIBUTES
from core.loaders import DEMO_MARKER

DEFAULT_IMAGES = 6000
DEMO_VERSION = 0


def demo_exists(out_dir: Path) -> bool:
    return (out_dir / DEMO_MARKER).is_file()


def generate_demo(
    out_dir: Path,
    n_images: int = DEFAULT_IMAGES,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Draw n_images faces into out_dir (CelebA layout); the marker file is written last."""
    rng = np.random.default_rng(seed)
    img_dir = out_dir / "Img" / "img_align_celeba"
    img_dir.mkdir(parents=True, exist_ok=True)
    n_ids = max(1, n_images // 20)
    identity = rng.integers(1, n_ids + 1, n_images)
    attrs = (rng.random((n_images, len(CELEBA_ATTRIBUTES))) < 0.3).astype(int)
    rows, ids, parts = [], [], []
    for i in range(n_images):
        name = f"{i + 1:06d}.jpg"
        img = Image.new("RGB", ALIGNED_SIZE, (200, 200, 210))
        d = ImageDraw.Draw(img)
        d.ellipse((44, 60, 134, 170), fill=(224, 186, 160))
        if attrs[i, CELEBA_ATTRIBUTES.index("Blond_Hair")]:
            d.rectangle((44, 50, 134, 75), fill=(230, 200, 90))
        img.save(img_dir / name, quality=90)
        rows.append(name + " " + " ".join(f"{2 * v - 1:2d}" for v in attrs[i]))
        ids.append(f"{name} {identity[i]}")
        parts.append(f"{name} {0 if identity[i] % 10 < 8 else 1 if identity[i] % 10 == 8 else 2}")
        if progress and (i % 50 == 0 or i == n_images - 1):
            progress(i + 1, n_images)
    header = f"{n_images}\n" + " ".join(CELEBA_ATTRIBUTES) + "\n"
    write_bytes(out_dir / "Anno" / "list_attr_celeba.txt", (header + "\n".join(rows) + "\n").encode())
    write_bytes(out_dir / "Anno" / "identity_CelebA.txt", ("\n".join(ids) + "\n").encode())
    write_bytes(out_dir / "Eval" / "list_eval_partition.txt", ("\n".join(parts) + "\n").encode())
    marker = {"synthetic": True, "images": n_images, "seed": seed, "version": DEMO_VERSION}
    write_bytes(out_dir / DEMO_MARKER, json.dumps(marker).encode())
    return out_dir
