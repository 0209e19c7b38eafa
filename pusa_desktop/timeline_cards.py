"""The cards on the timeline: a keyframe image, or one latent slot of a video clip, each with its own noise slider."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QImage, QKeyEvent, QMouseEvent, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QSlider, QVBoxLayout, QWidget

from .core.model import TimelineKeyframe, TimelineVideo
from .core.timeline_geometry import CARD_HEIGHT, CARD_WIDTH, describe_clip_slot, describe_keyframe
from .images import thumbnail_of_file

SLIDER_STEPS = 100


class SlotCard(QFrame):
    """A card on one latent slot: a thumbnail, a noise label and the card's own noise slider (0.0-1.0)."""

    def __init__(self, object_name: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedSize(CARD_WIDTH, CARD_HEIGHT)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(2)
        self.thumbnail = QLabel(self)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setFixedHeight(54)
        self.noise_label = QLabel(self)
        self.noise_label.setObjectName("noiseLabel")
        self.noise_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.valueChanged.connect(lambda value: self.noise_moved(value / SLIDER_STEPS))
        layout.addWidget(self.thumbnail)
        layout.addWidget(self.noise_label)
        layout.addWidget(self.slider)
        self._noise = 0.0
        self._pixmap = QPixmap()

    def show_noise(self, noise: float) -> None:
        self._noise = noise
        self.slider.blockSignals(True)
        self.slider.setValue(round(noise * SLIDER_STEPS))
        self.slider.blockSignals(False)
        self._fit_to_width()

    def set_thumbnail(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self._fit_to_width()

    def _fit_to_width(self) -> None:
        """Narrow cards (many slots) get a shorter noise label and a smaller thumbnail, never a cut one."""
        self.noise_label.setText(f"noise {self._noise:.2f}" if self.width() >= 64 else f"{self._noise:.2f}")
        if not self._pixmap.isNull():
            self.thumbnail.setPixmap(
                self._pixmap.scaled(
                    self.width() - 8,
                    self.thumbnail.height(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_to_width()

    def noise_moved(self, noise: float) -> None:
        raise NotImplementedError

    def delete(self) -> None:
        raise NotImplementedError

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete()
        else:
            super().keyPressEvent(event)


class KeyframeCard(SlotCard):
    """A keyframe on the timeline: its thumbnail and its own noise slider; it moves by dragging."""

    noise_changed = Signal(str, float)
    delete_requested = Signal(str)
    move_requested = Signal(str, int)  # keyframe id, slots to move (arrow keys)
    drag_started = Signal(str, QPoint)
    drag_moved = Signal(str, QPoint)
    drag_ended = Signal(str, QPoint)

    def __init__(self, keyframe: TimelineKeyframe, parent: QWidget) -> None:
        super().__init__("keyframeCard", parent)
        self.keyframe_id = keyframe.id
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.slider.setAccessibleName("Keyframe noise")
        self.slider.setToolTip("Noise multiplier: 0 keeps this exact frame, higher values let the model change it")
        self._image = ""
        self._press: QPoint | None = None
        self._dragging = False
        self.update_from(keyframe)

    def update_from(self, keyframe: TimelineKeyframe) -> None:
        if keyframe.image != self._image:
            self._image = keyframe.image
            pixmap = thumbnail_of_file(keyframe.image, 64)
            self.set_thumbnail(pixmap)
            if pixmap.isNull():
                self.thumbnail.setText("missing")
        self.show_noise(keyframe.noise)
        self.setToolTip(describe_keyframe(keyframe))
        self.setAccessibleName(f"Keyframe {Path(keyframe.image).name} at slot {keyframe.slot}")

    def noise_moved(self, noise: float) -> None:
        self.noise_changed.emit(self.keyframe_id, noise)

    def delete(self) -> None:
        self.delete_requested.emit(self.keyframe_id)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.move_requested.emit(self.keyframe_id, -1 if event.key() == Qt.Key.Key_Left else 1)
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.setFocus()
            self._press = event.position().toPoint()
            self._dragging = False
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._press is not None:
            pos = self.mapToParent(event.position().toPoint())
            if not self._dragging and (event.position().toPoint() - self._press).manhattanLength() > 4:
                self._dragging = True
                self.setCursor(Qt.CursorShape.ClosedHandCursor)
                self.drag_started.emit(self.keyframe_id, pos)
            if self._dragging:
                self.drag_moved.emit(self.keyframe_id, pos)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._dragging:
            self.drag_ended.emit(self.keyframe_id, self.mapToParent(event.position().toPoint()))
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        self._press, self._dragging = None, False
        super().mouseReleaseEvent(event)


class ClipSlotCard(SlotCard):
    """One latent slot of the dropped video: the clip frame that lands there and the slot's noise slider."""

    noise_changed = Signal(int, float)  # slot, noise
    delete_requested = Signal(int)  # slot
    menu_requested = Signal(int, QPoint)  # slot, global position
    activated = Signal(int)  # slot: clicked, to show its clip frame in the player

    def __init__(self, slot: int, parent: QWidget) -> None:
        super().__init__("clipSlotCard", parent)
        self.slot = slot
        self.slider.setAccessibleName(f"Clip noise at slot {slot}")
        self.slider.setToolTip("Noise multiplier of this slot's clip frames: 0 keeps them exactly")
        self.thumbnail.setText("…")
        self.has_thumbnail = False

    def update_from(self, video: TimelineVideo) -> None:
        self.show_noise(video.noise_at(self.slot))
        self.setToolTip(describe_clip_slot(video, self.slot))
        self.setAccessibleName(f"Clip {Path(video.path).name} at slot {self.slot}")

    def show_thumbnail(self, image: QImage | None) -> None:
        self.has_thumbnail = image is not None
        if image is None:
            self.thumbnail.setText("no frame")
            self.thumbnail.setToolTip("The clip is too short for this slot")
            return
        self.thumbnail.setToolTip("")
        self.set_thumbnail(QPixmap.fromImage(image))

    def noise_moved(self, noise: float) -> None:
        self.noise_changed.emit(self.slot, noise)

    def delete(self) -> None:
        self.delete_requested.emit(self.slot)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.setFocus()
        if event.button() == Qt.MouseButton.LeftButton:
            self.activated.emit(self.slot)
        super().mousePressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        self.menu_requested.emit(self.slot, event.globalPos())
