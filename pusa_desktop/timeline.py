"""The timeline: a ruler of pixel frames with the latent slots, keyframe cards with noise sliders, a playhead.

Image files dropped on it (from the file manager or the asset bin) become keyframes snapped to their
latent slot. A dropped video lays its frames on latent slots as clip cards, one per slot, each with its own
noise slider (Extension preset first; Completion and single slots from the card's menu). Every change
goes through the document, so it is undoable. Files are decoded when dropped: a damaged or empty file is
refused with one message, a clip too short for a slot is laid without that slot (`media_checks.py`).

This module is the widget (events, drag and drop, menus); the numbers are in `core/timeline_geometry.py`,
the drawing under the cards in `timeline_painting.py`, the cards in `timeline_cards.py`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt, Signal
from PySide6.QtGui import (
    QContextMenuEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from pusa_engine.request import latent_frames, pixel_frames_of_slot, slot_of_pixel_frame

from .clip_frames import ClipFrameCache
from .core.media_checks import image_file_problem
from .core.model import clip_problem, snap_frame
from .core.timeline_geometry import (
    CARD_TOP,
    HEIGHT_WITH_CLIP,
    HEIGHT_WITHOUT_CLIP,
    RULER_HEIGHT,
    SLOT_BAND_HEIGHT,
    TimelineGeometry,
    drop_message,
    keyframe_noise_for_slot,
    lay_clip,
    next_free_slot,
)
from .document import ProjectDocument
from .images import is_image_file, is_video_file
from .timeline_cards import ClipSlotCard, KeyframeCard, SlotCard
from .timeline_painting import (
    paint_background,
    paint_clip,
    paint_drop_target,
    paint_empty_hint,
    paint_playhead,
    paint_ruler,
    paint_slots,
    slot_rect,
)

__all__ = ["ClipSlotCard", "KeyframeCard", "SlotCard", "TimelineWidget"]


def _discard(card: SlotCard) -> None:
    card.hide()  # gone from the screen now, not at the next turn of the event loop
    card.deleteLater()


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

    @property
    def grid(self) -> TimelineGeometry:
        return TimelineGeometry(self.width(), self.frames)

    def _frame_width(self) -> float:
        return self.grid.frame_width

    def x_of_frame(self, frame: float) -> float:
        return self.grid.x_of_frame(frame)

    def frame_at(self, x: float) -> int:
        return self.grid.frame_at(x)

    def slot_rect(self, slot: int) -> QRect:
        return slot_rect(self.grid, slot)

    def card_width(self) -> int:
        return self.grid.card_width()

    def card_position(self, frame: int) -> QPoint:
        return self.slot_card_position(slot_of_pixel_frame(frame))

    def slot_card_position(self, slot: int) -> QPoint:
        return QPoint(self.grid.slot_card_x(slot), CARD_TOP)

    def slot_at(self, x: float) -> int:
        return self.grid.slot_at(x)

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
                _discard(self._cards.pop(keyframe_id))
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
                _discard(self._clip_cards.pop(slot))
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
        action = menu.addAction(
            f"Lay clip {frames} of {Path(video.path).name} on slot {slot}",
            lambda: self._document.add_video_slot(slot),
        )
        length = self.clips.length(video.path)
        if length is not None and last >= length:  # the clip has no frames for this slot
            action.setEnabled(False)
            action.setText(f"{action.text()} (the clip has only {length} frames)")
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
        """Place images as keyframes from `frame` on (next free slots after the first) and a video as a clip;
        every file is decoded first. Says in one message what was refused and why; returns how many were placed.
        """
        placed = 0
        told: list[str] = []
        broken: list[str] = []
        not_media: list[str] = []
        slot = slot_of_pixel_frame(frame)
        for path in files:
            if is_video_file(path):
                video, message = lay_clip(path, self.frames)  # decoded now; a short clip loses the slots it lacks
                if video is not None:
                    self.clips.forget(path)  # read it again for the cards: it may have changed
                    self.clip_problem = None
                    self._document.set_video(video)
                    placed += 1
                (told if video is not None else broken).append(message)
                continue
            if not is_image_file(path):
                not_media.append(Path(path).name)
                continue
            problem = image_file_problem(path)
            if problem:
                broken.append(problem)
                continue
            free = next_free_slot(slot, self._document.timeline.occupied_slots(), self.frames)
            if free is None:
                told.append(f"No free latent slot at or after frame {frame} for {Path(path).name}.")
                break
            noise = keyframe_noise_for_slot(free, self.frames)
            self._document.add_keyframe(path, pixel_frames_of_slot(free)[1], noise=noise)
            placed += 1
            slot = free + 1
        message = drop_message(told, broken, not_media)
        if message:
            self.message.emit(message)
        return placed

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

    # ----- painting (the drawing is in timeline_painting.py) ------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        grid = self.grid
        palette = self.palette()
        paint_background(painter, self.rect(), palette, self.font())
        paint_slots(painter, grid, self._timesteps)
        video = self._document.timeline.video
        if video is not None:
            paint_clip(painter, grid, video)
        if not self._document.timeline.keyframes and video is None:
            paint_empty_hint(painter, grid)
        paint_ruler(painter, grid, palette.text().color())
        if self._drop_frame is not None:
            paint_drop_target(painter, grid, self._drop_frame)
        if self._playhead is not None:
            paint_playhead(painter, grid, self._playhead, self.height())
        painter.end()
