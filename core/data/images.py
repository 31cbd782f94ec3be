"""Opening images safely: EXIF orientation, any mode to RGB, decompression-bomb guard, clear errors."""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core import format as fmt
from core.errors import ImageError

# 40 megapixels: far above any face photo, far below what would exhaust memory.
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Uploads (bytes / file objects) larger than this are refused before decoding; matches
# .streamlit/config.toml's server.maxUploadSize for callers that bypass the uploader.
MAX_UPLOAD_BYTES = 25 * 2**20
# The formats FaceAtlas reads; anything else (TIFF, PSD, EPS…) is refused before a decoder runs.
FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
FORMAT_NAMES = "JPEG, PNG, WebP or BMP"


def _in_memory_size(source) -> int:
    """Byte size of an in-memory upload (BytesIO, Streamlit UploadedFile, any seekable file object)."""
    if isinstance(source, io.BytesIO):
        return source.getbuffer().nbytes
    try:
        here = source.tell()
        size = source.seek(0, io.SEEK_END)
        source.seek(here)
        return size
    except (AttributeError, OSError):
        return 0


# A dataset's image file larger than this is refused unread: an uncompressed 40-megapixel RGBA bitmap and its header.
MAX_IMAGE_FILE_BYTES = 4 * MAX_PIXELS + 2**20
# How each accepted format starts (checked before any decoder sees the bytes).
_SIGNATURES = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"BM", "BMP"))


def image_format(data: bytes) -> str | None:
    """The accepted format the bytes start like ("JPEG", "PNG", "WEBP", "BMP"), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((name for magic, name in _SIGNATURES if data.startswith(magic)), None)


def read_image_file(path: str | Path, max_bytes: int = MAX_IMAGE_FILE_BYTES) -> bytes:
    """The bytes of an image file, or ImageError saying why not: the one reader of dataset files.

    Checks, on the open descriptor (so a file swapped after a check cannot slip past): a regular file (a FIFO or
    a device would block or never end), at most `max_bytes`, and the start of an accepted format. Opened
    non-blocking, so even opening a FIFO returns at once.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ImageError(f"{path.name} is missing on disk.") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise ImageError(f"{path.name} cannot be read ({getattr(exc, 'strerror', None) or 'bad name'}).") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{path.name} is not a regular file, so it is not read.")
        if info.st_size > max_bytes:
            raise ImageError(
                f"{path.name} is {fmt.megabytes(info.st_size)}; image files up to {fmt.megabytes(max_bytes)} are read."
            )
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(max_bytes + 1)  # the file may have grown since fstat
    except OSError as exc:
        raise ImageError(f"{path.name} cannot be read ({exc.strerror or exc.__class__.__name__}).") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ImageError(f"{path.name} is larger than {fmt.megabytes(max_bytes)}; it is not read.")
    if image_format(data) is None:
        raise ImageError(f"{path.name} is not an image FaceAtlas can read (use {FORMAT_NAMES}).")
    return data


def read_photo(path: str | Path) -> bytes:
    """The bytes of a photo file given on the command line (regular image files up to MAX_UPLOAD_BYTES only)."""
    return read_image_file(path, MAX_UPLOAD_BYTES)


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit ('I;16…', 'I') and float ('F') greyscale scaled into 0..255 (a plain convert would clip them white)."""
    values = np.asarray(img, dtype=np.float64)
    if img.mode.startswith("I;16"):
        top = 65535.0
    elif img.mode == "F" and values.size and np.nanmax(values) <= 1.0:
        top = 1.0
    else:
        finite = values[np.isfinite(values)]
        low = float(finite.min()) if finite.size else 0.0
        top = float(finite.max()) if finite.size else 1.0
        if low >= 0 and top <= 255:
            top = 255.0
        else:
            values = values - low
            top = max(top - low, 1e-12)
    scaled = np.clip(np.nan_to_num(values) / top * 255.0, 0, 255).round().astype(np.uint8)
    return Image.fromarray(scaled, mode="L")


def open_rgb(source: str | Path | bytes | io.BytesIO, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode an image file or bytes to an upright RGB PIL image, or raise ImageError saying why."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    name = Path(source).name if isinstance(source, (str, Path)) else "upload"
    if isinstance(source, (str, Path)):
        source = io.BytesIO(read_image_file(source))
    else:
        size = _in_memory_size(source)
        if size > MAX_UPLOAD_BYTES:
            raise ImageError(
                f"{name} is {fmt.megabytes(size)}; photos up to {fmt.megabytes(MAX_UPLOAD_BYTES)} are accepted."
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source, formats=FORMATS)
            if img.width * img.height > max_pixels:
                raise ImageError(
                    f"{name} is {img.width}×{img.height} pixels; images up to {max_pixels // 1_000_000} megapixels are "
                    "accepted."
                )
            img.load()
            img = ImageOps.exif_transpose(img)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{name} is too large to open safely: more than {max_pixels // 1_000_000} megapixels "
            "(decompression bomb guard)."
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image FaceAtlas can read (use {FORMAT_NAMES}).") from None
    except FileNotFoundError:
        raise ImageError(f"{name} is missing on disk.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name} is damaged or truncated ({exc.__class__.__name__}).") from None
    if img.mode.startswith("I") or img.mode == "F":
        img = _to_8bit(img)
    if img.mode != "RGB":
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            background = Image.new("RGB", img.size, (255, 255, 255))
            background.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
            img = background
        else:
            img = img.convert("RGB")
    return img


def thumbnail_bytes(path: Path, size: int = 128) -> bytes | None:
    """A small JPEG of the image for galleries, or None when it cannot be read."""
    try:
        img = open_rgb(path)
    except ImageError:
        return None
    img.thumbnail((size, size * 2))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()
