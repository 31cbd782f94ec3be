"""Errors a user can cause, under one base class; their messages are shown as they are in the UI and CLI.

Pages catch `FaceAtlasError` (or one of its kinds), show the message with st.error and stop; the command
line prints it and exits with status 2. Each message says what is wrong and what to do.
"""

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
