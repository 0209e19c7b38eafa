"""The clip edited by its band under the cards, as in an editor: its right end trims the out point, its left end
trims the in point (the start moves with it, the frames that stay keep their slots), its body moves the clip.

Hovering an end shows a resize cursor, the body an open hand. While dragging, the band follows the mouse (the
clip cards past a dragged end hide, or all of them move with the body) and the slots the clip would take are
shown, blue when it can, red with the reason when not; the ends snap to slot edges. Releasing makes one
undoable change through the document (`change_clip`); Esc, or a change that cannot be (a keyframe in the way,
no slot left, no such clip frames), puts everything back, the reason on the message line. The rules are the
inspector's own (`core/timeline_clips.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt

from .core.model import TimelineVideo
from .core.timeline_clips import clip_ending_at, head_trimmed_clip, moved_clip, out_frame
from .timeline_drag import DropPreview

if TYPE_CHECKING:
    from .timeline import TimelineWidget

CURSORS = {"left": Qt.CursorShape.SizeHorCursor, "right": Qt.CursorShape.SizeHorCursor,
           "body": Qt.CursorShape.OpenHandCursor}
MIN_BAND = 4  # pixels a band dragged past its other end still shows


@dataclass
class BandDrag:
    """One drag of the band: which part, the clip as it was, where it began and where the mouse is."""

    part: str  # "left", "right" or "body"
    video: TimelineVideo
    band: tuple[int, int]  # the band when the drag began
    press_x: float
    x: float
    target: TimelineVideo | None = None
    problem: str | None = None
    aimed: tuple[int, ...] = ()  # the slots the clip would take (shown in red when it cannot)


class ClipBandInteraction:
    """Hovering and dragging the clip's band on one timeline."""

    def __init__(self, widget: TimelineWidget) -> None:
        self.widget = widget
        self.document = widget.document
        self.drag: BandDrag | None = None
        self.hovered: str | None = None

    def _video(self) -> TimelineVideo | None:
        return self.document.timeline.video

    def band(self) -> tuple[int, int] | None:
        """Where the band is drawn: the clip's slots, or while dragged, where the mouse has it."""
        drag = self.drag
        if drag is None:
            video = self._video()
            return self.widget.grid.clip_band(video) if video is not None else None
        (left, right), dx = drag.band, round(drag.x - drag.press_x)
        if drag.part == "left":
            return min(left + dx, right - MIN_BAND), right
        if drag.part == "right":
            return left, max(right + dx, left + MIN_BAND)
        return left + dx, right + dx

    def part_at(self, pos: QPointF) -> str | None:
        band = self.band()
        return self.widget.grid.band_part(band, pos.x(), pos.y()) if band is not None else None

    # ----- the mouse -------------------------------------------------------------------------------------
    def hover(self, pos: QPointF) -> None:
        """The cursor says what a press would do: resize at the ends, move on the body."""
        part = self.part_at(pos)
        if part != self.hovered:
            self.hovered = part
            if part is None:
                self.widget.unsetCursor()
            else:
                self.widget.setCursor(CURSORS[part])
            self.widget.update()

    def leave(self) -> None:
        if self.drag is None and self.hovered is not None:
            self.hovered = None
            self.widget.unsetCursor()
            self.widget.update()

    def press(self, pos: QPointF) -> bool:
        """A press on the band starts a drag (and selects the clip); False when the press is elsewhere."""
        video, part = self._video(), self.part_at(pos)
        if video is None or part is None:
            return False
        self.drag = BandDrag(part, video, self.widget.grid.clip_band(video), pos.x(), pos.x())
        self.hovered = part
        self.widget.setCursor(Qt.CursorShape.ClosedHandCursor if part == "body" else CURSORS[part])
        self.widget.setFocus(Qt.FocusReason.MouseFocusReason)  # Esc reaches the timeline
        self.widget.select(("clip", min(video.slots)))  # the bar above shows its start, in and out points
        self._aim()
        return True

    def move(self, pos: QPointF) -> None:
        if self.drag is None:
            self.hover(pos)
            return
        self.drag.x = pos.x()
        self._aim()
        self.widget.reveal(pos.x())

    def release(self, pos: QPointF) -> None:
        """The change is made as one undoable step, or refused with its reason; the band is back on the clip."""
        drag = self.drag
        if drag is None:
            return
        drag.x = pos.x()
        self._aim()
        self._end()
        current = self._video() == drag.video  # else it changed meanwhile (an undo): the drag no longer applies
        if current and drag.problem:
            verb = "move the clip there" if drag.part == "body" else "trim the clip"
            self.widget.message.emit(f"Cannot {verb}: {drag.problem}")
        elif current and drag.target is not None and drag.target != drag.video:
            self.document.change_clip(self._describe(drag), drag.target)
        video = self._video()
        if video is not None:
            self.widget.select(("clip", min(video.slots)))
        self.widget.sync()

    def cancel(self) -> bool:
        """Esc: the drag ends and nothing changes. False when there was no drag."""
        if self.drag is None:
            return False
        self._end()
        self.widget.sync()
        return True

    def _end(self) -> None:
        self.drag = None
        self.widget.interaction.preview = None
        for card in self.widget.clip_cards():
            card.show()
        self.hovered = None
        self.widget.unsetCursor()

    # ----- where the clip would go ------------------------------------------------------------------------
    def _aim(self) -> None:
        """The clip as it would be if the mouse were released here; the band and the cards follow the mouse."""
        drag = self.drag
        if drag is None:
            return
        widget, grid, video = self.widget, self.widget.grid, drag.video
        frames, length = self.document.settings.frames, widget.clips.length(video.path)
        keyframe_slots = {kf.slot for kf in self.document.timeline.keyframes}
        left, right = self.band() or drag.band
        if drag.part == "right":
            end = grid.slot_ending_near(right)
            drag.target, drag.problem = clip_ending_at(video, end, frames, keyframe_slots, length)
            drag.aimed = tuple(range(video.start_slot, max(video.start_slot, end) + 1))
        elif drag.part == "left":
            start = grid.slot_starting_near(left)
            drag.target, drag.problem = head_trimmed_clip(video, start, keyframe_slots, length)
            drag.aimed = tuple(range(min(start, max(video.slots)), max(video.slots) + 1))
        else:
            delta = grid.slot_at(drag.x) - grid.slot_at(drag.press_x)
            drag.target, drag.problem = moved_clip(video, video.start_slot + delta, frames, keyframe_slots)
            drag.aimed = tuple(s + delta for s in video.slots)
        slots = tuple(drag.target.slots) if drag.target is not None else drag.aimed
        widget.interaction.preview = DropPreview(slots, drag.problem is None, drag.problem or self._label(drag))
        dx = round(drag.x - drag.press_x)
        for card in widget.clip_cards():
            place = widget.slot_card_position(card.slot)
            if drag.part == "body":
                card.move(place.x() + dx, card.y())
            else:
                centre = widget.slot_rect(card.slot).center().x()
                card.setVisible(left <= centre < right)
        widget.update()

    @staticmethod
    def _label(drag: BandDrag) -> str:
        target = drag.target
        if target is None:
            return ""
        if drag.part == "right":
            return f"out {out_frame(target)} · slot {max(target.slots)}"
        if drag.part == "left":
            return f"in {target.in_frame} · slot {target.start_slot}"
        return f"clip from slot {target.start_slot}"

    @staticmethod
    def _describe(drag: BandDrag) -> str:
        """The undo step's name."""
        target = drag.target
        assert target is not None
        if drag.part == "right":
            return f"Trim the clip's out point to frame {out_frame(target)}"
        if drag.part == "left":
            return f"Trim the clip's in point to frame {target.in_frame} (from slot {target.start_slot})"
        return f"Move the clip to slot {target.start_slot}"
