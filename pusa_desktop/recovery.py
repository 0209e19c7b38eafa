"""Crash recovery: a lock file marks a running session; an autosave left by a session that did not end
cleanly is offered back on the next start."""

from __future__ import annotations

import os
from pathlib import Path

from . import paths


def start_session() -> Path | None:
    """Mark the session as running. Returns the autosave to offer when the last session crashed."""
    lock, autosave = paths.session_lock_path(), paths.autosave_path()
    crashed = lock.exists() and autosave.exists()
    lock.write_text(str(os.getpid()))
    return autosave if crashed else None


def end_session() -> None:
    """A clean exit: nothing to recover next time."""
    for path in (paths.session_lock_path(), paths.autosave_path()):
        path.unlink(missing_ok=True)
