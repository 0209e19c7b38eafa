"""The timeline's arithmetic and words, without Qt: where frames, slots and cards sit, where dropped files go.

`TimelineWidget` paints and handles events; everything it computes from numbers alone lives here, so it
can be tested without a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pusa_engine.request import latent_frames, pixel_frames_of_slot, slot_of_pixel_frame

from .media_checks import video_frames_readable
from .model import (
    END_FRAME_NOISE,
    IMAGE_TO_VIDEO_NOISE,
    TimelineKeyframe,
    TimelineVideo,
    clip_frames_needed,
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
HEIGHT_WITHOUT_CLIP = CARD_TOP + CARD_HEIGHT + 8
HEIGHT_WITH_CLIP = CLIP_CAPTION_TOP + CLIP_CAPTION_HEIGHT + 2  # room for the clip's caption under its cards


@dataclass(frozen=True)
class TimelineGeometry:
    """Pixel positions on a timeline `width` pixels wide showing `frames` pixel frames."""

    width: int
    frames: int

    @property
    def frame_width(self) -> float:
        return (self.width - 2 * MARGIN) / max(1, self.frames)

    def x_of_frame(self, frame: float) -> float:
        return MARGIN + (frame + 0.5) * self.frame_width

    def frame_at(self, x: float) -> int:
        return max(0, min(self.frames - 1, int((x - MARGIN) / self.frame_width)))

    def slot_at(self, x: float) -> int:
        return slot_of_pixel_frame(self.frame_at(x))

    def slot_span(self, slot: int) -> tuple[int, int]:
        """Left edge and width of a latent slot's band."""
        first, last = pixel_frames_of_slot(slot)
        left = MARGIN + first * self.frame_width
        right = MARGIN + (last + 1) * self.frame_width
        return round(left), max(1, round(right - left))

    def card_width(self) -> int:
        """Cards narrow down to their slot's width, so cards on neighbouring slots never overlap."""
        return max(MIN_CARD_WIDTH, min(CARD_WIDTH, round(4 * self.frame_width) - 4))

    def slot_card_x(self, slot: int) -> int:
        width = self.card_width()
        left, span = self.slot_span(slot)
        centre = left + (span - 1) // 2  # QRect.center() of the band
        return max(0, min(self.width - width, centre - width // 2))

    def ruler_step(self) -> int:
        """Every how many frames the ruler gets a number (at least 28 pixels apart)."""
        step = 1
        while self.frame_width * step < 28:
            step *= 2
        return step


# ----- where dropped images go ---------------------------------------------------------------------------
def next_free_slot(slot: int, occupied: set[int], frames: int) -> int | None:
    """The first free latent slot at or after `slot`; None when every later slot is taken."""
    last_slot = latent_frames(frames) - 1
    while slot in occupied and slot <= last_slot:
        slot += 1
    return slot if slot <= last_slot else None


def keyframe_noise_for_slot(slot: int, frames: int) -> float:
    """A keyframe dropped on the last slot is an end frame (0.5); anywhere else a start frame (0.2)."""
    last_slot = latent_frames(frames) - 1
    return END_FRAME_NOISE if slot == last_slot and slot > 0 else IMAGE_TO_VIDEO_NOISE


# ----- where a dropped clip goes --------------------------------------------------------------------------
def slots_text(slots: list[int]) -> str:
    """'2' / '2-3' for a run of slots, '0, 2, 4' otherwise."""
    if len(slots) > 1 and slots == list(range(slots[0], slots[-1] + 1)):
        return f"{slots[0]}-{slots[-1]}"
    return ", ".join(str(s) for s in slots)


def slots_the_clip_feeds(video: TimelineVideo, clip_frames: int) -> tuple[TimelineVideo | None, list[int]]:
    """The clip kept on the slots whose frames it has (slot k takes frames up to 4k), and the slots left off."""
    kept = [(s, m) for s, m in video.pairs() if pixel_frames_of_slot(s)[1] < clip_frames]
    dropped = [s for s in video.slots if pixel_frames_of_slot(s)[1] >= clip_frames]
    if not kept:
        return None, dropped
    return TimelineVideo(video.path, [s for s, _ in kept], [m for _, m in kept]), dropped


def clip_laid_message(video: TimelineVideo, dropped: list[int], clip_frames: int) -> str:
    """What the user is told when a dropped clip is laid (and which slots it could not feed)."""
    name = Path(video.path).name
    hint = "Right-click a clip card for Completion; Delete removes a slot."
    if not dropped:
        return f"Video {name}: clip frames on slots {slots_text(video.slots)}, so the new video continues it. {hint}"
    last_needed = pixel_frames_of_slot(max(dropped))[1]
    return (
        f"{name} has only {clip_frames} frames: laid on slot{'s' if len(video.slots) > 1 else ''} "
        f"{slots_text(video.slots)} only; slot{'s' if len(dropped) > 1 else ''} {slots_text(dropped)} would need "
        f"its frames up to {last_needed}, so {'they were' if len(dropped) > 1 else 'it was'} left off. {hint}"
    )


def lay_clip(path: str, frames: int) -> tuple[TimelineVideo | None, str]:
    """A dropped video on the Extension preset's slots, decoded first: (the clip to lay, what to say), or
    (None, why it is refused). A short clip keeps only the slots it has frames for."""
    slots, noise = video_preset("extend", frames)
    length, problem = video_frames_readable(path, clip_frames_needed(slots))
    if problem:
        return None, problem
    video, dropped = slots_the_clip_feeds(TimelineVideo(path, slots, noise), length)
    if video is None:
        return None, f"{Path(path).name} has no frames for slot {slots[0]}"
    return video, clip_laid_message(video, dropped, length)


def drop_message(told: list[str], broken: list[str], not_media: list[str]) -> str:
    """One message for a whole drop: what was laid, what was refused and why."""
    parts = list(told)
    if broken:
        parts.append("Not placed: " + "; ".join(broken) + ".")
    if not_media:
        parts.append(
            f"Not an image or video, so not placed: {', '.join(not_media)}. "
            "Drop PNG, JPEG or WebP images, or MP4 videos."
        )
    return " ".join(parts)


# ----- words ----------------------------------------------------------------------------------------------
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


def pixel_frame_of_player_frame(index: int, shown: int, frames: int) -> int:
    """The timeline frame of the player's frame `index` out of `shown` (a video, or a per-slot preview)."""
    if shown == frames or shown <= 1:
        return index
    if shown == latent_frames(frames):
        return pixel_frames_of_slot(index)[1]
    return round(index * (frames - 1) / (shown - 1))
