"""Thumbnails and the frame count of a video clip laid on the timeline, read with OpenCV off the GUI thread.

The timeline shows, on each of the clip's slot cards, the clip frame that lands there; it also needs the
clip's length to tell the user when a slot asks for frames the clip does not have.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from .images import frame_to_qimage

MAX_FRAMES = 241  # the longest video the parameter panel allows: thumbnails for every frame a slot can take
THUMBNAIL_SIZE = 96
CACHE_BYTES = 16 * 2**20  # thumbnails kept (a dozen 81-frame clips); older clips are read again when needed


@dataclass(frozen=True)
class ClipFrames:
    path: str
    count: int  # frames in the whole clip
    thumbnails: tuple[np.ndarray, ...]  # its first MAX_FRAMES frames, small

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.thumbnails)

    def thumbnail(self, frame: int) -> QImage | None:
        return frame_to_qimage(self.thumbnails[frame]) if 0 <= frame < len(self.thumbnails) else None


def read_clip_frames(path: str, max_frames: int = MAX_FRAMES, size: int = THUMBNAIL_SIZE) -> ClipFrames:
    """Decode the clip's first frames as small RGB thumbnails and count all of its frames.

    OpenCV first; a clip it cannot open goes through the engine's reader (ffmpeg), as the engine will."""
    import cv2

    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        capture.release()
        return _read_with_engine_reader(path, max_frames, size)
    thumbnails: list[np.ndarray] = []
    count = 0
    try:
        while len(thumbnails) < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            height, width = frame.shape[:2]
            scale = size / max(height, width)
            small = cv2.resize(frame, (max(1, round(width * scale)), max(1, round(height * scale))))
            thumbnails.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        count = len(thumbnails)
        while count == max_frames and capture.grab():  # count the rest without converting them
            count += 1
    finally:
        capture.release()
    if not thumbnails:
        return _read_with_engine_reader(path, max_frames, size)
    return ClipFrames(path, count, tuple(thumbnails))


def _read_with_engine_reader(path: str, max_frames: int, size: int) -> ClipFrames:
    from pusa_engine.errors import InputMediaError
    from pusa_engine.media import read_video_frames, video_frame_count

    try:
        frames = read_video_frames(path, max_frames)
        count = max(len(frames), video_frame_count(path)) if len(frames) == max_frames else len(frames)
    except InputMediaError as error:
        raise OSError("the file is damaged or not a video") from error
    thumbnails = []
    for frame in frames:
        frame.thumbnail((size, size))
        thumbnails.append(np.asarray(frame.convert("RGB")))
    return ClipFrames(path, count, tuple(thumbnails))


class ClipFrameCache(QObject):
    """Reads each clip once on a worker thread; `ready` (path) arrives on the GUI thread when it is done."""

    ready = Signal(str)
    failed = Signal(str, str)  # path, reason

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._clips: dict[str, ClipFrames] = {}
        self._errors: dict[str, str] = {}
        self._loading: set[str] = set()
        self.ready.connect(lambda path: self._loading.discard(path))
        self.failed.connect(lambda path, _reason: self._loading.discard(path))

    def get(self, path: str) -> ClipFrames | None:
        """The clip's frames when read; otherwise None, and reading starts."""
        clip = self._clips.pop(path, None)
        if clip is not None:
            self._clips[path] = clip  # most recently used last
        if clip is None and path not in self._loading and path not in self._errors:
            self._loading.add(path)
            threading.Thread(target=self._read, args=(path,), name="clip-frames", daemon=True).start()
        return clip

    def length(self, path: str) -> int | None:
        """The clip's frame count once read (reading starts if it has not)."""
        clip = self.get(path)
        return clip.count if clip is not None else None

    def error(self, path: str) -> str | None:
        """Why the clip could not be read, when it could not."""
        return self._errors.get(path)

    def forget(self, path: str) -> None:
        """Read the clip again next time (the file changed)."""
        self._clips.pop(path, None)
        self._errors.pop(path, None)

    def _read(self, path: str) -> None:
        try:
            clip = read_clip_frames(path)
        except Exception as error:  # noqa: BLE001 - OpenCV raises its own error type too
            self._errors[path] = str(error)
            self._emit(self.failed, path, str(error))
            return
        self._clips[path] = clip
        while sum(c.nbytes for c in self._clips.values()) > CACHE_BYTES and len(self._clips) > 1:
            del self._clips[next(iter(self._clips))]  # a day of clips must not fill the memory
        self._emit(self.ready, path)

    @staticmethod
    def _emit(signal: Signal, *args: object) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window closed while the clip was read
            pass
