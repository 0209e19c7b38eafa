"""Errors a user can act on. Each carries a message that says what is wrong and what to do."""

from __future__ import annotations


class PusaError(Exception):
    """Base class: the message is meant for the user, one problem per line."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class RequestError(PusaError):
    """The generation request has invalid settings."""


class ModelFilesError(PusaError):
    """The model folder or LoRA file is missing, truncated, of the wrong shape or does not match."""


class InputMediaError(PusaError):
    """An image or video given as conditioning cannot be read or used."""


class OutputError(PusaError):
    """The result could not be written (disk full, folder not writable)."""


class OutOfMemoryError(PusaError):
    """The device ran out of memory."""


class JobCancelled(Exception):
    """Raised inside a job when its cancel token is set; not an error for the user."""


def os_error_line(error: OSError) -> str:
    """One terminal line for a file or folder problem no check foresaw (the command-line tools' last resort)."""
    where = f" {error.filename}" if error.filename else ""
    return f"pusa-engine: error:{where} {error.strerror or error}: check the path and its permissions\n"
