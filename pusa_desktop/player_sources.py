"""Where the player's frames come from: one `FrameSource` protocol, two sources.

While a job runs, `PreviewLoop` cycles the engine's numpy preview frames on a timer. A finished video plays
through QtMultimedia (`VideoFileSource`: a QMediaPlayer whose QVideoSink hands each decoded QVideoFrame over
as a QImage). Both say which frame they show with `frame_ready`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QMediaMetaData, QMediaPlayer, QVideoFrame, QVideoSink

from .images import frame_to_qimage

DEFAULT_FPS = 16.0
MIN_TIMER_MS = 15


class FrameSource(QObject):
    """Where the pane's frames come from. `frame_ready` carries each frame and its index."""

    frame_ready = Signal(QImage, int)
    playing_changed = Signal(bool)
    length_known = Signal(int)  # frame count

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loop = True

    @property
    def frame_count(self) -> int:
        raise NotImplementedError

    @property
    def playing(self) -> bool:
        raise NotImplementedError

    def play(self) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def seek(self, index: int) -> None:
        """Show frame `index` (clamped to the frames there are)."""
        raise NotImplementedError

    def set_loop(self, loop: bool) -> None:
        self.loop = loop

    def stop(self) -> None:
        self.pause()


class PreviewLoop(FrameSource):
    """The engine's step previews (numpy RGB frames), cycled on a timer."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._frames: np.ndarray | None = None
        self._index = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._advance)

    @property
    def frame_count(self) -> int:
        return 0 if self._frames is None else len(self._frames)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_frames(self, frames: np.ndarray, fps: float) -> None:
        """New frames; the position is kept when the length is unchanged (one preview after another)."""
        same_length = self.frame_count == len(frames)
        self._frames = frames
        self._timer.setInterval(max(MIN_TIMER_MS, round(1000 / max(1.0, fps))))
        self.length_known.emit(len(frames))
        self.seek(self._index if same_length else 0)

    def play(self) -> None:
        if self.frame_count and not self.playing:
            self._timer.start()
            self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.playing:
            self._timer.stop()
            self.playing_changed.emit(False)

    def seek(self, index: int) -> None:
        if not self.frame_count:
            return
        self._index = max(0, min(self.frame_count - 1, index))
        self.frame_ready.emit(frame_to_qimage(self._frames[self._index]), self._index)

    def _advance(self) -> None:
        if self._index + 1 < self.frame_count:
            self.seek(self._index + 1)
        elif self.loop:
            self.seek(0)
        else:
            self.pause()


def frame_index_at(time_us: int, fps: float) -> int:
    """The frame index of a frame starting at `time_us` microseconds."""
    return max(0, round(time_us * fps / 1_000_000))


def position_of_frame(index: int, fps: float) -> int:
    """A position in milliseconds inside frame `index` (its middle, so rounding never lands on a neighbour)."""
    return int((index + 0.5) * 1000 / fps)


class VideoFileSource(FrameSource):
    """A video file played by QtMultimedia: QMediaPlayer decodes, our QVideoSink turns frames into QImages."""

    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = QMediaPlayer(self)
        self.sink = QVideoSink(self)
        self.player.setVideoSink(self.sink)
        self.sink.videoFrameChanged.connect(self._on_video_frame)
        self.player.mediaStatusChanged.connect(self._on_status)
        self.player.playbackStateChanged.connect(
            lambda state: self.playing_changed.emit(state == QMediaPlayer.PlaybackState.PlayingState)
        )
        self.player.errorOccurred.connect(lambda _error, text: self.failed.emit(text))
        self.fps = DEFAULT_FPS
        self.frames_received = 0  # QVideoFrames that reached the sink since the last `open`
        self._count = 0
        self._play_when_loaded = False
        self._start_frame = 0
        self.set_loop(True)

    @property
    def frame_count(self) -> int:
        return self._count

    @property
    def playing(self) -> bool:
        return self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def open(self, path: str, play: bool = True, start_frame: int = 0) -> None:
        """Load a video; it plays from the start, or (play=False) waits on `start_frame`."""
        self._count, self.frames_received = 0, 0
        self._play_when_loaded, self._start_frame = play, start_frame
        self.player.setSource(QUrl.fromLocalFile(path))

    def play(self) -> None:
        if self._count:
            self.player.play()
        else:
            self._play_when_loaded = True

    def pause(self) -> None:
        self._play_when_loaded = False
        if self.playing:
            self.player.pause()

    def stop(self) -> None:
        self._play_when_loaded = False
        self.player.stop()

    def seek(self, index: int) -> None:
        if not self._count:
            return
        index = max(0, min(self._count - 1, index))
        if self.player.playbackState() == QMediaPlayer.PlaybackState.StoppedState:
            self.player.pause()  # a stopped player seeks without showing the frame
        self.player.setPosition(position_of_frame(index, self.fps))

    def set_loop(self, loop: bool) -> None:
        super().set_loop(loop)
        self.player.setLoops(QMediaPlayer.Loops.Infinite if loop else QMediaPlayer.Loops.Once)

    def _on_status(self, status: QMediaPlayer.MediaStatus) -> None:
        if status == QMediaPlayer.MediaStatus.LoadedMedia and not self._count:
            rate = self.player.metaData().value(QMediaMetaData.Key.VideoFrameRate)
            self.fps = float(rate) if rate else DEFAULT_FPS
            self._count = max(1, round(self.player.duration() * self.fps / 1000))
            self.length_known.emit(self._count)
            if self._play_when_loaded:
                self.player.play()
            else:
                self.seek(self._start_frame)
        elif status == QMediaPlayer.MediaStatus.InvalidMedia:
            self.failed.emit(self.player.errorString() or "not a playable video")

    def _on_video_frame(self, frame: QVideoFrame) -> None:
        if not frame.isValid():  # the end of the media without a loop: keep the last frame on screen
            return
        image = frame.toImage()
        if image.isNull():
            return
        self.frames_received += 1
        index = min(max(0, self._count - 1), frame_index_at(frame.startTime(), self.fps))
        self.frame_ready.emit(image, index)
