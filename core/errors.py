"""Errors a user can cause, under one base class; their messages are shown as they are in the UI and CLI.

Pages catch `FaceAtlasError` (or one of its kinds), show the message with st.error and stop; the command
line prints it and exits with status 2. Each message says what is wrong and what to do.
"""

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CORE_DIR = str(Path(__file__).resolve().parent)  # FaceAtlas's own core package: its ValueErrors are written for users


class FaceAtlasError(ValueError):
    """Base of every user-facing error: the message is written for the person who caused it."""


class DatasetError(FaceAtlasError):
    """A dataset folder or file cannot be used."""


class ParameterError(FaceAtlasError):
    """A method's setting it cannot take (k below 2, an unknown algorithm or linkage): one sentence naming the range."""


class ImageError(FaceAtlasError):
    """An image that cannot be used (unreadable, too large, not an image)."""


class ModelFileError(FaceAtlasError):
    """A stored attribute classifier that cannot be used; train it again."""


class CacheError(FaceAtlasError):
    """A stored file (a cache FaceAtlas computed) that changed or broke while it was used: set aside, run again."""


class QueueFullError(FaceAtlasError):
    """A background job that cannot be queued now: the server's or the visitor's queue is full; says when to retry."""


class ModelMissingError(DatasetError):
    """dlib, the face_recognition_models files or a descriptor backend are not installed."""


class ClusterError(FaceAtlasError):
    """A Ray cluster that cannot run a job: Ray missing, the cluster unreachable, a node without the images."""


class DlibFormatError(FaceAtlasError):
    """A dlib model file that does not hold the network FaceAtlas expects."""


class DiskFullError(FaceAtlasError, OSError):
    """The server's disk (or its quota) is full, so something could not be saved; nothing half-written is left.

    Also an OSError (errno ENOSPC), so code that handles a failed write goes on handling it; pages show it as every
    FaceAtlasError, in its own sentence."""

    def __init__(self, message: str):
        super().__init__(message)
        self.errno = errno.ENOSPC


DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# How writers that do not set errno say it: polars' parquet writer ("... underlying IO error: No space left on device
# (os error 28)", or for a small table "Invalid thrift: transport error"), and numpy's array.tofile, which np.save
# uses for a real file ("400000 requested and 131056 written"). Measured on a full 1 MB tmpfs.
DISK_FULL_WORDS = ("No space left on device", "os error 28", "Disk quota exceeded", "os error 122")
NEARLY_FULL_BYTES = 1 << 20  # a write that failed where less than this is free failed for want of space


def is_disk_full(exc: BaseException, where: Path | None = None) -> bool:
    """Whether a failed write failed because the disk (or the quota) is full, however the writer said it.

    where: the folder written to. Its free space is asked when the error does not say (polars' wording varies);
    asked while the failed file is still there, so the space it took is not yet given back."""
    if isinstance(exc, DiskFullError) or (isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS):
        return True
    text = str(exc)
    if any(words in text for words in DISK_FULL_WORDS):
        return True
    if isinstance(exc, OSError) and exc.errno is None and " requested and " in text and text.endswith(" written"):
        return True
    return where is not None and _free_bytes(where) < NEARLY_FULL_BYTES


def _free_bytes(folder: Path) -> float:
    """Bytes an unprivileged writer may still use in folder's file system (infinite when it cannot be asked)."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return float("inf")
    return stats.f_bavail * stats.f_frsize


@contextmanager
def said_when_disk_full(consequence: str, where: Path | None = None) -> Iterator[None]:
    """Inside the block, a full disk raises DiskFullError saying `consequence` ("the job could not start").

    where: the folder the block writes into (see is_disk_full). The outermost block's words win: it knows what the
    person was doing, an inner one only what was being saved.
    """
    try:
        yield
    except Exception as exc:
        if not is_disk_full(exc, where):
            raise
        raise DiskFullError(
            f"The server's disk is full, so {consequence}. Free some space on the server (or ask whoever runs it) "
            "and try again."
        ) from exc


GENERIC_MESSAGE = "These settings cannot be computed on this data; change one of them (fewer points, another method)."


def user_message(exc: Exception) -> str:
    """The message to show for an error: FaceAtlas's own (a FaceAtlasError, or a ValueError raised by FaceAtlas's
    code, which says what to do), else a plain sentence, never a library's wording."""
    if isinstance(exc, FaceAtlasError):
        return str(exc)
    frame = exc.__traceback__
    last = None
    while frame is not None:
        last = frame.tb_frame.f_code.co_filename
        frame = frame.tb_next
    ours = last is not None and str(Path(last).resolve()).startswith(CORE_DIR)
    return str(exc) if ours else GENERIC_MESSAGE
