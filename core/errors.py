"""Errors a user can cause, under one base class; their messages are shown as they are in the UI and CLI.

Pages catch `FaceAtlasError` (or one of its kinds), show the message with st.error and stop; the command
line prints it and exits with status 2. Each message says what is wrong and what to do.
"""


class FaceAtlasError(ValueError):
    """Base of every user-facing error: the message is written for the person who caused it."""


class DatasetError(FaceAtlasError):
    """A dataset folder or file cannot be used."""


class ImageError(FaceAtlasError):
    """An image that cannot be used (unreadable, too large, not an image)."""


class ModelFileError(FaceAtlasError):
    """A stored attribute classifier that cannot be used; train it again."""


class ModelMissingError(DatasetError):
    """dlib, the face_recognition_models files or a descriptor backend are not installed."""


class ClusterError(FaceAtlasError):
    """A Ray cluster that cannot run a job: Ray missing, the cluster unreachable, a node without the images."""


class DlibFormatError(FaceAtlasError):
    """A dlib model file that does not hold the network FaceAtlas expects."""
