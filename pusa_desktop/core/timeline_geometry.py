"""The timeline's arithmetic and words, without Qt: where frames, slots and cards sit, how far it is zoomed,
where dropped images go, and what the cards say.

`TimelineWidget` paints and handles events; everything it computes from numbers alone lives here, so it
can be tested without a window. Where a clip goes and how it is trimmed: `timeline_clips.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from pusa_engine.request import latent_frames, pixel_frames_of_slot, slot_of_pixel_frame

from .model import END_FRAME_NOISE, IMAGE_TO_VIDEO_NOISE, TimelineKeyframe, TimelineVideo

MARGIN = 14
RULER_HEIGHT = 22
SLOT_BAND_HEIGHT = 20
CARD_TOP = RULER_HEIGHT + SLOT_BAND_HEIGHT + 6
CARD_WIDTH = 92  # the widest a card gets (zoomed in): a wider noise control
MIN_CARD_WIDTH = 50
CARD_HEIGHT = 98
CARD_GAP = 2  # pixels between two cards side by side
ROW_GAP = 2  # and between two rows of compact cards
COMPACT_MAX_WIDTH = 60  # compact cards (slots narrower than a card): a thumbnail, the slot, the noise as a bar
COMPACT_MIN_WIDTH = 24  # narrower than this, compact cards take another row
MAX_CARD_ROWS = 4
CLIP_STRIP_HEIGHT = 4
CLIP_BAND_TOP = CARD_TOP + CARD_HEIGHT + 3  # the clip's band under its cards: dragged by its ends or its body
CLIP_BAND_HEIGHT = 18
HANDLE_WIDTH = 8  # the grip drawn at each end of the clip's band
HANDLE_REACH = 6  # how far from an end of the band the mouse takes that end
HEIGHT_WITHOUT_CLIP = CARD_TOP + CARD_HEIGHT + 8
HEIGHT_WITH_CLIP = CLIP_BAND_TOP + CLIP_BAND_HEIGHT + 3  # room for the clip's band under its cards
MAX_FRAME_WIDTH = 40.0  # zoomed all the way in, a pixel frame is this wide (a slot 160 px)
ZOOM_STEPS = 100  # the zoom slider's range: 0 = the whole video fits, ZOOM_STEPS = zoomed all the way in
WHEEL_ZOOM = 1.25  # one Ctrl+wheel notch


@dataclass(frozen=True)
class CardPlaces:
    """The cards' size and where each sits (slot -> top-left corner); `compact`: the small form in rows."""

    width: int
    height: int
    compact: bool
    places: dict[int, tuple[int, int]]


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

    def frame_position(self, x: float) -> float:
        """The frame under `x`, with its fraction (what a zoom keeps under the cursor)."""
        return (x - MARGIN) / self.frame_width - 0.5

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
        """Cards narrow down to their slot's width, so cards on neighbouring slots never overlap (until the
        slots are narrower than the narrowest card: then `card_places` makes them compact)."""
        return max(MIN_CARD_WIDTH, min(CARD_WIDTH, round(4 * self.frame_width) - 4))

    def slot_card_x(self, slot: int, width: int | None = None) -> int:
        """Where a card `width` wide (a full card's: `card_width`) stands centred on `slot`."""
        width = width or self.card_width()
        left, span = self.slot_span(slot)
        centre = left + (span - 1) // 2  # QRect.center() of the band
        return max(0, min(self.width - width, centre - width // 2))

    def card_xs(self, slots: set[int] | list[int]) -> dict[int, int]:
        """Where the cards on `slots` sit: each centred on its slot, pushed right just enough not to cover the
        card before it (slot 0 is one frame wide, slot 1 four), and at the end of the timeline pulled left for
        the one after it, but never off its own slot: past that the slots are narrower than the cards, and
        `card_places` makes them compact."""
        width = self.card_width()
        out: dict[int, int] = {}
        right = -(10**9)
        order = sorted(set(slots))
        for slot in order:
            left, span = self.slot_span(slot)
            x = max(self.slot_card_x(slot), min(right + CARD_GAP, left + span - 12))
            out[slot] = min(x, self.width - width)
            right = out[slot] + width
        for slot, after in reversed(list(zip(order, order[1:], strict=False))):
            left = self.slot_span(slot)[0]
            out[slot] = max(0, left + 12 - width, min(out[slot], out[after] - width - CARD_GAP))
        return out

    def card_places(self, slots: set[int] | list[int]) -> CardPlaces:
        """Where the cards on `slots` sit, and how big they are: full cards in one row (`card_xs`) where they
        stand side by side; else, when the slots are narrower than a card (a long video at Fit), compact cards
        staggered over as few rows as let them be `COMPACT_MIN_WIDTH` wide. No card ever covers another."""
        slots = sorted(set(slots))
        width = self.card_width()
        xs = self.card_xs(slots)
        if all(xs[b] >= xs[a] + width + 1 for a, b in zip(slots, slots[1:], strict=False)):
            return CardPlaces(width, CARD_HEIGHT, False, {s: (xs[s], CARD_TOP) for s in slots})
        width = height = 0
        for rows in range(2, MAX_CARD_ROWS + 1):
            width = max(8, min(COMPACT_MAX_WIDTH, int(rows * 4 * self.frame_width) - CARD_GAP - 1))
            height = (CARD_HEIGHT - (rows - 1) * ROW_GAP) // rows
            staggered = self._staggered(slots, width, rows)
            if staggered is not None and (width >= COMPACT_MIN_WIDTH or rows == MAX_CARD_ROWS):
                places = {s: (x, CARD_TOP + row * (height + ROW_GAP)) for s, (x, row) in staggered.items()}
                return CardPlaces(width, height, True, places)
        return CardPlaces(width, height, True, {s: (x, CARD_TOP) for s, x in xs.items()})  # narrower: zoom in

    def _staggered(self, slots: list[int], width: int, rows: int) -> dict[int, tuple[int, int]] | None:
        """Each card centred on its slot in the first row where it covers no card (pushed right, never past its
        own slot): slot -> (x, row); None when `rows` rows are not enough."""
        rights = [-(10**9)] * rows
        out: dict[int, tuple[int, int]] = {}
        for slot in slots:
            left, span = self.slot_span(slot)
            ideal = max(0, min(self.width - width, left + (span - 1) // 2 - width // 2))
            x, row = min((max(ideal, right + CARD_GAP), row) for row, right in enumerate(rights))
            if x > min(self.width - width, left + span - 1):
                return None
            out[slot] = (x, row)
            rights[row] = x + width
        return out

    def card_x_following(self, centre_x: float, width: int | None = None) -> int:
        """Where a dragged card sits when its centre follows the cursor (kept on the timeline)."""
        width = width or self.card_width()
        return max(0, min(self.width - width, round(centre_x - width / 2)))

    # ----- the clip's band ---------------------------------------------------------------------------------
    def clip_band(self, video: TimelineVideo) -> tuple[int, int]:
        """The clip's band under its cards: from its start slot's left edge to its last slot's right edge."""
        left = self.slot_span(video.start_slot)[0]
        last_left, last_width = self.slot_span(max(video.slots))
        return left, last_left + last_width

    def band_part(self, band: tuple[int, int], x: float, y: float) -> str | None:
        """What of the band is under (x, y): its "left" or "right" end, its "body", or None."""
        if not CLIP_BAND_TOP <= y < CLIP_BAND_TOP + CLIP_BAND_HEIGHT:
            return None
        left, right = band
        reach = min(HANDLE_REACH, max(2, (right - left) // 3))
        near_left, near_right = left - 4 <= x < left + reach, right - reach <= x < right + 4
        if near_left and near_right:
            return "left" if x - left < right - x else "right"
        if near_left or near_right:
            return "left" if near_left else "right"
        return "body" if left <= x < right else None

    def slot_ending_near(self, x: float) -> int:
        """The slot whose right edge is nearest `x` (where a dragged right end of the clip snaps)."""
        return min(range(latent_frames(self.frames)), key=lambda s: abs(sum(self.slot_span(s)) - x))

    def slot_starting_near(self, x: float) -> int:
        """The slot whose left edge is nearest `x` (where a dragged left end of the clip snaps)."""
        return min(range(latent_frames(self.frames)), key=lambda s: abs(self.slot_span(s)[0] - x))

    def ruler_step(self) -> int:
        """Every how many frames the ruler gets a number (at least 28 pixels apart)."""
        step = 1
        while self.frame_width * step < 28:
            step *= 2
        return step


# ----- zoom and scroll ------------------------------------------------------------------------------------
def max_zoom(viewport: int, frames: int) -> float:
    """How far the timeline zooms in: until a pixel frame is MAX_FRAME_WIDTH wide (1 = it already fits)."""
    fit = (viewport - 2 * MARGIN) / max(1, frames)
    return max(1.0, MAX_FRAME_WIDTH / max(fit, 1e-6))


def canvas_width(viewport: int, zoom: float) -> int:
    """The timeline's width at `zoom` (1 = the whole video fits the `viewport`)."""
    return round(2 * MARGIN + max(0, viewport - 2 * MARGIN) * zoom)


def zoom_of_slider(position: int, most: float) -> float:
    """The zoom slider is logarithmic: each step zooms by the same factor."""
    return float(most ** (max(0, min(ZOOM_STEPS, position)) / ZOOM_STEPS)) if most > 1 else 1.0


def slider_of_zoom(zoom: float, most: float) -> int:
    if most <= 1 or zoom <= 1:
        return 0
    return max(0, min(ZOOM_STEPS, round(ZOOM_STEPS * math.log(zoom) / math.log(most))))


def clamp_zoom(zoom: float, most: float) -> float:
    return max(1.0, min(most, zoom))


def scroll_keeping(frame: float, anchor: float, grid: TimelineGeometry, viewport: int) -> int:
    """The scroll position that puts `frame` at `anchor` pixels from the viewport's left edge."""
    return max(0, min(grid.width - viewport, round(grid.x_of_frame(frame) - anchor)))


# ----- where dropped images go ---------------------------------------------------------------------------
def next_free_slot(slot: int, occupied: set[int], frames: int) -> int | None:
    """The first free latent slot at or after `slot`; None when every later slot is taken."""
    last_slot = latent_frames(frames) - 1
    while slot in occupied and slot <= last_slot:
        slot += 1
    return slot if slot <= last_slot else None


def spread_slots(slot: int, count: int, occupied: set[int], frames: int) -> list[int]:
    """The free slots `count` dropped images take, from `slot` on, in order (fewer when the video ends)."""
    out: list[int] = []
    taken = set(occupied)
    for _ in range(count):
        free = next_free_slot(slot, taken, frames)
        if free is None:
            break
        out.append(free)
        taken.add(free)
        slot = free + 1
    return out


def keyframe_noise_for_slot(slot: int, frames: int) -> float:
    """A keyframe dropped on the last slot is an end frame (0.5); anywhere else a start frame (0.2)."""
    last_slot = latent_frames(frames) - 1
    return END_FRAME_NOISE if slot == last_slot and slot > 0 else IMAGE_TO_VIDEO_NOISE


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
def frames_text(first: int, last: int, word: str = "frame") -> str:
    return f"{word} {first}" if first == last else f"{word}s {first}-{last}"


def noise_text(noise: float) -> str:
    """0.2 -> '0.20', 0.125 -> '0.125': two decimals unless a third was typed."""
    return f"{noise:.2f}" if abs(round(noise, 2) - noise) < 1e-9 else f"{noise:.3f}"


def keyframe_header(keyframe: TimelineKeyframe, wide: bool) -> str:
    """What a keyframe card shows above its image: its slot and pixel frame."""
    return f"slot {keyframe.slot} · f{keyframe.frame}" if wide else f"s{keyframe.slot} f{keyframe.frame}"


def clip_slot_header(video: TimelineVideo, slot: int, wide: bool) -> str:
    """What a clip card shows above its frame: the clip frames that feed its slot."""
    first, last = video.source_frames(slot)
    span = str(first) if first == last else f"{first}-{last}"
    return f"src {span}" if wide else span


def describe_keyframe(keyframe: TimelineKeyframe) -> str:
    first, last = pixel_frames_of_slot(keyframe.slot)
    return (
        f"{Path(keyframe.image).name}\nLatent slot {keyframe.slot} ({frames_text(first, last, 'pixel frame')})\n"
        f"Noise {noise_text(keyframe.noise)} (0 = this exact frame, 1 = only a hint)\n"
        "Drag to move (Shift: slot by slot), Left/Right to nudge, Up/Down or double-click the noise to change it, "
        "Delete to remove"
    )


def describe_clip_slot(video: TimelineVideo, slot: int) -> str:
    first, last = video.source_frames(slot)
    return (
        f"{Path(video.path).name}: clip {frames_text(first, last)} on latent slot {slot}\n"
        f"Noise {noise_text(video.noise_at(slot))} (0 = keep these frames exactly, 1 = only a hint)\n"
        "Drag or Left/Right to move the clip; drag the ends of its band (under the cards) or select it to set\n"
        "its in and out points in the bar above;\n"
        "Delete removes this slot; right-click for the Extension and Completion presets"
    )


def clip_caption(video: TimelineVideo) -> str:
    slots = ", ".join(str(s) for s in video.slots)
    first = video.source_frames(video.start_slot)[0]
    start = f" from slot {video.start_slot}" if video.start_slot else ""
    return (f"Clip {Path(video.path).name}{start}: frames {first}-{video.source_frames(max(video.slots))[1]} "
            f"on slot{'s' if len(video.slots) > 1 else ''} {slots}")


def pixel_frame_of_player_frame(index: int, shown: int, frames: int) -> int:
    """The timeline frame of the player's frame `index` out of `shown` (a video, or a per-slot preview)."""
    if shown == frames or shown <= 1:
        return index
    if shown == latent_frames(frames):
        return pixel_frames_of_slot(index)[1]
    return round(index * (frames - 1) / (shown - 1))


def pixel_frame_of_clip_frame(video: TimelineVideo, clip_frame: int, frames: int) -> int | None:
    """Where the clip's frame lands in the new video: its in point on the start slot's last pixel frame, the
    frames after it one by one (None when it lands before the start or past the end)."""
    frame = pixel_frames_of_slot(video.start_slot)[1] + clip_frame - video.in_frame
    return frame if clip_frame >= video.in_frame and frame < frames else None
