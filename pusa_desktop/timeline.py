"""The timeline: a ruler of pixel frames with the latent slots, keyframe cards and a clip's slot cards, a playhead.

Image files dropped on it (from the file manager or the asset bin) become keyframes on their latent slot;
several spread from the drop point over free slots in the order the drag lists them. A dropped video is laid
from the slot it was dropped on, one card per slot with its own noise, and a band under its cards whose ends
trim its in and out points and whose body moves it (or set them in the bar above, `timeline_pane.py`). Cards
follow the mouse when dragged; where the slots are narrower than a card they are compact, in staggered rows.
Every change goes through the document, so it is undoable. Files are decoded when dropped: a damaged or empty
file is refused with one message, a clip too short for a slot is laid without that slot.

This module is the widget (cards, menus, events); the numbers are in `core/timeline_geometry.py` and
`core/timeline_clips.py`, dragging and dropping in `timeline_drag.py`, the clip's band in
`timeline_clip_drag.py`, the drawing under the cards in `timeline_painting.py`, the cards in `timeline_cards.py`.
`TimelinePane` puts it in a scroll area with zoom.
"""

from __future__ import annotations

from collections.abc import Callable
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
    QWheelEvent,
)
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from pusa_engine.request import slot_of_pixel_frame

from .clip_frames import ClipFrameCache
from .core.model import clip_problem
from .core.timeline_geometry import (
    CARD_HEIGHT,
    CARD_TOP,
    HEIGHT_WITH_CLIP,
    HEIGHT_WITHOUT_CLIP,
    RULER_HEIGHT,
    SLOT_BAND_HEIGHT,
    CardPlaces,
    TimelineGeometry,
)
from .document import ProjectDocument
from .timeline_cards import ClipSlotCard, KeyframeCard, SlotCard
from .timeline_clip_drag import ClipBandInteraction
from .timeline_drag import TimelineInteraction
from .timeline_menus import clip_menu, slot_menu
from .timeline_painting import paint_timeline, slot_rect

__all__ = ["ClipSlotCard", "KeyframeCard", "SlotCard", "TimelineWidget"]
Selection = tuple[str, str | int]  # ("keyframe", id) or ("clip", slot)


def _discard(card: SlotCard) -> None:
    card.hide()  # gone from the screen now, not at the next turn of the event loop
    card.deleteLater()


class TimelineWidget(QWidget):
    """Ruler of pixel frames 0..N-1, latent slots, keyframe cards, the video clip's slot cards and the playhead."""

    message = Signal(str)
    playhead_moved = Signal(int)  # the user clicked the ruler
    clip_frame_requested = Signal(str, int, int)  # clip path, clip frame, slot: show it in the player
    selection_changed = Signal()
    zoom_requested = Signal(float, float)  # Ctrl+wheel: factor, at this x of the timeline
    scroll_requested = Signal(int)  # the wheel without Ctrl: pixels to scroll sideways

    def __init__(
        self, document: ProjectDocument, parent: QWidget | None = None, clips: ClipFrameCache | None = None
    ) -> None:
        super().__init__(parent)
        self.document = document
        self._document = document
        self._cards: dict[str, KeyframeCard] = {}
        self._clip_cards: dict[int, ClipSlotCard] = {}
        self._clip_path = ""
        self.clip_problem: str | None = None  # what the user was told about the clip's length
        self.clips = clips or ClipFrameCache(self)
        self.clips.ready.connect(self._clip_read)
        self.clips.failed.connect(lambda path, why: self.message.emit(f"Cannot read {Path(path).name}: {why}"))
        self.selection: Selection | None = None
        self.reveal: Callable[[float], None] = lambda _x: None  # the pane scrolls to show this x while dragging
        self.interaction = TimelineInteraction(self)
        self.band = ClipBandInteraction(self)  # the clip's band: its ends trim the clip, its body moves it
        self.card_places = CardPlaces(self.grid.card_width(), CARD_HEIGHT, False, {})
        self._playhead: int | None = None
        self.timesteps: list[float] = []
        self.setMouseTracking(True)  # the band's ends show a resize cursor under the mouse
        self.setObjectName("timeline")
        self.setAccessibleName("Timeline")
        self.setAcceptDrops(True)
        self.setFixedHeight(HEIGHT_WITHOUT_CLIP)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip(
            "Drop images here to place keyframes (several spread over free slots in the order you dragged them),\n"
            "or a video to lay its frames from the slot you drop it on. Drag cards to move them (Shift: slot by\n"
            "slot), Left/Right nudge, Up/Down change the noise; Ctrl+wheel zooms, the wheel scrolls.\n"
            "Drag the ends of the clip's band (under its cards) to trim its in and out points, its middle to move it.\n"
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

    def x_of_frame(self, frame: float) -> float:
        return self.grid.x_of_frame(frame)

    def frame_at(self, x: float) -> int:
        return self.grid.frame_at(x)

    def slot_rect(self, slot: int) -> QRect:
        return slot_rect(self.grid, slot)

    def card_width(self) -> int:
        return self.card_places.width

    def card_position(self, frame: int) -> QPoint:
        return self.slot_card_position(slot_of_pixel_frame(frame))

    def slot_card_position(self, slot: int) -> QPoint:
        """Where the card on `slot` sits (cards on neighbouring slots never cover each other where they fit)."""
        place = self.card_places.places.get(slot)
        return QPoint(*place) if place else QPoint(self.grid.slot_card_x(slot, self.card_width()), CARD_TOP)

    def slot_at(self, x: float) -> int:
        return self.grid.slot_at(x)

    # ----- model -> view -------------------------------------------------------------------------------
    def card(self, keyframe_id: str) -> KeyframeCard:
        return self._cards[keyframe_id]

    def clip_card(self, slot: int) -> ClipSlotCard:
        return self._clip_cards[slot]

    def clip_cards(self) -> list[ClipSlotCard]:
        return [self._clip_cards[s] for s in sorted(self._clip_cards)]

    def clip_cards_by_slot(self) -> dict[int, ClipSlotCard]:
        return dict(self._clip_cards)

    def clip_slots_shown(self) -> list[int]:
        return sorted(self._clip_cards)

    def sync(self) -> None:
        timeline = self._document.timeline
        live = {kf.id for kf in timeline.keyframes}
        for keyframe_id in list(self._cards):
            if keyframe_id not in live:
                _discard(self._cards.pop(keyframe_id))
        places = self.card_places = self.grid.card_places(timeline.occupied_slots())
        for keyframe in timeline.keyframes:
            card = self._cards.get(keyframe.id)
            if card is None:
                card = self._new_keyframe_card(keyframe)
            card.set_form(places.width, places.height, places.compact)
            card.update_from(keyframe)
            if not card.dragging:
                card.move(*places.places[keyframe.slot])
        self._sync_clip_cards()
        self._check_selection()
        self.update()

    def _new_keyframe_card(self, keyframe) -> KeyframeCard:
        card = KeyframeCard(keyframe, self)
        key = keyframe.id
        card.noise_edited.connect(lambda noise: self._document.set_keyframe_noise(key, noise))
        card.delete_requested.connect(lambda: self._document.remove_keyframe(key))
        card.nudge_requested.connect(lambda delta: self.interaction.nudge_keyframe(key, delta))
        self._connect_card(card, ("keyframe", key))
        self._cards[key] = card
        card.show()
        return card

    def _connect_card(self, card: SlotCard, key: Selection) -> None:
        card.noise_refused.connect(self.message)
        card.selected.connect(lambda: self.select(key))
        card.drag_moved.connect(lambda centre, snap: self.interaction.card_dragged(card, centre, snap))
        card.drag_ended.connect(lambda centre, _snap: self.interaction.card_dropped(card, centre))
        card.drag_cancelled.connect(self.interaction.drag_cancelled)

    def _sync_clip_cards(self) -> None:
        video = self._document.timeline.video
        path = video.path if video is not None else ""
        slots = set(video.slots) if video is not None else set()
        for slot in list(self._clip_cards):
            if slot not in slots or path != self._clip_path:
                _discard(self._clip_cards.pop(slot))
        self._clip_path = path
        self.setFixedHeight(HEIGHT_WITHOUT_CLIP if video is None else HEIGHT_WITH_CLIP)
        if video is None:
            self.clip_problem = None
            return
        clip = self.clips.get(video.path)
        places = self.card_places
        for slot in video.slots:
            card = self._clip_cards.get(slot)
            if card is None:
                card = self._new_clip_card(slot)
            card.set_form(places.width, places.height, places.compact)
            card.update_from(video)
            frame = video.source_frames(slot)[1]  # the last clip frame that feeds the slot
            if clip is not None and (not card.has_thumbnail or card.thumbnail_frame != frame):
                card.show_thumbnail(clip.thumbnail(frame), frame, frame < clip.count)
            if not card.dragging and self.band.drag is None:  # a dragged band carries its cards
                card.move(self.slot_card_position(slot))
        if clip is not None:
            self._report_clip_problem(clip_problem(video, clip.count, self.frames))

    def _new_clip_card(self, slot: int) -> ClipSlotCard:
        card = ClipSlotCard(slot, self)
        card.noise_edited.connect(lambda noise: self._document.set_video_slot_noise(slot, noise))
        card.delete_requested.connect(lambda: self._document.remove_video_slot(slot))
        card.nudge_requested.connect(lambda delta: self.interaction.nudge_clip(delta, slot))
        card.menu_requested.connect(lambda slot, pos: self.clip_menu(slot).exec(pos))
        card.activated.connect(self._clip_card_activated)
        self._connect_card(card, ("clip", slot))
        self._clip_cards[slot] = card
        card.show()
        return card

    def _clip_card_activated(self, slot: int) -> None:
        video = self._document.timeline.video
        if self._clip_path and video is not None and slot in video.slots:
            self.clip_frame_requested.emit(self._clip_path, video.source_frames(slot)[1], slot)

    def _clip_read(self, path: str) -> None:
        if path == self._clip_path:
            self._sync_clip_cards()
            self.update()

    def _report_clip_problem(self, problem: str | None) -> None:
        if problem != self.clip_problem:
            self.clip_problem = problem
            if problem:
                self.message.emit(problem)

    # ----- selection: the card the bar above edits ------------------------------------------------------
    def select(self, key: Selection | None) -> None:
        if key != self.selection:
            self.selection = key
            self.selection_changed.emit()
            self.update()

    def selected_card(self) -> SlotCard | None:
        if self.selection is None:
            return None
        kind, key = self.selection
        return self._cards.get(str(key)) if kind == "keyframe" else self._clip_cards.get(int(key))

    def _check_selection(self) -> None:
        """A selected card that is gone (deleted, undone) is no longer selected."""
        if self.selection is not None and self.selected_card() is None:
            self.select(None)
        elif self.selection is not None:
            self.selection_changed.emit()  # its values may have changed: the bar shows them again

    # ----- menus (timeline_menus.py) ------------------------------------------------------------------------
    def clip_menu(self, slot: int) -> QMenu:
        return clip_menu(self, slot)

    def slot_menu(self, slot: int) -> QMenu | None:
        return slot_menu(self, slot)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        menu = self.slot_menu(self.slot_at(event.pos().x()))
        if menu is not None:
            menu.exec(event.globalPos())

    def set_playhead(self, frame: int | None) -> None:
        self._playhead = frame
        self.update()

    @property
    def playhead_frame(self) -> int | None:
        return self._playhead

    def set_timesteps(self, timesteps: list[float]) -> None:
        """Show what each latent slot was given at the current step (dark = clean, light = noisy)."""
        self.timesteps = list(timesteps)
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.sync()

    # ----- drops from the file manager or the asset bin (timeline_drag.py) -----------------------------
    def _local_paths(self, event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
        return [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        paths = self._local_paths(event)
        if paths:
            self.interaction.files_over(paths, event.position().x())
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        self.interaction.files_over(self._local_paths(event), event.position().x())
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self.interaction.preview = None
        self.update()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        frame = self.frame_at(event.position().x())
        placed = self.drop_files(self._local_paths(event), frame)
        if placed:
            event.acceptProposedAction()
        else:
            event.ignore()
        self.update()

    def drop_files(self, files: list[str], frame: int) -> int:
        """Lay dropped files from `frame`'s slot on, in the order given (see `TimelineInteraction.drop_files`)."""
        return self.interaction.drop_files([str(f) for f in files], frame)

    # ----- keys, clicks and the wheel ------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        focused = self.focusWidget()
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and isinstance(focused, SlotCard):
            focused.delete_requested.emit()
        elif not (event.key() == Qt.Key.Key_Escape and self.band.cancel()):
            super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.band.press(event.position()):
            event.accept()
            return
        if event.position().y() < RULER_HEIGHT + SLOT_BAND_HEIGHT:
            self.playhead_moved.emit(self.frame_at(event.position().x()))
        else:
            self.select(None)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.band.move(event.position())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.band.drag is not None:
            self.band.release(event.position())
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self.band.leave()
        super().leaveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        delta = event.angleDelta()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_requested.emit(1.25 ** (delta.y() / 120), event.position().x())
        else:
            self.scroll_requested.emit(-(delta.x() or delta.y()))
        event.accept()

    # ----- painting (the drawing is in timeline_painting.py) ------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        paint_timeline(painter, self)
        painter.end()
