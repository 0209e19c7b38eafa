"""How the timeline is edited with the mouse and the arrow keys: cards dragged (following the cursor, or slot by
slot with Shift) and nudged, files dropped (images spread from the drop point over free slots in the order the
drag lists them; a video laid from the slot it was dropped on).

`TimelineInteraction` belongs to the `TimelineWidget`; it asks the document for every change (one undoable step
each) and leaves what the user sees while dragging in `preview` for the painting: the target slots, whether they
are free, and what lands there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint

from pusa_engine.request import pixel_frames_of_slot, slot_of_pixel_frame

from .core.media_checks import image_file_problem
from .core.model import Timeline, TimelineKeyframe, TimelineVideo, snap_frame, video_preset
from .core.timeline_clips import lay_clip, moved_clip
from .core.timeline_geometry import (
    drop_message,
    keyframe_header,
    keyframe_noise_for_slot,
    next_free_slot,
    spread_slots,
)
from .images import is_image_file, is_video_file
from .timeline_cards import ClipSlotCard, KeyframeCard, SlotCard

if TYPE_CHECKING:
    from .timeline import TimelineWidget


@dataclass(frozen=True)
class DropPreview:
    """Where a dragged card or dropped files would land: the slots in order, whether they can, and a word."""

    slots: tuple[int, ...]
    ok: bool = True
    label: str = ""
    numbered: bool = False  # several files: each slot shows which file of the drag lands there


def file_kinds(paths: list[str]) -> list[str]:
    return ["video" if is_video_file(p) else "image" if is_image_file(p) else "other" for p in paths]


def plan_drop(kinds: list[str], slot: int, timeline: Timeline, frames: int) -> list[int]:
    """The slot each dropped file starts on, in the drag's order, as `drop_files` will lay them (a video
    replaces the clip and takes the 4 slots from the drop point that hold no keyframe)."""
    keyframe_slots = {kf.slot for kf in timeline.keyframes}
    clip_slots = set(timeline.video.slots) if timeline.video is not None else set()
    if "video" in kinds:
        clip_slots = {s for s in video_preset("extend", frames, slot)[0] if s not in keyframe_slots}
    image_slots = iter(spread_slots(slot, kinds.count("image"), keyframe_slots | clip_slots, frames))
    out: list[int] = []
    for kind in kinds:
        if kind == "video":
            out.extend(sorted(clip_slots))
        elif kind == "image":
            free = next(image_slots, None)
            if free is None:
                break
            out.append(free)
    return out


class TimelineInteraction:
    """Dragging and nudging cards, and dropping files, on one timeline."""

    def __init__(self, widget: TimelineWidget) -> None:
        self.widget = widget
        self.document = widget.document
        self.preview: DropPreview | None = None

    @property
    def frames(self) -> int:
        return self.document.settings.frames

    # ----- keyframe cards ------------------------------------------------------------------------------
    def keyframe_target(self, keyframe_id: str, centre_x: float) -> tuple[int, str | None]:
        """The frame a keyframe dragged to `centre_x` lands on, and why it cannot (None when it can)."""
        frame = snap_frame(self.widget.grid.frame_at(centre_x), self.frames)
        return frame, self.document.free_slot_problem(frame, except_id=keyframe_id)

    def clip_target(self, card: ClipSlotCard, centre_x: float) -> tuple[TimelineVideo | None, str | None, int]:
        """The clip moved so that the dragged slot lands under `centre_x`, why it cannot, and by how many slots."""
        video = self.document.timeline.video
        if video is None:
            return None, "the clip is gone", 0
        delta = self.widget.grid.slot_at(centre_x) - card.slot
        moved, problem = moved_clip(video, video.start_slot + delta, self.frames, self._keyframe_slots())
        return moved, problem, delta

    def _keyframe_slots(self) -> set[int]:
        return {kf.slot for kf in self.document.timeline.keyframes}

    def card_dragged(self, card: SlotCard, centre: QPoint, slot_by_slot: bool) -> None:
        """The card follows the cursor (or jumps slot by slot with Shift); the target slots are shown."""
        grid = self.widget.grid
        if isinstance(card, KeyframeCard):
            frame, problem = self.keyframe_target(card.keyframe_id, centre.x())
            slot = slot_of_pixel_frame(frame)
            keyframe = self.document.timeline.keyframe(card.keyframe_id)
            card.show_place(replace(keyframe, frame=frame))
            width = card.width()
            x = grid.slot_card_x(slot, width) if slot_by_slot else grid.card_x_following(centre.x(), width)
            card.move(x, card.y())
            label = problem or keyframe_header(replace(keyframe, frame=frame), True)
            self.preview = DropPreview((slot,), problem is None, label)
        elif isinstance(card, ClipSlotCard):
            moved, problem, delta = self.clip_target(card, centre.x())
            target = card.slot + delta
            width = card.width()
            x = grid.slot_card_x(target, width) if slot_by_slot else grid.card_x_following(centre.x(), width)
            dx = x - self.widget.slot_card_position(card.slot).x()
            for other in self.widget.clip_cards():  # the whole clip follows
                other.move(self.widget.slot_card_position(other.slot).x() + dx, other.y())
            video = self.document.timeline.video
            slots = tuple(moved.slots) if moved is not None else tuple(s + delta for s in video.slots) if video else ()
            label = problem or (f"clip from slot {moved.start_slot}" if moved is not None else "")
            self.preview = DropPreview(slots, problem is None, label)
        self.widget.reveal(centre.x())
        self.widget.update()

    def card_dropped(self, card: SlotCard, centre: QPoint) -> None:
        """Released: the card lands on its target slot (snapped), or goes back with the reason."""
        self.preview = None
        if isinstance(card, KeyframeCard):
            frame, problem = self.keyframe_target(card.keyframe_id, centre.x())
            if problem:
                self.widget.message.emit(f"Cannot move the keyframe there: {problem}")
            elif frame != self.document.timeline.keyframe(card.keyframe_id).frame:
                self.document.move_keyframe(card.keyframe_id, frame)
        elif isinstance(card, ClipSlotCard):
            moved, problem, delta = self.clip_target(card, centre.x())
            if problem:
                self.widget.message.emit(f"Cannot move the clip there: {problem}")
            elif moved is not None and delta:
                self.document.change_clip(f"Move the clip to slot {moved.start_slot}", moved)
                self._focus_clip_card(card.slot + delta)
        self.widget.sync()  # every card back on its slot (the moved one included)

    def _focus_clip_card(self, slot: int) -> None:
        """After the clip moved: the card with the same clip frames (now on `slot`) is the selected one."""
        card = self.widget.clip_cards_by_slot().get(slot)
        if card is not None:
            card.setFocus()
            self.widget.select(("clip", slot))

    def drag_cancelled(self) -> None:
        self.preview = None
        self.widget.sync()

    def nudge_keyframe(self, keyframe_id: str, delta: int) -> None:
        """Left/Right: one slot earlier or later (a slot that holds something is refused, with the reason)."""
        slot = self.document.timeline.keyframe(keyframe_id).slot + delta
        frame = pixel_frames_of_slot(max(0, slot))[1]
        problem = self.document.free_slot_problem(frame, except_id=keyframe_id) if slot >= 0 else "it is at slot 0"
        if problem:
            self.widget.message.emit(f"Cannot move the keyframe there: {problem}")
        else:
            self.document.move_keyframe(keyframe_id, frame)

    def nudge_clip(self, delta: int, from_slot: int) -> None:
        """Left/Right on a clip card: the whole clip one slot earlier or later (never over a keyframe)."""
        video = self.document.timeline.video
        if video is None:
            return
        moved, problem = moved_clip(video, video.start_slot + delta, self.frames, self._keyframe_slots())
        if problem or moved is None:
            self.widget.message.emit(f"Cannot move the clip there: {problem}")
        else:
            self.document.change_clip(f"Move the clip to slot {moved.start_slot}", moved, merge_key="clip-move")
            self._focus_clip_card(from_slot + delta)

    # ----- files dropped from the file manager or the asset bin --------------------------------------------
    def files_over(self, paths: list[str], x: float) -> None:
        slot = self.widget.grid.slot_at(x)
        kinds = file_kinds(paths)
        slots = plan_drop(kinds, slot, self.document.timeline, self.frames)
        media = [k for k in kinds if k != "other"]
        label = f"{len(media)} files from slot {slot}" if len(media) > 1 else f"slot {slot}"
        self.preview = DropPreview(tuple(slots) or (slot,), bool(slots), label, numbered=len(media) > 1)
        self.widget.reveal(x)
        self.widget.update()

    def drop_files(self, files: list[str], frame: int) -> int:
        """Lay the files from `frame`'s slot on, in the order given (the drag's order): a video from that slot,
        images on the free slots from there; every file is decoded first. One message says what was laid and
        what was refused; the images of one drop are one undoable step. Returns how many were placed."""
        self.preview = None
        placed = 0
        told: list[str] = []
        broken: list[str] = []
        not_media: list[str] = []
        slot = slot_of_pixel_frame(max(0, min(self.frames - 1, frame)))
        start = slot
        keyframes: list[TimelineKeyframe] = []
        for path in files:
            if is_video_file(path):
                video, message = lay_clip(path, self.frames, start, self._keyframe_slots())
                if video is not None:
                    self.widget.clips.forget(path)  # read it again for the cards: it may have changed
                    self.widget.clip_problem = None
                    self.document.set_video(video)
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
            occupied = self.document.timeline.occupied_slots() | {kf.slot for kf in keyframes}
            free = next_free_slot(slot, occupied, self.frames)
            if free is None:
                told.append(f"No free latent slot at or after frame {frame} for {Path(path).name}.")
                break
            noise = keyframe_noise_for_slot(free, self.frames)
            keyframes.append(TimelineKeyframe(path, pixel_frames_of_slot(free)[1], noise))
            placed += 1
            slot = free + 1
        if keyframes:
            names = Path(keyframes[0].image).name if len(keyframes) == 1 else f"{len(keyframes)} images"
            self.document.edit_timeline(f"Add keyframe {names}" if len(keyframes) == 1 else f"Add {names}",
                                        lambda t: t.keyframes.extend(keyframes))
            if len(keyframes) > 1:
                told.insert(0, f"{len(keyframes)} images on slots {', '.join(str(k.slot) for k in keyframes)}, "
                               "in the order they were dragged.")
        message = drop_message(told, broken, not_media)
        if message:
            self.widget.message.emit(message)
        return placed
