"""The cards on the timeline: a keyframe image, or one latent slot of a video clip.

Every card shows, without a tooltip, where it is (a keyframe: its slot and pixel frame; a clip card: the clip's
frames that feed its slot), its image, its noise as a field that is scrubbed or typed (`timeline_noise.py`) and
a slider. Where the slots are narrower than a card (a long video at Fit) the cards are compact, in staggered
rows: the slot, the image and the noise as a thin bar that is still scrubbed (the bar above types it). A card
is dragged with the mouse (it follows the cursor; with Shift it goes slot by slot; Esc puts it back), nudged a
slot with Left/Right, its noise stepped with Up/Down; Delete removes it. The card only reports these; the
timeline decides where it lands (`timeline_drag.py`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QFocusEvent, QImage, QKeyEvent, QMouseEvent, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QSlider, QVBoxLayout, QWidget

from .core.model import TimelineKeyframe, TimelineVideo
from .core.timeline_geometry import (
    CARD_HEIGHT,
    CARD_WIDTH,
    clip_slot_header,
    describe_clip_slot,
    describe_keyframe,
    keyframe_header,
)
from .images import thumbnail_of_file
from .timeline_noise import NoiseField

SLIDER_STEPS = 100
DRAG_DISTANCE = 4  # pixels the mouse moves before a press becomes a drag
WIDE_CARD = 64  # from this width a card spells its header out
QWIDGETSIZE_MAX = (1 << 24) - 1
HEADER_STYLE = "color: #dfe3ea; font-size: %dpt; font-weight: bold;"


class SlotCard(QFrame):
    """A card on one latent slot: a header, a thumbnail, a noise field and a noise slider (0.0-1.0)."""

    noise_edited = Signal(float)
    noise_refused = Signal(str)  # a typed value that is not a noise level: why
    delete_requested = Signal()
    nudge_requested = Signal(int)  # slots to move (arrow keys)
    selected = Signal()
    drag_moved = Signal(QPoint, bool)  # where the card's centre would be in the timeline; Shift held (slot by slot)
    drag_ended = Signal(QPoint, bool)
    drag_cancelled = Signal()

    def __init__(self, object_name: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedSize(CARD_WIDTH, CARD_HEIGHT)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 2, 3, 3)
        layout.setSpacing(2)
        self.header = QLabel(self)
        self.header.setObjectName("cardHeader")
        self.header.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.header.setStyleSheet(HEADER_STYLE % 8)
        self.thumbnail = QLabel(self)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setFixedHeight(40)
        self.noise = NoiseField(self)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setFixedHeight(14)
        self.slider.valueChanged.connect(lambda value: self.noise_edited.emit(value / SLIDER_STEPS))
        self.noise.changed.connect(self.noise_edited)
        self.noise.refused.connect(self.noise_refused)
        for widget in (self.header, self.thumbnail, self.noise, self.slider):
            layout.addWidget(widget)
        self._pixmap = QPixmap()
        self._grab: float | None = None  # where on the card (from its centre) the mouse took it
        self._press: QPoint | None = None
        self.dragging = False
        self.compact = False

    def set_form(self, width: int, height: int, compact: bool) -> None:
        """Full (header, image, noise field, slider) or compact (slot, image, thin noise bar), at this size."""
        if compact != self.compact:
            self.compact = compact
            self.slider.setVisible(not compact)
            self.noise.setFixedHeight(6 if compact else 17)
            self.header.setStyleSheet(HEADER_STYLE % (7 if compact else 8))
            self.header.setMinimumHeight(11 if compact else 0)
            self.header.setMaximumHeight(11 if compact else QWIDGETSIZE_MAX)
            self.layout().setContentsMargins(*((2, 1, 2, 2) if compact else (3, 2, 3, 3)))
            self.layout().setSpacing(1 if compact else 2)
        self.thumbnail.setFixedHeight(max(0, height - 22) if compact else 40)
        self.setFixedSize(width, height)
        self._fit_to_width()

    def show_noise(self, noise: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(noise * SLIDER_STEPS))
        self.slider.blockSignals(False)
        self.noise.set_value(noise)

    @property
    def wide(self) -> bool:
        return self.width() >= WIDE_CARD

    def set_thumbnail(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self._fit_to_width()

    def _fit_to_width(self) -> None:
        """Narrow cards (many slots) get a smaller thumbnail and shorter words, never cut ones."""
        if not self._pixmap.isNull():
            self.thumbnail.setPixmap(
                self._pixmap.scaled(
                    max(1, self.width() - 8),
                    self.thumbnail.height(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_to_width()

    # ----- keys ------------------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key, shift = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if key == Qt.Key.Key_Escape and self.dragging:
            self._end_drag()
            self.drag_cancelled.emit()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_requested.emit()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.nudge_requested.emit(-1 if key == Qt.Key.Key_Left else 1)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.noise.step(1 if key == Qt.Key.Key_Up else -1, big=shift)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F2) and not self.compact:
            self.noise.start_typing()
        else:
            super().keyPressEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusInEvent(event)
        self.selected.emit()

    # ----- dragging --------------------------------------------------------------------------------------
    def _centre_in_timeline(self, event: QMouseEvent) -> QPoint:
        parent = self.parentWidget()
        cursor = parent.mapFromGlobal(event.globalPosition().toPoint()) if parent else event.position().toPoint()
        return QPoint(round(cursor.x() - (self._grab or 0.0)), self.y() + self.height() // 2)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.selected.emit()  # also when it had the focus already
        self._press = event.position().toPoint()
        self._grab = event.position().x() - self.width() / 2
        self.dragging = False
        event.accept()  # the card's own: the timeline under it must not take it as a click on empty space

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._press is None or not event.buttons() & Qt.MouseButton.LeftButton:
            super().mouseMoveEvent(event)
            return
        if not self.dragging and (event.position().toPoint() - self._press).manhattanLength() > DRAG_DISTANCE:
            self.dragging = True
            self.raise_()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        if self.dragging:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.drag_moved.emit(self._centre_in_timeline(event), shift)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.dragging:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            centre = self._centre_in_timeline(event)
            self._end_drag()
            self.drag_ended.emit(centre, shift)
        self._press = None
        event.accept()

    def _end_drag(self) -> None:
        self.dragging, self._press = False, None
        self.setCursor(Qt.CursorShape.OpenHandCursor)


class KeyframeCard(SlotCard):
    """A keyframe on the timeline: its slot and frame, its thumbnail, its own noise."""

    def __init__(self, keyframe: TimelineKeyframe, parent: QWidget) -> None:
        super().__init__("keyframeCard", parent)
        self.keyframe_id = keyframe.id
        self.slider.setAccessibleName("Keyframe noise")
        self.slider.setToolTip("Noise multiplier: 0 keeps this exact frame, higher values let the model change it")
        self._image = ""
        self._keyframe = keyframe
        self.update_from(keyframe)

    def update_from(self, keyframe: TimelineKeyframe) -> None:
        self._keyframe = keyframe
        if keyframe.image != self._image:
            self._image = keyframe.image
            pixmap = thumbnail_of_file(keyframe.image, 96)
            self.set_thumbnail(pixmap)
            if pixmap.isNull():
                self.thumbnail.setText("missing")
        self.show_noise(keyframe.noise)
        self.show_place(keyframe)
        self.setToolTip(describe_keyframe(keyframe))
        self.setAccessibleName(f"Keyframe {Path(keyframe.image).name} at slot {keyframe.slot}")

    def show_place(self, keyframe: TimelineKeyframe) -> None:
        """The header: the slot and frame it is on (or would land on, while dragged); compact: the slot."""
        self.header.setText(f"s{keyframe.slot}" if self.compact else keyframe_header(keyframe, self.wide))

    def set_form(self, width: int, height: int, compact: bool) -> None:
        super().set_form(width, height, compact)
        self.show_place(self._keyframe)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.show_place(self._keyframe)


class ClipSlotCard(SlotCard):
    """One latent slot of the dropped video: the clip frames that feed it, the last of them, its noise."""

    menu_requested = Signal(int, QPoint)  # slot, global position
    activated = Signal(int)  # slot: clicked, to show its clip frame in the player

    def __init__(self, slot: int, parent: QWidget) -> None:
        super().__init__("clipSlotCard", parent)
        self.slot = slot
        self.slider.setAccessibleName(f"Clip noise at slot {slot}")
        self.slider.setToolTip("Noise multiplier of this slot's clip frames: 0 keeps them exactly")
        self.thumbnail.setText("…")
        self.has_thumbnail = False
        self.thumbnail_frame: int | None = None  # the clip frame the thumbnail shows
        self._video: TimelineVideo | None = None

    def update_from(self, video: TimelineVideo) -> None:
        self._video = video
        self.show_noise(video.noise_at(self.slot))
        self._show_header()
        self.setToolTip(describe_clip_slot(video, self.slot))
        self.setAccessibleName(f"Clip {Path(video.path).name} at slot {self.slot}")

    def _show_header(self) -> None:
        """The clip frames that feed its slot; compact: the slot."""
        if self._video is not None and self.slot in self._video.slots:
            header = f"s{self.slot}" if self.compact else clip_slot_header(self._video, self.slot, self.wide)
            self.header.setText(header)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._show_header()

    def set_form(self, width: int, height: int, compact: bool) -> None:
        super().set_form(width, height, compact)
        self._show_header()

    def show_thumbnail(self, image: QImage | None, frame: int, in_clip: bool = False) -> None:
        """The clip frame `frame` (the last that feeds the slot); without an image, why (`in_clip`: the clip
        has that frame, but past the first ones that get a preview)."""
        self.has_thumbnail = image is not None
        self.thumbnail_frame = frame
        if image is None:
            self._pixmap = QPixmap()
            self.thumbnail.setPixmap(QPixmap())
            self.thumbnail.setText(f"frame {frame}" if in_clip else "no frame")
            self.thumbnail.setToolTip("No preview this far into the clip" if in_clip else
                                      f"The clip has no frame {frame}")
            return
        self.thumbnail.setToolTip("")
        self.set_thumbnail(QPixmap.fromImage(image))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.activated.emit(self.slot)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        self.menu_requested.emit(self.slot, event.globalPos())
