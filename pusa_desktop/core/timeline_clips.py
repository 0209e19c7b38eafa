"""Where a video clip goes on the timeline and how it is moved and trimmed, without Qt.

A clip starts at a latent slot of the new video (`start_slot`, where it was dropped) and at a frame of its own
(`in_frame`, its in point): the start slot takes that frame, each following slot the clip's next 4 frames
(the spec's frame/slot mapping, `VideoCondition.source_frames`). Its out point is the last source frame of its
last slot, so trimming the out point takes slots off the end or lays more. Keyframes are never removed here:
slots that hold one are left out, and a move onto one is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path

from pusa_engine.request import latent_frames

from .media_checks import video_frames_readable
from .model import EXTENSION_NOISE, TimelineVideo, video_preset


def slots_text(slots: list[int]) -> str:
    """'2' / '2-3' for a run of slots, '0, 2, 4' otherwise."""
    if len(slots) > 1 and slots == list(range(slots[0], slots[-1] + 1)):
        return f"{slots[0]}-{slots[-1]}"
    return ", ".join(str(s) for s in slots)


def _plural(items: list[int], one: str, many: str) -> str:
    return many if len(items) > 1 else one


def slots_the_clip_feeds(video: TimelineVideo, clip_frames: int) -> tuple[TimelineVideo | None, list[int]]:
    """The clip kept on the slots whose source frames it has, and the slots left off."""
    kept = [(s, m) for s, m in video.pairs() if video.source_frames(s)[1] < clip_frames]
    dropped = [s for s in video.slots if video.source_frames(s)[1] >= clip_frames]
    return (video.with_pairs(kept) if kept else None), dropped


def clip_laid_message(video: TimelineVideo, short: list[int], taken: list[int], clip_frames: int) -> str:
    """What the user is told when a dropped clip is laid (and which slots it could not feed, and why)."""
    name = Path(video.path).name
    hint = "Drag the clip bar's ends to trim it; right-click a card for Completion."
    first, _ = video.source_frames(video.start_slot)
    parts = [f"Video {name}: its frames from {first} on slot{'s' if len(video.slots) > 1 else ''} "
             f"{slots_text(video.slots)}: the new video continues it."]
    if taken:
        parts.append(f"{_plural(taken, 'Slot', 'Slots')} {slots_text(taken)} "
                     f"{_plural(taken, 'holds a keyframe', 'hold keyframes')}, so the clip was not laid there.")
    if short:
        last_needed = video.source_frames(max(short))[1]
        parts.append(f"{name} has only {clip_frames} frames: {_plural(short, 'slot', 'slots')} {slots_text(short)} "
                     f"would need its frames up to {last_needed}, so {_plural(short, 'it was', 'they were')} left off.")
    return " ".join([*parts, hint])


def lay_clip(path: str, frames: int, start_slot: int = 0, taken: set[int] | None = None
             ) -> tuple[TimelineVideo | None, str]:
    """A dropped video laid from `start_slot` as an extension (4 slots), decoded first: (the clip, what to say),
    or (None, why it is refused). Slots in `taken` (keyframes) and slots the clip has no frames for are left off."""
    taken = taken or set()
    slots, noise = video_preset("extend", frames, start_slot)
    wanted = TimelineVideo(path, slots, noise, start_slot, 0)
    length, problem = video_frames_readable(path, wanted.frames_needed())
    if problem:
        return None, problem
    held = [s for s in slots if s in taken]
    free = wanted.with_pairs([(s, m) for s, m in wanted.pairs() if s not in taken]) if len(held) < len(slots) else None
    if free is None:
        return None, f"{Path(path).name}: slot {slots_text(held)} {_plural(held, 'holds a keyframe', 'hold keyframes')}"
    video, short = slots_the_clip_feeds(free, length)
    if video is None:
        return None, f"{Path(path).name} has no frames for slot {slots[0]}"
    return video, clip_laid_message(video, short, held, length)


# ----- moving and trimming a placed clip -------------------------------------------------------------------
def out_frame(video: TimelineVideo) -> int:
    """The clip's out point: the last of its frames that feeds a slot."""
    return video.source_frames(max(video.slots))[1]


def moved_clip(video: TimelineVideo, start_slot: int, frames: int, keyframe_slots: set[int]
               ) -> tuple[TimelineVideo | None, str | None]:
    """The clip moved to start at `start_slot` (its slots and source frames move with it), or why not."""
    delta = start_slot - video.start_slot
    slots = [s + delta for s in video.slots]
    last = latent_frames(frames) - 1
    if start_slot < 0 or max(slots) > last:
        return None, f"the clip's slots would run past the video's slots 0-{last}"
    held = sorted(s for s in slots if s in keyframe_slots)
    if held:
        return None, f"slot {slots_text(held)} {_plural(held, 'holds a keyframe', 'hold keyframes')}; move it first"
    return video.with_pairs([(s + delta, m) for s, m in video.pairs()], start_slot=start_slot), None


def slipped_clip(video: TimelineVideo, in_frame: int, length: int | None) -> tuple[TimelineVideo | None, str | None]:
    """The clip fed from another in point (its slots stay where they are), or why not."""
    if in_frame < 0:
        return None, "the in point is a frame of the clip, from 0"
    slipped = video.with_pairs(video.pairs(), in_frame=in_frame)
    if length is not None and slipped.frames_needed() > length:
        most = length - (video.frames_needed() - video.in_frame)
        return None, (f"{Path(video.path).name} has {length} frames: with these slots the in point can be at most "
                      f"{max(0, most)}; trim the out point first")
    return slipped, None


def trimmed_clip(video: TimelineVideo, out: int, frames: int, keyframe_slots: set[int], length: int | None
                 ) -> tuple[TimelineVideo | None, str | None]:
    """The clip ending at source frame `out` (rounded down to a slot's last frame): slots past it go, and when
    it grows the free slots up to it are laid (a keyframe's slot is left out), or why not."""
    if out < video.in_frame:
        return None, f"the out point must be at or after the in point (frame {video.in_frame})"
    if length is not None and out >= length:
        return None, f"{Path(video.path).name} has {length} frames: the out point can be at most {length - 1}"
    end = video.start_slot + (out - video.in_frame) // 4
    last = latent_frames(frames) - 1
    if end > last:
        return None, f"the clip would run past the last slot {last}; move it earlier or set more frames"
    pairs = [(s, m) for s, m in video.pairs() if s <= end]
    after = max([s for s, _ in pairs], default=video.start_slot - 1)
    for slot in range(after + 1, end + 1):
        if slot not in keyframe_slots:
            index = slot - video.start_slot
            pairs.append((slot, EXTENSION_NOISE[min(index, len(EXTENSION_NOISE) - 1)]))
    if not pairs:
        return None, f"slot {video.start_slot} holds a keyframe; the clip would have no slot left"
    return video.with_pairs(pairs), None


def clip_ending_at(video: TimelineVideo, end_slot: int, frames: int, keyframe_slots: set[int], length: int | None
                   ) -> tuple[TimelineVideo | None, str | None]:
    """The clip's right edge dragged to the end of `end_slot`: its out point becomes that slot's last source
    frame (`trimmed_clip`: slots past it go, free ones up to it are laid), or why not."""
    if end_slot < video.start_slot:
        return None, f"the clip needs at least one slot: it starts at slot {video.start_slot}"
    return trimmed_clip(video, video.source_frames(end_slot)[1], frames, keyframe_slots, length)


def head_trimmed_clip(video: TimelineVideo, start_slot: int, keyframe_slots: set[int], length: int | None
                      ) -> tuple[TimelineVideo | None, str | None]:
    """The clip's left edge dragged to `start_slot`, as in an editor: the slots that stay keep their clip frames,
    so the start moves (`moved_clip`'s start slot) and the in point with it, 4 frames a slot (`slipped_clip`);
    the new start slot takes the frame that was the last of that slot. Slots laid before the old start take the
    first slot's noise (a keyframe's slot is left out). Or why not."""
    delta = start_slot - video.start_slot
    if delta == 0:
        return video, None
    last = max(video.slots)
    if start_slot > last:
        return None, f"the clip needs at least one slot: its last is slot {last}"
    if start_slot < 0:
        return None, "the clip would start before slot 0"
    in_frame = video.in_frame + 4 * delta
    if in_frame < 0:
        earliest = video.start_slot - video.in_frame // 4
        return None, (f"{Path(video.path).name} has no frames before frame 0: with its in point at frame "
                      f"{video.in_frame} the clip can start at slot {earliest} at the earliest")
    pairs = [(s, m) for s, m in video.pairs() if s >= start_slot]
    pairs += [(s, video.noise[0]) for s in range(start_slot, video.start_slot) if s not in keyframe_slots]
    return slipped_clip(video.with_pairs(pairs, start_slot=start_slot), in_frame, length)
