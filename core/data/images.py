"""Opening images safely: EXIF orientation, any mode to RGB, decompression-bomb guard, clear errors."""

from __future__ import annotations

import io
import os
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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
# CelebA aligned crops are 178x218 with the face centred; this square keeps the face and hair.
ALIGNED_SQUARE = (0, 20, 178, 198)
SOURCE_SIZE = "faceatlas_source_size"  # img.info key: the file's size before a reduced-scale decode (min_side)


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


@contextmanager
def _opened_image_file(path: str | Path, max_bytes: int) -> Iterator[tuple[int, int]]:
    """(descriptor, size) of an image file once it is known to be a regular file of at most `max_bytes`.

    The checks run on the open descriptor, so a file swapped after a check cannot slip past; opened non-blocking,
    so even opening a FIFO returns at once (a FIFO or a device would block a reader or never end).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ImageError(f"{os.path.basename(path)} is missing on disk.") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        why = getattr(exc, "strerror", None) or "bad name"
        raise ImageError(f"{os.path.basename(path)} cannot be read ({why}).") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{os.path.basename(path)} is not a regular file, so it is not read.")
        if info.st_size > max_bytes:
            raise ImageError(
                f"{os.path.basename(path)} is {fmt.megabytes(info.st_size)}; image files up to "
                f"{fmt.megabytes(max_bytes)} are read."
            )
        yield fd, info.st_size
    except OSError as exc:
        why = exc.strerror or exc.__class__.__name__
        raise ImageError(f"{os.path.basename(path)} cannot be read ({why}).") from None
    finally:
        os.close(fd)


def _read_all(fd: int, size: int, max_bytes: int, path: str | Path) -> bytes:
    """The whole file from an open descriptor (one read when it still has the size it had when checked)."""
    data = os.pread(fd, size + 1, 0)
    while len(data) > size and len(data) <= max_bytes:  # it grew since it was checked: read on, up to the limit
        more = os.pread(fd, 1 << 20, len(data))
        if not more:
            break
        data += more
    if len(data) > max_bytes:
        raise ImageError(f"{os.path.basename(path)} is larger than {fmt.megabytes(max_bytes)}; it is not read.")
    return data


def _check_format(path: str | Path, head: bytes) -> None:
    if image_format(head) is None:
        raise ImageError(f"{os.path.basename(path)} is not an image FaceAtlas can read (use {FORMAT_NAMES}).")


def read_image_file(path: str | Path, max_bytes: int = MAX_IMAGE_FILE_BYTES) -> bytes:
    """The bytes of an image file, or ImageError saying why not: the one reader of dataset files.

    A regular file (never a FIFO or a device), at most `max_bytes`, starting like an accepted format.
    """
    with _opened_image_file(path, max_bytes) as (fd, size):
        data = _read_all(fd, size, max_bytes, path)
    _check_format(path, data)
    return data


def identifying_sample(data: bytes, block: int) -> bytes:
    """The bytes of an image file's content that identify it: all of it up to 2 blocks and for BMP (uncompressed:
    a same-size edit in its middle leaves both ends alike), else its first and last `block` bytes."""
    if len(data) <= 2 * block or image_format(data) == "BMP":
        return data
    return data[:block] + data[-block:]


def sample_image_file(path: str | Path, block: int) -> tuple[int, bytes]:
    """(size, identifying_sample of the file) reading only the sample; the same checks as read_image_file, and
    ImageError saying why otherwise."""
    with _opened_image_file(path, MAX_IMAGE_FILE_BYTES) as (fd, size):
        if size <= 2 * block:
            data = _read_all(fd, size, MAX_IMAGE_FILE_BYTES, path)
            _check_format(path, data)
            return size, data
        head = os.pread(fd, block, 0)
        _check_format(path, head)
        if image_format(head) == "BMP":
            return size, _read_all(fd, size, MAX_IMAGE_FILE_BYTES, path)
        return size, head + os.pread(fd, block, size - block)


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


def open_rgb(
    source: str | Path | bytes | io.BytesIO,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_UPLOAD_BYTES,
    min_side: int | None = None,
) -> Image.Image:
    """Decode an image file or bytes to an upright RGB PIL image, or raise ImageError saying why.

    Bytes and file objects (uploads) up to max_bytes; files through read_image_file. min_side: a JPEG is decoded at
    1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling, 2-3x faster) when its shorter side still has min_side pixels;
    img.info[SOURCE_SIZE] then holds the upright size before scaling.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    name = Path(source).name if isinstance(source, (str, Path)) else "upload"
    if isinstance(source, (str, Path)):
        source = io.BytesIO(read_image_file(source))
    else:
        size = _in_memory_size(source)
        if size > max_bytes:
            raise ImageError(f"{name} is {fmt.megabytes(size)}; photos up to {fmt.megabytes(max_bytes)} are accepted.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source, formats=FORMATS)
            if img.width * img.height > max_pixels:
                raise ImageError(
                    f"{name} is {img.width}×{img.height} pixels; images up to {max_pixels // 1_000_000} megapixels are "
                    "accepted."
                )
            source_size = img.size
            if min_side and img.format == "JPEG":
                scale = next((p for p in (8, 4, 2) if min(img.size) / p >= min_side), 1)
                img.draft("RGB", (img.width // scale, img.height // scale))
            img.load()
            img = ImageOps.exif_transpose(img)
            if (img.width > img.height) != (source_size[0] > source_size[1]):
                source_size = source_size[::-1]  # EXIF turned it a quarter
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
    img.info[SOURCE_SIZE] = source_size
    return img


def face_square_box(width: int, height: int, aligned: bool) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the square a face model sees: CelebA's face square for its 178x218 aligned
    crops, else the centre square (aligned layouts: the upper-centre square, where the face sits)."""
    if aligned and (width, height) == (178, 218):
        return ALIGNED_SQUARE
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    if aligned:
        top = max(0, min(top, (height - side) // 3))
    return left, top, left + side, top + side


def face_square(img: Image.Image, aligned: bool, source_size: tuple[int, int] | None = None) -> Image.Image:
    """The face square (face_square_box) of an image; source_size: its size before a reduced-scale decode (open_rgb
    min_side puts it in img.info[SOURCE_SIZE]; not read from there, as a crop of the image carries it too)."""
    width, height = source_size or img.size
    left, top, right, bottom = face_square_box(width, height, aligned)
    sx, sy = img.width / width, img.height / height
    return img.crop((round(left * sx), round(top * sy), round(right * sx), round(bottom * sy)))


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
