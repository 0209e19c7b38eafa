"""The timeline: a ruler of pixel frames with the latent slots, keyframe cards with noise sliders, a playhead.

Image files dropped on it (from the file manager or the asset bin) become keyframes snapped to their
latent slot. A dropped video lays its frames on latent slots as clip cards, one per slot, each with its own
noise slider (Extension preset first; Completion and single slots from the card's menu). Every change
goes through the document, so it is undoable.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QFrame, QLabel, QMenu, QSizePolicy, QSlider, QVBoxLayout, QWidget

from pusa_engine.request import latent_frames, pixel_frames_of_slot, slot_of_pixel_frame

from .clip_frames import ClipFrameCache
from .document import ProjectDocument
from .images import is_image_file, is_video_file, thumbnail_of_file
from .model import (
    END_FRAME_NOISE,
    IMAGE_TO_VIDEO_NOISE,
    TimelineKeyframe,
    TimelineVideo,
    clip_problem,
    snap_frame,
    video_preset,
)

MARGIN = 14
RULER_HEIGHT = 22
SLOT_BAND_HEIGHT = 20
CARD_TOP = RULER_HEIGHT + SLOT_BAND_HEIGHT + 6
CARD_WIDTH = 68
MIN_CARD_WIDTH = 46
CARD_HEIGHT = 104
CLIP_STRIP_HEIGHT = 4
CLIP_CAPTION_TOP = CARD_TOP + CARD_HEIGHT + 2
CLIP_CAPTION_HEIGHT = 14
CLIP_COLOUR = QColor(222, 150, 70)
HEIGHT_WITHOUT_CLIP = CARD_TOP + CARD_HEIGHT + 8
HEIGHT_WITH_CLIP = CLIP_CAPTION_TOP + CLIP_CAPTION_HEIGHT + 2  # room for the clip's caption under its cards
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


def describe_clip_slot(video: TimelineVideo, slot: int) -> str:
    first, last = pixel_frames_of_slot(slot)
    frames = f"frame {first}" if first == last else f"frames {first}-{last}"
    return (
        f"{Path(video.path).name}: clip {frames} on latent slot {slot}\n"
        f"Noise {video.noise_at(slot):.2f} (0 = keep these frames exactly, 1 = only a hint)\n"
        "Delete removes this slot; right-click for the Extension and Completion presets"
    )


def clip_caption(video: TimelineVideo) -> str:
    slots = ", ".join(str(s) for s in video.slots)
    return f"Clip {Path(video.path).name} on slot{'s' if len(video.slots) > 1 else ''} {slots}"


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


class TimelineWidget(QWidget):
    """Ruler of pixel frames 0..N-1, latent slots, keyframe cards, the video clip's slot cards and the playhead."""

    message = Signal(str)
    playhead_moved = Signal(int)  # the user clicked the ruler
    clip_frame_requested = Signal(str, int, int)  # clip path, clip frame, slot: show it in the player

    def __init__(
        self, document: ProjectDocument, parent: QWidget | None = None, clips: ClipFrameCache | None = None
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._cards: dict[str, KeyframeCard] = {}
        self._clip_cards: dict[int, ClipSlotCard] = {}
        self._clip_path = ""
        self.clip_problem: str | None = None  # what the user was told about the clip's length
        self.clips = clips or ClipFrameCache(self)
        self.clips.ready.connect(self._clip_read)
        self.clips.failed.connect(lambda path, why: self.message.emit(f"Cannot read {Path(path).name}: {why}"))
        self._playhead: int | None = None
        self._drop_frame: int | None = None
        self._timesteps: list[float] = []
        self.setObjectName("timeline")
        self.setAccessibleName("Timeline")
        self.setAcceptDrops(True)
        self.setMinimumHeight(HEIGHT_WITHOUT_CLIP)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip(
            "Drop images here to place keyframes, or a video to extend or complete it (right-click its cards\n"
            "for the Extension and Completion presets, or an empty slot to lay the clip's frames there).\n"
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

    def card_width(self) -> int:
        """Cards narrow down to their slot's width, so cards on neighbouring slots never overlap."""
        return max(MIN_CARD_WIDTH, min(CARD_WIDTH, round(4 * self._frame_width()) - 4))

    def card_position(self, frame: int) -> QPoint:
        return self.slot_card_position(slot_of_pixel_frame(frame))

    def slot_card_position(self, slot: int) -> QPoint:
        width = self.card_width()
        centre = self.slot_rect(slot).center().x()
        return QPoint(max(0, min(self.width() - width, centre - width // 2)), CARD_TOP)

    def slot_at(self, x: float) -> int:
        return slot_of_pixel_frame(self.frame_at(x))

    # ----- model -> view -------------------------------------------------------------------------------
    def card(self, keyframe_id: str) -> KeyframeCard:
        return self._cards[keyframe_id]

    def clip_card(self, slot: int) -> ClipSlotCard:
        return self._clip_cards[slot]

    def clip_slots_shown(self) -> list[int]:
        return sorted(self._clip_cards)

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
            card.setFixedWidth(self.card_width())
            card.move(self.card_position(keyframe.frame))
        self._sync_clip_cards()
        self.update()

    def _sync_clip_cards(self) -> None:
        video = self._document.timeline.video
        path = video.path if video is not None else ""
        slots = set(video.slots) if video is not None else set()
        for slot in list(self._clip_cards):
            if slot not in slots or path != self._clip_path:
                self._clip_cards.pop(slot).deleteLater()
        self._clip_path = path
        self.setMinimumHeight(HEIGHT_WITHOUT_CLIP if video is None else HEIGHT_WITH_CLIP)
        if video is None:
            self.clip_problem = None
            return
        clip = self.clips.get(video.path)
        for slot in video.slots:
            card = self._clip_cards.get(slot)
            if card is None:
                card = ClipSlotCard(slot, self)
                card.noise_changed.connect(self._document.set_video_slot_noise)
                card.delete_requested.connect(self._document.remove_video_slot)
                card.menu_requested.connect(lambda slot, pos: self.clip_menu(slot).exec(pos))
                card.activated.connect(self._clip_card_activated)
                self._clip_cards[slot] = card
                card.show()
            card.setFixedWidth(self.card_width())
            card.update_from(video)
            if clip is not None and not card.has_thumbnail:
                card.show_thumbnail(clip.thumbnail(pixel_frames_of_slot(slot)[1]))
            card.move(self.slot_card_position(slot))
        if clip is not None:
            self._report_clip_problem(clip_problem(video, clip.count, self.frames))

    def _clip_card_activated(self, slot: int) -> None:
        if self._clip_path:
            self.clip_frame_requested.emit(self._clip_path, pixel_frames_of_slot(slot)[1], slot)

    def _clip_read(self, path: str) -> None:
        if path == self._clip_path:
            self._sync_clip_cards()
            self.update()

    def _report_clip_problem(self, problem: str | None) -> None:
        if problem != self.clip_problem:
            self.clip_problem = problem
            if problem:
                self.message.emit(problem)

    # ----- menus -------------------------------------------------------------------------------------------
    def clip_menu(self, slot: int) -> QMenu:
        """The clip card's menu: the two presets, this slot off, the whole clip off."""
        menu = QMenu(self)
        menu.addAction("Extension: clip frames 0-12 on slots 0-3", lambda: self._document.apply_video_preset("extend"))
        menu.addAction(
            "Completion: first frame on slot 0, last 4 frames on the last slot",
            lambda: self._document.apply_video_preset("complete"),
        )
        menu.addSeparator()
        menu.addAction(f"Remove slot {slot} (Delete)", lambda: self._document.remove_video_slot(slot))
        menu.addAction("Remove the clip", lambda: self._document.set_video(None))
        return menu

    def slot_menu(self, slot: int) -> QMenu | None:
        """An empty slot's menu while a clip is placed: lay the clip's frames of that slot there."""
        video = self._document.timeline.video
        if video is None or slot in self._document.timeline.occupied_slots():
            return None
        first, last = pixel_frames_of_slot(slot)
        frames = f"frame {first}" if first == last else f"frames {first}-{last}"
        menu = QMenu(self)
        menu.addAction(
            f"Lay clip {frames} of {Path(video.path).name} on slot {slot}",
            lambda: self._document.add_video_slot(slot),
        )
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        menu = self.slot_menu(self.slot_at(event.pos().x()))
        if menu is not None:
            menu.exec(event.globalPos())

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
                self._place_clip(path)
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

    def _place_clip(self, path: str) -> None:
        """A dropped video: its first 13 frames on slots 0-3 (Extension), one card per slot."""
        slots, noise = video_preset("extend", self.frames)
        self.clip_problem = None
        self._document.set_video(TimelineVideo(path, slots, noise))
        self.message.emit(
            f"Video {Path(path).name}: clip frames on slots {slots[0]}-{slots[-1]}, so the new video continues it. "
            "Right-click a clip card for Completion; Delete removes a slot."
        )

    # ----- keys and clicks -----------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        focused = self.focusWidget()
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and isinstance(focused, SlotCard):
            focused.delete()
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
        # the clip's slots: an orange strip under each slot band, its name under the cards
        video = self._document.timeline.video
        if video is not None:
            for slot in video.slots:
                rect = self.slot_rect(slot)
                painter.fillRect(rect.left(), rect.bottom() + 1, rect.width(), CLIP_STRIP_HEIGHT, CLIP_COLOUR)
            painter.setPen(CLIP_COLOUR)
            left = self.slot_card_position(min(video.slots)).x()
            painter.drawText(
                QRect(left, CLIP_CAPTION_TOP, self.width() - left - MARGIN, CLIP_CAPTION_HEIGHT),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                clip_caption(video),
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
