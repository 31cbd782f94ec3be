"""Errors a user can cause; their messages are shown as they are in the UI and CLI."""


class DatasetError(ValueError):
    """A dataset folder or file cannot be used; the message says what is wrong and what to do."""
