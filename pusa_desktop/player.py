"""The video pane: plays step previews as a loop while a job runs, then the finished video.

Frames are painted by the widget itself (so the pane can be grabbed in tests and screenshots):
play/pause, scrub, loop, frame counter, and frame-by-frame keys (comma/period or Left/Right).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPaintEvent
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


class PlayerPane(QWidget):
    """Frames + transport controls. `frame_changed` drives the timeline's playhead."""

    frame_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("playerPane")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._frames: np.ndarray | None = None
        self._index = 0
        self.source = ""  # "preview" while a job runs, else the video path
        self.canvas = FrameCanvas(self)
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
        self.counter = QLabel("0 / 0", self)
        self.counter.setAccessibleName("Frame counter")
        self.counter.setMinimumWidth(70)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._advance)
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
        self._update_controls()

    @property
    def frame_count(self) -> int:
        return 0 if self._frames is None else len(self._frames)

    @property
    def current_frame(self) -> int:
        return self._index

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_frames(self, frames: np.ndarray, fps: float, source: str, caption: str = "", play: bool = True) -> None:
        """Show new frames, keeping the position when the length is unchanged (step previews)."""
        same_length = self._frames is not None and len(self._frames) == len(frames)
        self._frames = frames
        self.source = source
        self.canvas.caption = caption
        self._timer.setInterval(max(15, round(1000 / max(1.0, fps))))
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, max(0, len(frames) - 1))
        self.scrub.blockSignals(False)
        self.show_frame(self._index if same_length else 0)
        if play and not self.playing:
            self._timer.start()
        self._update_controls()

    def clear(self, placeholder: str | None = None) -> None:
        self._timer.stop()
        self._frames = None
        self.source = ""
        self.canvas.image = None
        self.canvas.caption = ""
        if placeholder:
            self.canvas.placeholder = placeholder
        self._index = 0
        self._update_controls()
        self.canvas.update()

    def show_frame(self, index: int) -> None:
        if self._frames is None or not len(self._frames):
            return
        self._index = max(0, min(len(self._frames) - 1, index))
        self.canvas.image = frame_to_qimage(self._frames[self._index])
        self.canvas.update()
        self.scrub.blockSignals(True)
        self.scrub.setValue(self._index)
        self.scrub.blockSignals(False)
        self.counter.setText(f"{self._index + 1} / {len(self._frames)}")
        self.frame_changed.emit(self._index)

    def toggle_play(self) -> None:
        if self.playing:
            self._timer.stop()
        elif self.frame_count:
            self._timer.start()
        self._update_controls()

    def step_to(self, index: int) -> None:
        self._timer.stop()
        self.show_frame(index)
        self._update_controls()

    def step(self, delta: int) -> None:
        self._timer.stop()
        self.show_frame(self._index + delta)
        self._update_controls()

    def _advance(self) -> None:
        if self._index + 1 < self.frame_count:
            self.show_frame(self._index + 1)
        elif self.loop_box.isChecked():
            self.show_frame(0)
        else:
            self._timer.stop()
            self._update_controls()

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
            self.step(-self.frame_count)
        elif key == Qt.Key.Key_End:
            self.step(self.frame_count)
        else:
            super().keyPressEvent(event)
