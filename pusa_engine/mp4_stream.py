"""An H.264 MP4 encoded while its frames are still being made.

The VAE decode hands over each latent frame's pixels as soon as they exist; a writer thread pipes them into
ffmpeg, so the encode (about 2 s for 81 frames at 832x480 with x264's "medium" preset) runs beside the decode
instead of after it. The command and the frames are those of `write_mp4`, so the file is the same byte for
byte (x264 is deterministic whatever the input's pace). Written to a temporary that `close()` renames into
place once ffmpeg succeeded; `abort()` (a failed or cancelled job) removes it.

The encoder runs at a lower CPU priority, so that on a workstation x264's threads leave the cores to the
window and to the thread that feeds the GPU (on a 32-core H200 box, with cores to spare, it made no
difference: the decode ran 2.02 s beside it at normal priority, 2.11 s niced). Priority changes when the
file is done, never its bytes. The pipe gets the frames' memory itself, not a copy.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType

import numpy as np

from . import media_writers
from .atomic_files import temp_path_for
from .errors import OutputError
from .media_writers import (
    _as_frames,
    _check_output_folder,
    _even_frames,
    _ffmpeg_failure,
    _output_error,
    _reason,
    _sync_into_place,
    mp4_command,
)

_STOP = None
ENCODER_NICENESS = 10  # POSIX nice value of ffmpeg; on Windows: below-normal priority


def lower_priority(command: list[str]) -> tuple[list[str], int]:
    """(command, creation flags) that run `command` at a lower CPU priority than this process. On POSIX
    through `nice` (it sets the priority before ffmpeg starts its threads, which inherit it)."""
    if sys.platform == "win32":
        return command, getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0) | getattr(
            subprocess, "CREATE_NO_WINDOW", 0)
    nice = shutil.which("nice")
    return ([nice, "-n", str(ENCODER_NICENESS), *command] if nice else command), 0


class Mp4Stream:
    def __init__(self, path: str | os.PathLike[str], fps: int) -> None:
        if fps < 1:
            raise ValueError(f"Mp4Stream: fps must be >= 1, got {fps}")
        self.target = Path(path)
        _check_output_folder(self.target)
        self.fps = int(fps)
        self.frames_written = 0
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue()
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._errlog = None
        self._size: tuple[int, int] | None = None
        self._tmp: Path | None = None

    # ---- the producer's side (the decode) ----------------------------------------------------------------
    def write(self, frames: np.ndarray) -> None:
        """Queue uint8 frames [T, H, W, 3]; never blocks on the encoder."""
        arr = _even_frames(_as_frames(frames))  # C-contiguous: _as_frames makes it so, and np.pad does
        if self._proc is None:
            self._start(arr.shape[2], arr.shape[1])
        elif arr.shape[1:3] != self._size:
            raise ValueError(f"Mp4Stream: frames of {list(arr.shape[1:3])} after {list(self._size)}")
        self.frames_written += arr.shape[0]
        self._queue.put(arr)

    def close(self) -> None:
        """Wait for the encoder, check it, and rename the file into place (OutputError if anything failed)."""
        if self._proc is None:
            raise ValueError("Mp4Stream: no frames were written")
        code, log = self._finish()
        if code != 0:
            self._remove_temp()
            raise _ffmpeg_failure(self.target, code, log)
        try:
            _sync_into_place(self._tmp, self.target)
        except OSError as e:
            self._remove_temp()
            raise _output_error(self.target, _reason(e)) from e

    def abort(self) -> None:
        """Stop the encoder and remove what it wrote."""
        if self._proc is not None:
            self._proc.kill()
            self._finish()
        self._remove_temp()

    def __enter__(self) -> Mp4Stream:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    # ---- the encoder's side --------------------------------------------------------------------------------
    def _start(self, width: int, height: int) -> None:
        try:
            exe = media_writers._ffmpeg_exe()  # looked up at the call: tests put a fake ffmpeg there
        except RuntimeError as e:
            raise OutputError(f"Could not write {self.target}: ffmpeg is missing ({e}). "
                              "Reinstall Pusa Studio.") from e
        self._size = (height, width)
        self._tmp = temp_path_for(self.target)
        self._errlog = tempfile.TemporaryFile()
        command, flags = lower_priority(mp4_command(exe, width, height, self.fps, self._tmp))
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._errlog,
                                      creationflags=flags)
        self._thread = threading.Thread(target=self._pump, name="mp4-writer", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        stdin = self._proc.stdin
        try:
            while (arr := self._queue.get()) is not _STOP:
                stdin.write(memoryview(arr).cast("B"))  # no copy made while holding the interpreter
        except (BrokenPipeError, OSError):
            pass  # ffmpeg died (or was stopped); its exit code and log say why
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _finish(self) -> tuple[int, str]:
        self._queue.put(_STOP)
        self._thread.join()
        code = self._proc.wait()
        self._errlog.seek(0)
        log = self._errlog.read().decode("utf-8", "replace").strip()
        self._errlog.close()
        return code, log

    def _remove_temp(self) -> None:
        if self._tmp is not None:
            try:
                self._tmp.unlink(missing_ok=True)
            except OSError:
                pass
