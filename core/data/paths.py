"""Where datasets and derived artefacts live, and safe path joining."""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import said_when_disk_full

PROJECT_ROOT = Path(__file__).resolve().parents[2]
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})


def data_roots() -> list[Path]:
    """data/ plus every folder in FACEATLAS_DATA (colon-separated), existing ones only."""
    roots = [Path(os.environ.get("FACEATLAS_HOME", PROJECT_ROOT)) / "data"]
    extra = os.environ.get("FACEATLAS_DATA", "")
    roots += [Path(p).expanduser() for p in extra.split(":") if p.strip()]
    seen: list[Path] = []
    for root in roots:
        if root.is_dir() and root.resolve() not in [s.resolve() for s in seen]:
            seen.append(root)
    return seen


def cache_root() -> Path:
    """cache/ (or FACEATLAS_CACHE), created on demand."""
    root = Path(os.environ.get("FACEATLAS_CACHE", PROJECT_ROOT / "cache"))
    with said_when_disk_full("FaceAtlas could not make its cache folder"):
        root.mkdir(parents=True, exist_ok=True)
    return root


def demo_dir() -> Path:
    return Path(os.environ.get("FACEATLAS_HOME", PROJECT_ROOT)) / "data" / "demo"


def safe_join(base: Path, relative: str) -> Path | None:
    """base/relative if it stays inside base after resolving links and '..'; else None."""
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts or relative.startswith(("/", "\\")):
        return None
    candidate = base / rel
    try:
        resolved = candidate.resolve()
        base_resolved = base.resolve()
    except (OSError, RuntimeError, ValueError):  # ValueError: a NUL byte in the name
        return None
    if not resolved.is_relative_to(base_resolved):
        return None
    return candidate


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")
