"""The four modes as starting layouts that never destroy work, and what the timeline holds, in words. Qt-free.

A mode is the user's choice, kept with the timeline (`Timeline.mode`, so undo, redo, saving and opening bring
it back with the media it was chosen for). Choosing one lays the timeline out as that task starts, in one
undoable step: a keyframe already placed may move to the start or end slot, but nothing is ever deleted
(Text-to-Video offers "Clear the timeline" instead). Dropping media never changes the mode; the words under
the mode say what the timeline holds, so the mode shown never hides a keyframe or a clip that conditions
the video. Guides (dashed slots on the timeline) show where the mode expects media that is not there yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pusa_engine.request import latent_frames

from .model import END_FRAME_NOISE, EXTENSION_SLOTS, IMAGE_TO_VIDEO_NOISE, Mode, Timeline, snap_frame

HINTS = {
    Mode.TEXT_TO_VIDEO: "The prompt alone makes the video.",
    Mode.IMAGE_TO_VIDEO: "Drop the start image on slot 0 (the dashed slot on the timeline).",
    Mode.MULTI_FRAMES: "Drop images on the dashed Start and End slots, and more in between.",
    Mode.VIDEO_TO_VIDEO: "Drop a video on the timeline: it is laid from the slot where you drop it.",
}


@dataclass(frozen=True)
class Guide:
    """Slots where the mode expects media that is not there yet, and what goes there."""

    first: int
    last: int
    label: str  # on the timeline
    wanted: str = ""  # in the words under the mode

    @property
    def where(self) -> str:
        return f"slot {self.first}" if self.first == self.last else f"slots {self.first}-{self.last}"


def apply_mode(mode: Mode, timeline: Timeline, frames: int) -> Timeline:
    """The timeline laid out as `mode` starts: the earliest keyframe on slot 0 (Image-to-Video, Multi-Frames)
    and the latest on the last slot (Multi-Frames), where those slots are free. Nothing is ever removed."""
    out = timeline.copy()
    out.mode = mode
    keyframes = out.sorted_keyframes()
    if mode in (Mode.IMAGE_TO_VIDEO, Mode.MULTI_FRAMES) and keyframes:
        first = keyframes[0]
        if first.slot != 0 and 0 not in out.occupied_slots(except_id=first.id):
            first.frame, first.noise = 0, IMAGE_TO_VIDEO_NOISE
    last_slot = latent_frames(frames) - 1
    if mode is Mode.MULTI_FRAMES and len(keyframes) >= 2 and last_slot > 0:
        end = keyframes[-1]
        if end.slot != last_slot and last_slot not in out.occupied_slots(except_id=end.id):
            end.frame, end.noise = snap_frame(frames - 1, frames), END_FRAME_NOISE
    return out


def mode_guides(timeline: Timeline, frames: int) -> list[Guide]:
    """The dashed slots the chosen mode asks the user to fill (empty ones only)."""
    occupied = timeline.occupied_slots()
    last = latent_frames(frames) - 1
    mode = timeline.shown_mode
    guides: list[Guide] = []
    if mode in (Mode.IMAGE_TO_VIDEO, Mode.MULTI_FRAMES) and 0 not in occupied:
        start = "Start image" if mode is Mode.IMAGE_TO_VIDEO else "Start"
        guides.append(Guide(0, 0, start, "the start image"))
    if mode is Mode.MULTI_FRAMES and last > 0 and last not in occupied:
        guides.append(Guide(last, last, "End", "the end frame"))
    if mode is Mode.VIDEO_TO_VIDEO and timeline.video is None:
        slots = [s for s in EXTENSION_SLOTS if s <= last]
        guides.append(Guide(slots[0], slots[-1], "Drop a video", "a video (it starts where you drop it)"))
    return guides


def slot_list(slots: list[int]) -> str:
    if len(slots) > 2 and slots == list(range(slots[0], slots[-1] + 1)):
        return f"{slots[0]}-{slots[-1]}"
    return ", ".join(str(s) for s in slots)


def timeline_words(timeline: Timeline) -> str:
    """What is on the timeline: 'empty', '2 keyframes (slots 0, 20)', 'a clip on slots 3-6 and 1 keyframe (slot 0)'."""
    parts = []
    if timeline.video is not None:
        parts.append(f"{Path(timeline.video.path).name} (slot{'s' if len(timeline.video.slots) > 1 else ''} "
                     f"{slot_list(timeline.video.slots)})")
    keyframes = timeline.sorted_keyframes()
    if keyframes:
        many = len(keyframes) > 1
        parts.append(f"{len(keyframes)} keyframe{'s' if many else ''} (slot{'s' if many else ''} "
                     f"{slot_list([kf.slot for kf in keyframes])})")
    return " and ".join(parts) if parts else "nothing"


def mode_status(timeline: Timeline, frames: int) -> str:
    """The words under the mode: what the timeline holds, and what the chosen mode still asks for."""
    mode = timeline.shown_mode
    if not timeline.keyframes and timeline.video is None:
        return HINTS[mode]
    words = [f"On the timeline: {timeline_words(timeline)}."]
    if mode is Mode.TEXT_TO_VIDEO:
        words.append("It conditions the video too.")
    guides = mode_guides(timeline, frames)
    if guides:
        words.append("Still to fill: " + "; ".join(f"{g.wanted} on the dashed {g.where}" for g in guides) + ".")
    return " ".join(words)
