"""Crash safety for each running instance: its own folder, a lock only it holds, and an autosave file.

`sessions/<id>/lock` is held with an OS lock for the life of the process (the kernel lets go of it when the
process dies, also on kill -9), so a second instance on the same home can tell a live session from a crashed
one and never claims or deletes the work of a live one. `sessions/<id>/autosave.json` is the project as
plain data (media referenced by path, never copied), written atomically: a few kilobytes, not the clips.
No Qt here.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pusa_engine.atomic_files import process_alive, remove_stale_temps, temp_path_for

AUTOSAVE_FORMAT = "pusa-studio-autosave"
AUTOSAVE_VERSION = 1
LOCK_NAME = "lock"
AUTOSAVE_NAME = "autosave.json"


class SessionLockBusy(Exception):
    """Another live process holds this session."""


def _lock(handle: IO[str]) -> None:
    """Take the OS lock on an open file without waiting; SessionLockBusy when a live process has it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        raise SessionLockBusy(str(error)) from error


def _open_lock(folder: Path) -> IO[str]:
    handle = open(folder / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - held for the session's life
    try:
        _lock(handle)
    except SessionLockBusy:
        handle.close()
        raise
    return handle


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, flush it to the disk, and rename it onto `path`."""
    tmp = temp_path_for(path)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


@dataclass
class Autosave:
    """What an autosave holds: the project as plain data and where it came from."""

    project: dict[str, Any]
    project_path: str | None
    title: str
    dirty: bool
    saved_at: float

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": AUTOSAVE_FORMAT,
                "version": AUTOSAVE_VERSION,
                "pid": os.getpid(),
                "saved_at": self.saved_at,
                "project_path": self.project_path,
                "title": self.title,
                "dirty": self.dirty,
                "project": self.project,
            },
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Autosave:
        """Raises ValueError when the text is not an autosave of ours."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != AUTOSAVE_FORMAT:
            raise ValueError("not a Pusa Studio autosave")
        project, path = data.get("project"), data.get("project_path")
        if not isinstance(project, dict) or not (path is None or isinstance(path, str)):
            raise ValueError("the autosave is damaged")
        return cls(project, path, str(data.get("title") or "Untitled"), bool(data.get("dirty")),
                   float(data.get("saved_at") or 0.0))


class InstanceSession:
    """The running instance's folder, lock and autosave."""

    def __init__(self, folder: Path, lock: IO[str]) -> None:
        self.folder = folder
        self._lock = lock

    @classmethod
    def start(cls, root: Path) -> InstanceSession:
        root.mkdir(parents=True, exist_ok=True)
        folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        lock = _open_lock(folder)
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        return cls(folder, lock)

    @property
    def autosave_path(self) -> Path:
        return self.folder / AUTOSAVE_NAME

    def write_autosave(self, autosave: Autosave | str) -> None:
        """Atomically replace this session's autosave (thread-safe for one writer at a time)."""
        write_atomic(self.autosave_path, autosave if isinstance(autosave, str) else autosave.to_json())

    def end(self) -> None:
        """A clean exit: this session leaves nothing to recover."""
        shutil.rmtree(self.folder, ignore_errors=True)
        with suppress(OSError):
            self._lock.close()


@dataclass
class OrphanedSession:
    """The folder of an instance that died without ending, held (locked) by us while we decide."""

    folder: Path
    autosave: Autosave | None
    problem: str | None
    _lock: IO[str]

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.release()

    def release(self) -> None:
        """Let go without deleting (offer it again next time)."""
        with suppress(OSError):
            self._lock.close()


def _claim(folder: Path) -> OrphanedSession | None:
    """Lock a session folder whose owner is gone; None when its owner still runs."""
    if not (folder / LOCK_NAME).exists():
        owner = folder.name.split("-")[2] if folder.name.count("-") >= 3 else ""
        if owner.isdigit() and process_alive(int(owner)):
            return None  # it is still being created
    try:
        lock = _open_lock(folder)
    except SessionLockBusy:
        return None
    except OSError:
        return None
    autosave, problem = None, None
    file = folder / AUTOSAVE_NAME
    if file.is_file():
        try:
            autosave = Autosave.from_json(file.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as error:
            problem = f"the automatically saved copy in {file} could not be read ({error})"
    return OrphanedSession(folder, autosave, problem, lock)


def orphaned_sessions(root: Path, current: InstanceSession | None = None) -> list[OrphanedSession]:
    """Sessions of instances that died (newest first), each locked by us; live instances are left alone.

    Their interrupted temporary files are removed on the way."""
    found: list[OrphanedSession] = []
    if not root.is_dir():
        return found
    for folder in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
        if current is not None and folder == current.folder:
            continue
        orphan = _claim(folder)
        if orphan is None:
            continue
        remove_stale_temps(folder)
        found.append(orphan)
    return found
