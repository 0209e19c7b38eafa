"""The video pane: plays step previews as a loop while a job runs, then the finished video.

Two frame sources feed one canvas. While a job runs, `PreviewLoop` cycles the engine's numpy preview
frames on a timer. A finished video plays through QtMultimedia (`VideoFileSource`: a QMediaPlayer whose
QVideoSink hands each decoded QVideoFrame over as a QImage). Either way the widget paints the frames
itself, so the pane can be grabbed in tests and screenshots. Transport: play/pause, scrub, loop, frame
counter, and frame-by-frame keys (comma/period or Left/Right, Home/End).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QRect, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPaintEvent
from PySide6.QtMultimedia import QMediaMetaData, QMediaPlayer, QVideoFrame, QVideoSink
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .images import frame_to_qimage

DEFAULT_FPS = 16.0
MIN_TIMER_MS = 15


class FrameCanvas(QWidget):
    """Paints one frame scaled to fit, with a caption line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("frameCanvas")
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.image: QImage | None = None
        self.caption = ""
        self.placeholder = "Drop keyframes on the timeline, write a prompt, and press Generate (Ctrl+Enter)"

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(18, 18, 20))
        if self.image is None or self.image.isNull():
            painter.setPen(QColor(160, 160, 170))
            painter.drawText(
                self.rect().adjusted(20, 20, -20, -20),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.placeholder,
            )
        else:
            area = self.rect().adjusted(4, 4, -4, -22)
            size = self.image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(area.center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self.image)
        if self.caption:
            painter.setPen(QColor(220, 220, 225))
            painter.drawText(
                self.rect().adjusted(8, 0, -8, -4),
                Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft,
                self.caption,
            )
        painter.end()


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


class PlayerPane(QWidget):
    """Frames + transport controls. `frame_changed` drives the timeline's playhead."""

    frame_changed = Signal(int)
    video_failed = Signal(str, str)  # path, reason

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("playerPane")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._index = 0
        self.shown_frame: int | None = None  # index of the frame on the canvas
        self.source = ""  # "preview" while a job runs, else the video path
        self.preview = PreviewLoop(self)
        self.media = VideoFileSource(self)
        self._active: FrameSource | None = None
        for frame_source in (self.preview, self.media):
            frame_source.frame_ready.connect(self._frame_ready)
            frame_source.playing_changed.connect(self._source_playing_changed)
            frame_source.length_known.connect(self._length_known)
        self.media.failed.connect(lambda reason: self.video_failed.emit(self.source, reason))
        self.canvas = FrameCanvas(self)
        self._build_controls()
        self._update_controls()

    def _build_controls(self) -> None:
        self.play_button = QToolButton(self)
        self.play_button.setText("Play")
        self.play_button.setAccessibleName("Play or pause")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.scrub = QSlider(Qt.Orientation.Horizontal, self)
        self.scrub.setAccessibleName("Scrub through the video")
        self.scrub.valueChanged.connect(self.show_frame)
        self.loop_box = QCheckBox("Loop", self)
        self.loop_box.setChecked(True)
        self.loop_box.setToolTip("Start again at the end")
        self.loop_box.toggled.connect(self._loop_toggled)
        self.counter = QLabel("0 / 0", self)
        self.counter.setAccessibleName("Frame counter")
        self.counter.setMinimumWidth(70)
        controls = QHBoxLayout()
        controls.setContentsMargins(4, 0, 4, 0)
        controls.addWidget(self.play_button)
        controls.addWidget(self.scrub, 1)
        controls.addWidget(self.counter)
        controls.addWidget(self.loop_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(controls)

    # ----- state -----------------------------------------------------------------------------------------
    @property
    def active_source(self) -> FrameSource | None:
        return self._active

    @property
    def frame_count(self) -> int:
        return 0 if self._active is None else self._active.frame_count

    @property
    def current_frame(self) -> int:
        """The frame shown, or the one asked for while the video seeks to it."""
        return self._index

    @property
    def playing(self) -> bool:
        return self._active is not None and self._active.playing

    # ----- choosing what plays -----------------------------------------------------------------------------
    def _activate(self, frame_source: FrameSource) -> None:
        if self._active is not None and self._active is not frame_source:
            self._active.stop()
        self._active = frame_source
        frame_source.set_loop(self.loop_box.isChecked())

    def set_frames(self, frames: np.ndarray, fps: float, source: str, caption: str = "", play: bool = True) -> None:
        """Show numpy frames (step previews), keeping the position when the length is unchanged."""
        if self._active is not self.preview:
            self._index = 0
        self._activate(self.preview)
        self.source = source
        self.canvas.caption = caption
        self.preview.set_frames(frames, fps)
        if play:
            self.preview.play()
        self._update_controls()

    def open_video(self, path: str, caption: str = "", play: bool = True, start_frame: int = 0) -> None:
        """Play a video file through QtMultimedia (a finished result, or a clip on the timeline)."""
        self.canvas.caption = caption
        if self._active is self.media and self.source == path and self.media.frame_count:
            if play:
                self.media.play()
            else:
                self.step_to(start_frame)
            return
        self._activate(self.media)
        self._index, self.shown_frame = start_frame, None
        self.source = path
        self.media.open(path, play, start_frame)
        self._update_controls()

    def clear(self, placeholder: str | None = None) -> None:
        if self._active is not None:
            self._active.stop()
        self._active = None
        self.source = ""
        self.shown_frame = None
        self.canvas.image = None
        self.canvas.caption = ""
        if placeholder:
            self.canvas.placeholder = placeholder
        self._index = 0
        self._update_controls()
        self.canvas.update()

    def stop(self) -> None:
        for frame_source in (self.preview, self.media):
            frame_source.stop()

    # ----- transport -------------------------------------------------------------------------------------
    def show_frame(self, index: int) -> None:
        """Go to frame `index` (scrubbing); playback goes on from there."""
        if self._active is None or not self.frame_count:
            return
        self._index = max(0, min(self.frame_count - 1, index))
        self._show_position()
        self._active.seek(self._index)

    def toggle_play(self) -> None:
        if self._active is None:
            return
        if self.playing:
            self._active.pause()
        else:
            self._active.play()
        self._update_controls()

    def step_to(self, index: int) -> None:
        if self._active is not None:
            self._active.pause()
        self.show_frame(index)
        self._update_controls()

    def step(self, delta: int) -> None:
        self.step_to(self._index + delta)

    # ----- from the sources ----------------------------------------------------------------------------
    def _frame_ready(self, image: QImage, index: int) -> None:
        if self.sender() is not self._active:
            return
        self._index = index
        self.shown_frame = index
        self.canvas.image = image
        self.canvas.update()
        self._show_position()

    def _show_position(self) -> None:
        self.scrub.blockSignals(True)
        self.scrub.setValue(self._index)
        self.scrub.blockSignals(False)
        self.counter.setText(f"{self._index + 1} / {self.frame_count}")
        self.frame_changed.emit(self._index)

    def _length_known(self, count: int) -> None:
        if self.sender() is not self._active:
            return
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, max(0, count - 1))
        self.scrub.blockSignals(False)
        self._update_controls()

    def _source_playing_changed(self, _playing: bool) -> None:
        self._update_controls()

    def _loop_toggled(self, loop: bool) -> None:
        if self._active is not None:
            self._active.set_loop(loop)

    def _update_controls(self) -> None:
        has_frames = self.frame_count > 0
        for widget in (self.play_button, self.scrub):
            widget.setEnabled(has_frames)
        self.play_button.setText("Pause" if self.playing else "Play")
        if not has_frames:
            self.counter.setText("0 / 0")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_Space:
            self.toggle_play()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Period):
            self.step(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Comma):
            self.step(-1)
        elif key == Qt.Key.Key_Home:
            self.step_to(0)
        elif key == Qt.Key.Key_End:
            self.step_to(self.frame_count - 1)
        else:
            super().keyPressEvent(event)
