"""The timeline: a ruler of pixel frames with the latent slots, keyframe cards with noise sliders, a playhead.

Image files dropped on it (from the file manager or the asset bin) become keyframes snapped to their
latent slot; a dropped video lays its first frames on slots. Every change goes through the document, so
it is undoable.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget

from pusa_engine.request import latent_frames, pixel_frames_of_slot, slot_of_pixel_frame

from .document import ProjectDocument
from .images import is_image_file, is_video_file, thumbnail_of_file
from .model import (
    END_FRAME_NOISE,
    IMAGE_TO_VIDEO_NOISE,
    TimelineKeyframe,
    TimelineVideo,
    snap_frame,
    video_preset,
)

MARGIN = 14
RULER_HEIGHT = 22
SLOT_BAND_HEIGHT = 20
CARD_TOP = RULER_HEIGHT + SLOT_BAND_HEIGHT + 6
CARD_WIDTH = 68
CARD_HEIGHT = 104
SLIDER_STEPS = 100
SLOT_SHADES = ("#2f3542", "#3d4558")  # alternate latent slots; during a run the noise level colours them


def describe_keyframe(keyframe: TimelineKeyframe) -> str:
    first, last = pixel_frames_of_slot(keyframe.slot)
    frames = f"pixel frame {first}" if first == last else f"pixel frames {first}-{last}"
    return (
        f"{Path(keyframe.image).name}\nLatent slot {keyframe.slot} ({frames})\n"
        f"Noise {keyframe.noise:.2f} (0 = this exact frame, 1 = only a hint)\n"
        "Drag (or Left/Right keys) to move, Delete to remove"
    )


class KeyframeCard(QFrame):
    """A keyframe on the timeline: its thumbnail and its own noise slider."""

    noise_changed = Signal(str, float)
    delete_requested = Signal(str)
    move_requested = Signal(str, int)  # keyframe id, slots to move (arrow keys)
    drag_started = Signal(str, QPoint)
    drag_moved = Signal(str, QPoint)
    drag_ended = Signal(str, QPoint)

    def __init__(self, keyframe: TimelineKeyframe, parent: QWidget) -> None:
        super().__init__(parent)
        self.keyframe_id = keyframe.id
        self.setObjectName("keyframeCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedSize(CARD_WIDTH, CARD_HEIGHT)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
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
        self.slider.setAccessibleName("Keyframe noise")
        self.slider.setToolTip("Noise multiplier: 0 keeps this exact frame, higher values let the model change it")
        self.slider.valueChanged.connect(self._slider_moved)
        layout.addWidget(self.thumbnail)
        layout.addWidget(self.noise_label)
        layout.addWidget(self.slider)
        self._image = ""
        self._press: QPoint | None = None
        self._dragging = False
        self.update_from(keyframe)

    def update_from(self, keyframe: TimelineKeyframe) -> None:
        if keyframe.image != self._image:
            self._image = keyframe.image
            pixmap = thumbnail_of_file(keyframe.image, 64)
            self.thumbnail.setPixmap(pixmap)
            if pixmap.isNull():
                self.thumbnail.setText("missing")
        self.slider.blockSignals(True)
        self.slider.setValue(round(keyframe.noise * SLIDER_STEPS))
        self.slider.blockSignals(False)
        self.noise_label.setText(f"noise {keyframe.noise:.2f}")
        self.setToolTip(describe_keyframe(keyframe))
        self.setAccessibleName(f"Keyframe {Path(keyframe.image).name} at slot {keyframe.slot}")

    def _slider_moved(self, value: int) -> None:
        self.noise_changed.emit(self.keyframe_id, value / SLIDER_STEPS)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_requested.emit(self.keyframe_id)
        elif event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right):
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


class TimelineWidget(QWidget):
    """Ruler of pixel frames 0..N-1, latent slots, keyframe cards, the video clip band and the playhead."""

    message = Signal(str)
    playhead_moved = Signal(int)  # the user clicked the ruler

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._cards: dict[str, KeyframeCard] = {}
        self._playhead: int | None = None
        self._drop_frame: int | None = None
        self._timesteps: list[float] = []
        self.setObjectName("timeline")
        self.setAccessibleName("Timeline")
        self.setAcceptDrops(True)
        self.setMinimumHeight(CARD_TOP + CARD_HEIGHT + 8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip(
            "Drop images here to place keyframes, or a video to extend or complete it.\n"
            "The numbered bands are latent slots (4 pixel frames each, slot 0 is frame 0); while a job runs\n"
            "their shade shows how noisy each slot still is (light = noisy, dark = settled)."
        )
        document.timeline_changed.connect(self.sync)
        document.settings_changed.connect(self.sync)
        self.sync()

    # ----- geometry ------------------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return self._document.settings.frames

    def _frame_width(self) -> float:
        return (self.width() - 2 * MARGIN) / max(1, self.frames)

    def x_of_frame(self, frame: float) -> float:
        return MARGIN + (frame + 0.5) * self._frame_width()

    def frame_at(self, x: float) -> int:
        return max(0, min(self.frames - 1, int((x - MARGIN) / self._frame_width())))

    def slot_rect(self, slot: int) -> QRect:
        first, last = pixel_frames_of_slot(slot)
        left = MARGIN + first * self._frame_width()
        right = MARGIN + (last + 1) * self._frame_width()
        return QRect(round(left), RULER_HEIGHT, max(1, round(right - left)), SLOT_BAND_HEIGHT)

    def card_position(self, frame: int) -> QPoint:
        centre = self.slot_rect(slot_of_pixel_frame(frame)).center().x()
        x = max(0, min(self.width() - CARD_WIDTH, centre - CARD_WIDTH // 2))
        return QPoint(x, CARD_TOP)

    # ----- model -> view -------------------------------------------------------------------------------
    def card(self, keyframe_id: str) -> KeyframeCard:
        return self._cards[keyframe_id]

    def sync(self) -> None:
        timeline = self._document.timeline
        live = {kf.id for kf in timeline.keyframes}
        for keyframe_id in list(self._cards):
            if keyframe_id not in live:
                self._cards.pop(keyframe_id).deleteLater()
        for keyframe in timeline.keyframes:
            card = self._cards.get(keyframe.id)
            if card is None:
                card = KeyframeCard(keyframe, self)
                card.noise_changed.connect(self._document.set_keyframe_noise)
                card.delete_requested.connect(self._document.remove_keyframe)
                card.move_requested.connect(self._move_by_slots)
                card.drag_moved.connect(self._card_dragged)
                card.drag_ended.connect(self._card_dropped)
                self._cards[keyframe.id] = card
                card.show()
            card.update_from(keyframe)
            card.move(self.card_position(keyframe.frame))
        self.update()

    def set_playhead(self, frame: int | None) -> None:
        self._playhead = frame
        self.update()

    def set_timesteps(self, timesteps: list[float]) -> None:
        """Show what each latent slot was given at the current step (dark = clean, light = noisy)."""
        self._timesteps = list(timesteps)
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.sync()

    # ----- moving keyframes ----------------------------------------------------------------------------
    def _move_by_slots(self, keyframe_id: str, delta: int) -> None:
        slot = self._document.timeline.keyframe(keyframe_id).slot + delta
        if not 0 <= slot < latent_frames(self.frames):
            return
        frame = pixel_frames_of_slot(slot)[1]
        problem = self._document.free_slot_problem(frame, except_id=keyframe_id)
        if problem:
            self.message.emit(f"Cannot move the keyframe there: {problem}")
        else:
            self._document.move_keyframe(keyframe_id, frame)

    def _card_dragged(self, keyframe_id: str, pos: QPoint) -> None:
        self._drop_frame = snap_frame(self.frame_at(pos.x()), self.frames)
        self.update()

    def _card_dropped(self, keyframe_id: str, pos: QPoint) -> None:
        self._drop_frame = None
        frame = snap_frame(self.frame_at(pos.x()), self.frames)
        problem = self._document.free_slot_problem(frame, except_id=keyframe_id)
        if problem:
            self.message.emit(f"Cannot move the keyframe there: {problem}")
            self.sync()
        else:
            self._document.move_keyframe(keyframe_id, frame)

    # ----- drops from the file manager or the asset bin -----------------------------------------------
    def _local_paths(self, event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
        return [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._local_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        self._drop_frame = snap_frame(self.frame_at(event.position().x()), self.frames)
        self.update()
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._drop_frame = None
        self.update()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._drop_frame = None
        frame = self.frame_at(event.position().x())
        placed = self.drop_files(self._local_paths(event), frame)
        if placed:
            event.acceptProposedAction()
        else:
            event.ignore()
        self.update()

    def drop_files(self, files: list[str], frame: int) -> int:
        """Place images as keyframes from `frame` on (next free slots after the first); returns how many."""
        placed = 0
        refused: list[str] = []
        slot = slot_of_pixel_frame(frame)
        for path in files:
            if is_video_file(path):
                slots, noise = video_preset("extend", self.frames)
                self._document.set_video(TimelineVideo(path, slots, noise))
                self.message.emit(f"Video {Path(path).name} laid on slots {slots}: the new video continues it")
                placed += 1
                continue
            if not is_image_file(path):
                refused.append(Path(path).name)
                continue
            occupied = self._document.timeline.occupied_slots()
            last_slot = latent_frames(self.frames) - 1
            while slot in occupied and slot <= last_slot:
                slot += 1
            if slot > last_slot:
                self.message.emit(f"No free latent slot at or after frame {frame} for {Path(path).name}")
                break
            noise = END_FRAME_NOISE if slot == last_slot and slot > 0 else IMAGE_TO_VIDEO_NOISE
            self._document.add_keyframe(path, pixel_frames_of_slot(slot)[1], noise=noise)
            placed += 1
            slot += 1
        if refused:
            self.message.emit(
                f"Not an image or video, so not placed: {', '.join(refused)}. "
                "Drop PNG, JPEG or WebP images, or MP4 videos."
            )
        return placed

    # ----- keys and clicks -----------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        focused = self.focusWidget()
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and isinstance(focused, KeyframeCard):
            self._document.remove_keyframe(focused.keyframe_id)
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.position().y() < RULER_HEIGHT + SLOT_BAND_HEIGHT:
            self.playhead_moved.emit(self.frame_at(event.position().x()))
        super().mousePressEvent(event)

    # ----- painting ------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        frames = self.frames
        text_color = palette.text().color()
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.8))
        painter.setFont(small)
        # latent slots
        for slot in range(latent_frames(frames)):
            rect = self.slot_rect(slot)
            shade = QColor(SLOT_SHADES[slot % 2])
            if slot < len(self._timesteps):
                level = max(0.0, min(1.0, self._timesteps[slot] / 1000.0))
                shade = QColor.fromHsvF(0.58, 0.55, 0.35 + 0.5 * level)
            painter.fillRect(rect, shade)
            if rect.width() >= 14:
                painter.setPen(QColor(232, 234, 240) if slot < len(self._timesteps) else QColor(174, 179, 192))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(slot))
        # video clip band
        video = self._document.timeline.video
        if video is not None:
            for slot in video.slots:
                rect = self.slot_rect(slot).adjusted(0, SLOT_BAND_HEIGHT + 4, 0, SLOT_BAND_HEIGHT + 20)
                painter.fillRect(rect, QColor(214, 140, 60, 200))
            painter.setPen(text_color)
            first = self.slot_rect(min(video.slots))
            painter.drawText(
                first.left() + 2,
                CARD_TOP + CARD_HEIGHT - 4,
                f"video {Path(video.path).name}: slots {video.slots}",
            )
        if not self._document.timeline.keyframes and video is None:
            painter.setPen(QColor(150, 156, 170))
            painter.drawText(
                QRect(0, CARD_TOP, self.width(), CARD_HEIGHT - 20),
                Qt.AlignmentFlag.AlignCenter,
                "Drop images here to pin frames (keyframes), or a video to extend it. Empty timeline = text-to-video.",
            )
        # ruler
        painter.setPen(QPen(text_color))
        step = 1
        while self._frame_width() * step < 28:
            step *= 2
        for frame in range(frames):
            x = round(self.x_of_frame(frame))
            major = frame % step == 0 or frame == frames - 1
            painter.drawLine(x, RULER_HEIGHT - (8 if major else 4), x, RULER_HEIGHT)
            if major and (frame == frames - 1 or frames - 1 - frame >= step * 0.6):
                painter.drawText(QRect(x - 20, 0, 40, RULER_HEIGHT - 8), Qt.AlignmentFlag.AlignCenter, str(frame))
        # drop / drag target
        if self._drop_frame is not None:
            rect = self.slot_rect(slot_of_pixel_frame(self._drop_frame))
            painter.fillRect(rect.adjusted(0, 0, 0, CARD_HEIGHT), QColor(80, 160, 255, 70))
        # playhead
        if self._playhead is not None and 0 <= self._playhead < frames:
            x = round(self.x_of_frame(self._playhead))
            painter.setPen(QPen(QColor(230, 60, 60), 2))
            painter.drawLine(x, 0, x, self.height())
        painter.end()
