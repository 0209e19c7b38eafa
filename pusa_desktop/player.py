"""The video pane: plays step previews as a loop while a job runs, then the finished video.

Two frame sources (`player_sources.py`) feed one canvas (`player_canvas.py`): the engine's numpy step
previews cycled on a timer while a job runs, and a finished video played through QtMultimedia. This pane
holds the transport: play/pause, scrub, loop, frame counter, and frame-by-frame keys (comma/period or
Left/Right, Home/End).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

from .player_canvas import FrameCanvas
from .player_sources import (
    DEFAULT_FPS,
    MIN_TIMER_MS,
    FrameSource,
    PreviewLoop,
    VideoFileSource,
    frame_index_at,
    position_of_frame,
)

__all__ = [
    "DEFAULT_FPS",
    "MIN_TIMER_MS",
    "FrameCanvas",
    "FrameSource",
    "PlayerPane",
    "PreviewLoop",
    "VideoFileSource",
    "frame_index_at",
    "position_of_frame",
]




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
        self.media.stop()  # a player still playing the last video would ignore play() for the new one
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
