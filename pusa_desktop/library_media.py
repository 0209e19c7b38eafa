"""Small frames of result videos for the Library: gallery thumbnails (cached on disk), the few frames a
thumbnail plays while hovered, and the frames the compare view plays. Decoded with OpenCV on a worker
thread; `FrameLoader.loaded` hands them to the GUI thread."""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)
THUMB_SIZE = (192, 108)
HOVER_FRAMES = 24
COMPARE_SIZE = (640, 400)


@dataclass(frozen=True)
class Decoded:
    """Frames of one video (uint8 RGB [T, H, W, 3]) and its frame rate."""

    video: str
    frames: np.ndarray
    fps: float

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps if self.fps > 0 else 0.0


def _fit(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    scale = min(box[0] / max(1, width), box[1] / max(1, height), 1.0)
    return max(2, round(width * scale)), max(2, round(height * scale))


def decode_frames(video: str | Path, box: tuple[int, int], limit: int | None = None) -> Decoded | None:
    """The video's frames scaled to fit `box`, evenly picked down to `limit` frames; None if unreadable."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            return None
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 16.0)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        step = max(1, count // limit) if limit and count > limit else 1
        frames, index = [], 0
        while limit is None or len(frames) < limit:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                size = _fit(frame.shape[1], frame.shape[0], box)
                small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
                frames.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        capture.release()
    if not frames:
        return None
    return Decoded(str(video), np.stack(frames), fps / step)


def thumbnail(video: str | Path, cache: Path, box: tuple[int, int] = THUMB_SIZE) -> np.ndarray | None:
    """The first frame, small; cached as a PNG named after the video's path, size and time."""
    import cv2

    try:
        st = Path(video).stat()
    except OSError:
        return None
    key = hashlib.sha1(f"{Path(video).resolve()}|{st.st_size}|{st.st_mtime_ns}|{box}".encode()).hexdigest()[:20]
    cached = cache / f"{key}.png"
    if cached.is_file():
        image = cv2.imread(str(cached), cv2.IMREAD_COLOR)
        if image is not None:
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    decoded = decode_frames(video, box, limit=1)
    if decoded is None:
        return None
    frame = decoded.frames[0]
    try:
        cache.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(cached), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    except (OSError, cv2.error):  # a cache that cannot be written only costs the decode next time
        pass
    return frame


class FrameLoader(QObject):
    """Decodes on one worker thread, newest request first for hovering; results arrive on the GUI thread as
    `loaded(key, value)` (value: a Decoded, a thumbnail array, or None when the video cannot be read)."""

    loaded = Signal(str, object)

    def __init__(self, cache: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="library-frames")
        self._pending: set[str] = set()
        self._hover_wanted = ""
        self.loaded.connect(self._done)  # a method: called on the GUI thread

    def _done(self, key: str, _value: object) -> None:
        self._pending.discard(key)

    def thumbnail(self, video: str) -> None:
        self._submit(f"thumb:{video}", lambda: thumbnail(video, self._cache))

    def hover(self, video: str) -> None:
        """Frames for the hovered thumbnail; older hover requests still waiting are skipped."""
        key = f"hover:{video}"
        self._hover_wanted = key
        self._submit(key, lambda: decode_frames(video, THUMB_SIZE, HOVER_FRAMES) if self._hover_wanted == key else None)

    def frames(self, video: str, key: str) -> None:
        self._submit(key, lambda: decode_frames(video, COMPARE_SIZE))

    def _submit(self, key: str, work) -> None:
        if key in self._pending:
            return
        self._pending.add(key)

        def run() -> None:
            try:
                value = work()
            except Exception:  # noqa: BLE001 - a file that cannot be decoded is shown as unreadable
                log.exception("decoding %s failed", key)
                value = None
            try:
                self.loaded.emit(key, value)
            except RuntimeError:  # the window closed meanwhile
                pass

        try:
            self._pool.submit(run)
        except RuntimeError:  # shut down
            self._pending.discard(key)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
