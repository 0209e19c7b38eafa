"""Temporary files of atomic writes, named so that those of a process that died can be found and removed.

Every atomic write (video, sidecar, frames, project, autosave) writes `.<name>.pusa-tmp-<pid>-<random>` in
the target's folder and renames it onto the target. A process killed between the two leaves that file
behind; `remove_stale_temps` deletes the ones whose process is gone (never those of a live instance).
Pure Python: the desktop uses it too.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from contextlib import suppress
from pathlib import Path

from .errors import OutputError

TEMP_MARK = ".pusa-tmp-"
_TEMP_NAME = re.compile(r"^\..*\.pusa-tmp-(\d+)-[0-9a-f]+$")


def temp_path_for(target: str | os.PathLike[str]) -> Path:
    """A fresh temporary path in `target`'s folder, owned by this process."""
    target = Path(target)
    return target.parent / f".{target.name}{TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a zombie counts as gone)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    with suppress(OSError):  # Linux: a zombie holds its pid but will never finish a write
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def temp_owner(path: Path) -> int | None:
    """The process id in a temporary file's name, or None when the name is not one of ours."""
    match = _TEMP_NAME.match(path.name)
    return int(match.group(1)) if match else None


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files (or folders) in `folder` left by processes that no longer run."""
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    with suppress(OSError):
        for entry in folder.iterdir():
            pid = temp_owner(entry)
            if pid is None or process_alive(pid):
                continue
            with suppress(OSError):
                if entry.is_dir() and not entry.is_symlink():
                    for child in sorted(entry.rglob("*"), reverse=True):
                        child.rmdir() if child.is_dir() and not child.is_symlink() else child.unlink()
                    entry.rmdir()
                else:
                    entry.unlink()
                removed.append(entry)
    return removed


# ---- one result as one unit: video, sidecar, PNG frames, trace -------------------------------------------
def sidecar_path_for(video: str | os.PathLike[str]) -> Path:
    """The JSON settings file that goes beside a video."""
    return Path(video).with_suffix(".json")


def is_finished_output(video: str | os.PathLike[str]) -> bool:
    """A video counts as finished only with its sidecar beside it: the sidecar is renamed into place last,
    so a video without one is the remains of an interrupted write."""
    return Path(video).is_file() and sidecar_path_for(video).is_file()


def _reason(err: OSError) -> str:
    names = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
             errno.EROFS: "a read-only disk", errno.ENOTDIR: "part of the path is a file, not a folder",
             errno.ENOENT: "the folder does not exist"}
    return names.get(err.errno or 0, err.strerror or str(err))


def _folder_problem(folder: Path) -> str | None:
    """Create `folder` if needed and prove it writable with a real temporary file (root ignores modes)."""
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        return f"the output folder {folder} cannot be created: {ancestor} is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"the output folder {folder} cannot be created ({_reason(e)})"
    probe = temp_path_for(folder / "probe")
    try:
        with open(probe, "xb"):
            pass
    except OSError as e:
        return f"the output folder {folder} is not writable ({_reason(e)})"
    finally:
        with suppress(OSError):
            probe.unlink()
    return None


def output_problems(video: str | os.PathLike[str], *, png_dir: str | os.PathLike[str] | None = None,
                    trace: str | os.PathLike[str] | None = None) -> list[str]:
    """Why the files of one result cannot be written where asked, checked before the job runs."""
    video = Path(video)
    problems: list[str] = []
    targets = [(video, "file"), (sidecar_path_for(video), "file")]
    if png_dir is not None:
        targets.append((Path(png_dir), "folder"))
    if trace is not None:
        targets.append((Path(trace), "file"))
    for target, kind in targets:
        if target.is_symlink() or not target.exists():
            continue
        if kind == "file" and target.is_dir():
            problems.append(f"{target} is a folder: give the output a file name"
                            + (" ending in .mp4" if target == video else "") + " or move that folder away")
        elif kind == "file" and not target.is_file():
            problems.append(f"{target} is not a regular file (a pipe, socket or device): choose another name")
        elif kind == "folder" and not target.is_dir():
            problems.append(f"{target} is a file, but the PNG frames go into a folder of that name: "
                            "move the file away or choose another name")
    folders = dict.fromkeys(t.parent for t, _ in targets)
    problems += [p for p in map(_folder_problem, folders) if p]
    return [f"{p}: choose another output folder" if p.startswith("the output folder") else p for p in problems]


def check_outputs(video: str | os.PathLike[str], *, png_dir: str | os.PathLike[str] | None = None,
                  trace: str | os.PathLike[str] | None = None) -> None:
    problems = output_problems(video, png_dir=png_dir, trace=trace)
    if problems:
        raise OutputError(problems)


def _remove(path: Path) -> None:
    with suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


class OutputUnit:
    """The files of one result written to temporaries, then renamed into place together, sidecar last.

        with OutputUnit(video) as unit:
            write_mp4(frames, unit.temp_for(video), fps)
            write_json_atomic(settings, unit.temp_for(unit.sidecar))

    Any failure before the commit removes every temporary and leaves the old files as they were. The
    commit moves the old sidecar aside first, so a crash at any point leaves either the old pair, or a
    new video with no sidecar (unfinished, see is_finished_output), never a new video beside an old sidecar.
    """

    def __init__(self, video: str | os.PathLike[str]) -> None:
        self.video = Path(video)
        self.sidecar = sidecar_path_for(video)
        self._temps: dict[Path, Path] = {}  # target -> temporary, in the order they were asked for

    def temp_for(self, target: str | os.PathLike[str]) -> Path:
        target = Path(target)
        self._temps[target] = temp_path_for(target)
        return self._temps[target]

    def __enter__(self) -> OutputUnit:
        return self

    def __exit__(self, kind, error, tb) -> None:
        if kind is None:
            self.commit()
            return
        self.discard()
        if isinstance(error, OSError):
            raise OutputError(f"Could not write {self._target_of(error.filename)}: {_reason(error)}; "
                              "free some space or choose another output folder") from error
        if isinstance(error, OutputError):  # a writer's message names its temporary: name the real file
            raise OutputError([self._real_names(p) for p in error.problems]) from error

    def _target_of(self, filename: object) -> Path:
        """The file being written when an OSError came: the one it names, else the latest one asked for."""
        for target, tmp in self._temps.items():
            if filename is not None and str(filename).startswith(str(tmp)):
                return target
        return next(reversed(self._temps), self.video)

    def _real_names(self, text: str) -> str:
        for target, tmp in self._temps.items():
            text = text.replace(str(tmp), str(target))
        return text

    def discard(self) -> None:
        for tmp in self._temps.values():
            _remove(tmp)

    def commit(self) -> None:
        if self.sidecar not in self._temps:
            self.discard()
            raise ValueError("an output unit needs its sidecar written before the commit")
        order = [self.video] if self.video in self._temps else []
        order += [t for t in self._temps if t not in (self.video, self.sidecar)] + [self.sidecar]
        old_sidecar = temp_path_for(self.sidecar)
        moved: list[Path] = []
        try:
            if self.sidecar.exists():
                os.replace(self.sidecar, old_sidecar)
            for target in order:
                tmp = self._temps[target]
                if tmp.is_dir() and target.is_dir() and not target.is_symlink():
                    old = temp_path_for(target)  # a folder cannot be replaced in one rename
                    os.replace(target, old)
                    try:
                        os.replace(tmp, target)
                    except OSError:
                        os.replace(old, target)
                        raise
                    _remove(old)
                else:
                    os.replace(tmp, target)
                moved.append(target)
        except OSError as e:
            if not moved and old_sidecar.exists():
                with suppress(OSError):
                    os.replace(old_sidecar, self.sidecar)  # nothing new in place: the old pair stays whole
            self.discard()
            _remove(old_sidecar)
            raise OutputError(f"Could not finish writing {self.video}: {_reason(e)}"
                              + ("; the video is incomplete (it has no settings file)" if moved else "")
                              + "; free some space or choose another output folder") from e
        _remove(old_sidecar)
