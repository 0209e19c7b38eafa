"""The Qt-free data model of Pusa Studio: settings, timeline, jobs and the project that holds them.

Plain dataclasses with ids and states, so they can be saved, compared and tested without a window.
The observable layer (`document.py`) wraps a `Project` and tells the widgets when it changes.
"""

from __future__ import annotations

import copy
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from pusa_engine.events import JobResult
from pusa_engine.request import (
    GenerationRequest,
    Keyframe,
    VideoCondition,
    latent_frames,
    pixel_frames_of_slot,
    slot_of_pixel_frame,
)

# Default noise multipliers of Pusa's reference scripts (image 0.2, end frame 0.5, clip slots 0.0-0.5).
IMAGE_TO_VIDEO_NOISE = 0.2
END_FRAME_NOISE = 0.5
EXTENSION_SLOTS = [0, 1, 2, 3]
EXTENSION_NOISE = [0.0, 0.3, 0.4, 0.5]
COMPLETION_NOISE = 0.3

RESOLUTIONS: dict[str, tuple[int, int]] = {
    "480p landscape (832x480)": (832, 480),
    "480p portrait (480x832)": (480, 832),
    "720p landscape (1280x720)": (1280, 720),
    "720p portrait (720x1280)": (720, 1280),
    "Square (512x512)": (512, 512),
}


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def snap_frame(pixel_frame: int, frames: int) -> int:
    """The pixel frame a keyframe dropped at `pixel_frame` snaps to: the last frame of its latent slot."""
    pixel_frame = max(0, min(frames - 1, pixel_frame))
    return pixel_frames_of_slot(slot_of_pixel_frame(pixel_frame))[1]


class Mode(str, Enum):
    """The seed's four modes: presets that lay out the timeline."""

    TEXT_TO_VIDEO = "Text-to-Video"
    IMAGE_TO_VIDEO = "Image-to-Video"
    MULTI_FRAMES = "Multi-Frames to Video"
    VIDEO_TO_VIDEO = "Video-to-Video"


@dataclass
class TimelineKeyframe(Keyframe):
    """The engine's `Keyframe` as the timeline holds it: the same fields (image, pixel frame, noise), plus an
    id the editor uses to find the card."""

    id: str = field(default_factory=new_id)

    @property
    def slot(self) -> int:
        return slot_of_pixel_frame(self.frame)

    def as_keyframe(self) -> Keyframe:
        return Keyframe(self.image, self.frame, self.noise)


VIDEO_SLOT_NOISE = 0.3  # a clip slot added by hand: the reference's completion level


@dataclass
class TimelineVideo(VideoCondition):
    """The engine's `VideoCondition` as the timeline holds it: a clip laid on latent slots (extension,
    completion), one noise multiplier per slot; laid out as an extension unless told otherwise.

    The engine encodes the clip from its in point (`in_frame`) as one clip and copies its latent i into
    slot `start_slot + i` of the new video: the start slot carries source frame `in_frame`, the slot after
    it the next 4 frames, and so on (`source_frames(slot)`). A clip dropped at slot k starts there.
    """

    slots: list[int] = field(default_factory=lambda: list(EXTENSION_SLOTS))
    noise: list[float] = field(default_factory=lambda: list(EXTENSION_NOISE))

    @property
    def path(self) -> str:
        """The clip file (the engine calls it `video`)."""
        return self.video

    def noise_at(self, slot: int) -> float:
        return self.noise[self.slots.index(slot)]

    def with_noise(self, slot: int, noise: float) -> TimelineVideo:
        return self.with_pairs([(s, noise if s == slot else m) for s, m in self.pairs()])

    def without_slot(self, slot: int) -> TimelineVideo | None:
        """The clip with one slot taken off; None when it was the last one."""
        kept = [(s, m) for s, m in self.pairs() if s != slot]
        return self.with_pairs(kept) if kept else None

    def with_slot(self, slot: int, noise: float = VIDEO_SLOT_NOISE) -> TimelineVideo:
        return self.with_pairs([*[(s, m) for s, m in self.pairs() if s != slot], (slot, noise)])

    def with_pairs(self, pairs: list[tuple[int, float]], **placement: int) -> TimelineVideo:
        """The same clip on other (slot, noise) pairs, in slot order; `start_slot` / `in_frame` may change too."""
        pairs = sorted(pairs)
        return replace(self, slots=[s for s, _ in pairs], noise=[m for _, m in pairs], **placement)

    def pairs(self) -> list[tuple[int, float]]:
        return list(zip(self.slots, self.noise, strict=False))

    def as_condition(self) -> VideoCondition:
        return VideoCondition(self.video, list(self.slots), list(self.noise), self.start_slot, self.in_frame)


@dataclass
class Timeline:
    keyframes: list[TimelineKeyframe] = field(default_factory=list)
    video: TimelineVideo | None = None
    mode: Mode | None = None  # the mode the user chose (`core/modes.py`); None: not chosen, shown as detected

    @property
    def shown_mode(self) -> Mode:
        """The mode to show: the one chosen (dropping media never changes it), else the layout's own."""
        return self.mode if self.mode is not None else detect_mode(self)

    def keyframe(self, keyframe_id: str) -> TimelineKeyframe:
        for kf in self.keyframes:
            if kf.id == keyframe_id:
                return kf
        raise KeyError(keyframe_id)

    def occupied_slots(self, except_id: str | None = None) -> set[int]:
        slots = {kf.slot for kf in self.keyframes if kf.id != except_id}
        if self.video is not None:
            slots |= set(self.video.slots)
        return slots

    def sorted_keyframes(self) -> list[TimelineKeyframe]:
        return sorted(self.keyframes, key=lambda kf: kf.frame)

    def copy(self) -> Timeline:
        return copy.deepcopy(self)


@dataclass
class EditorSettings(GenerationRequest):
    """What the parameter panel edits: the engine's own request type (its defaults and ranges are the
    request module's), with a blank prompt and a seed to show, plus the one UI-only choice. Its keyframes
    and clip stay empty: the timeline holds them, with ids, and `build_request` joins the two."""

    prompt: str = ""
    seed: int | None = 42
    new_seed_each_run: bool = True


SETTINGS_ONLY = ("keyframes", "video")  # request fields the editor keeps on the timeline instead


def settings_to_plain(settings: EditorSettings) -> dict[str, Any]:
    return {k: to_plain(v) for k, v in vars(settings).items() if k not in SETTINGS_ONLY}


@dataclass
class EditorState:
    """The editor as one value: what undo and redo put back."""

    settings: EditorSettings
    timeline: Timeline


def clamp_timeline(timeline: Timeline, frames: int) -> Timeline:
    """The timeline fitted to `frames`: keyframes past the end move to the last slot, clip slots past it go."""
    out = timeline.copy()
    for kf in out.keyframes:
        if kf.frame > frames - 1:
            kf.frame = snap_frame(frames - 1, frames)
    last_slot = slot_of_pixel_frame(frames - 1)
    for slot in [s for s in out.video.slots if s > last_slot] if out.video is not None else []:
        out.video = out.video.without_slot(slot) if out.video is not None else None
    return out


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class Job:
    """One generation: the exact request (seed fixed), where it stands and what came out."""

    request: GenerationRequest
    state: JobState = JobState.QUEUED
    id: str = field(default_factory=new_id)
    created: float = field(default_factory=time.time)
    result: JobResult | None = None
    problems: list[str] = field(default_factory=list)
    thumbnail: str | None = None
    output: str | None = None  # the video it writes, fixed when it starts (recovery looks there)
    worker: str | None = None  # the cluster worker that runs (or ran) it; None: this computer

    @property
    def title(self) -> str:
        lines = (self.request.prompt or "").strip().splitlines()
        prompt = lines[0] if lines else "(no prompt)"
        return prompt if len(prompt) <= 60 else prompt[:57] + "..."

    @property
    def summary(self) -> str:
        r = self.request
        return (
            f"{r.width}x{r.height}, {r.frames} frames, {r.steps} steps, "
            f"seed {r.seed}, {len(r.keyframes)} keyframe(s)"
        )

    @property
    def video_path(self) -> str | None:
        """The finished video, when there is one."""
        return self.result.video_path if self.result is not None else None

    def to_plain(self) -> dict[str, Any]:
        """As stored in a project or an autosave."""
        return {
            "request": to_plain(self.request.to_dict()),
            "state": self.state.value,
            "id": self.id,
            "created": self.created,
            "result": to_plain(self.result) if self.result is not None else None,
            "problems": list(self.problems),
            "thumbnail": self.thumbnail,
            "output": self.output,
            "worker": self.worker,
        }


@dataclass
class Project:
    settings: EditorSettings = field(default_factory=EditorSettings)
    timeline: Timeline = field(default_factory=Timeline)
    queue: list[Job] = field(default_factory=list)
    history: list[Job] = field(default_factory=list)

    def job(self, job_id: str) -> Job:
        for job in [*self.queue, *self.history]:
            if job.id == job_id:
                return job
        raise KeyError(job_id)


# The demo model's attention is tiny but its token count is not: at 832x480x81 a CPU needs minutes.
# A fresh project on the demo model starts at a size that runs in seconds.
DEMO_MODEL_SIZE = {"width": 256, "height": 144, "frames": 33}


def fresh_project(demo_model: bool) -> Project:
    """An empty project: spec defaults, or on the demo model a size a laptop CPU runs in seconds."""
    project = Project()
    if demo_model:
        project.settings = replace(project.settings, **DEMO_MODEL_SIZE)
    return project


def build_request(settings: EditorSettings, timeline: Timeline) -> GenerationRequest:
    """The engine request for what the editor shows (seed left as set; submitting fixes it)."""
    fields = {k: v for k, v in vars(settings).items() if k in GenerationRequest.__dataclass_fields__}
    fields["keyframes"] = [kf.as_keyframe() for kf in timeline.sorted_keyframes()]
    fields["video"] = timeline.video.as_condition() if timeline.video is not None else None
    return GenerationRequest(**fields)


def editor_state_from_request(
    request: GenerationRequest, keep: EditorSettings | None = None
) -> tuple[EditorSettings, Timeline]:
    """Settings and timeline that reproduce a request exactly (used to restore a history entry)."""
    fields = {k: v for k, v in vars(request).items() if k not in SETTINGS_ONLY}
    if fields["seed"] is None:
        fields["seed"] = keep.seed if keep else EditorSettings.seed
    settings = EditorSettings(**fields, new_seed_each_run=False)
    video = request.video
    timeline = Timeline(
        keyframes=[TimelineKeyframe(kf.image, kf.frame, kf.noise) for kf in request.keyframes],
        video=TimelineVideo(video.video, list(video.slots), list(video.noise), video.start_slot, video.in_frame)
        if video else None,
    )
    return settings, timeline


def detect_mode(timeline: Timeline) -> Mode:
    """Which of the four modes the timeline's layout is closest to."""
    if timeline.video is not None:
        return Mode.VIDEO_TO_VIDEO
    if not timeline.keyframes:
        return Mode.TEXT_TO_VIDEO
    if len(timeline.keyframes) == 1 and timeline.keyframes[0].slot == 0:
        return Mode.IMAGE_TO_VIDEO
    return Mode.MULTI_FRAMES


def video_preset(kind: str, frames: int, start: int = 0) -> tuple[list[int], list[float]]:
    """Slots and noise for laying a clip: 'extend' (13 frames on 4 slots from `start`) or 'complete' (first
    frame on slot 0 and the last 4 on the last slot)."""
    last = latent_frames(frames) - 1
    if kind == "complete":
        return [0, last], [COMPLETION_NOISE, COMPLETION_NOISE]
    pairs = [(start + s, m) for s, m in zip(EXTENSION_SLOTS, EXTENSION_NOISE, strict=True) if start + s <= last]
    return [s for s, _ in pairs], [m for _, m in pairs]


def clip_problem(video: TimelineVideo, clip_frames: int, frames: int) -> str | None:
    """What the user should know about laying this clip, given its length; None when all is as it looks."""
    name = Path(video.path).name
    needed = video.frames_needed()
    if clip_frames < needed:
        return (
            f"{name} has {clip_frames} frames, but slot {max(video.slots)} takes its frames up to {needed - 1}: "
            "remove that slot or use a longer clip"
        )
    last = latent_frames(frames) - 1
    completion = last in video.slots and last - 1 not in video.slots and last > video.start_slot
    if completion and clip_frames > needed:
        first, end = video.source_frames(last)
        return (
            f"The last slot takes frames {first}-{end} of {name}, not its last 4 "
            f"({clip_frames - 4}-{clip_frames - 1}): the clip has {clip_frames} frames and the video {frames}. "
            "Set Frames to the clip's length "
            "(4n+1) or trim the clip to complete it exactly."
        )
    return None


def to_plain(obj: Any) -> Any:
    """Dataclasses and enums as JSON-ready values."""
    if isinstance(obj, Enum):
        return obj.value
    if hasattr(obj, "__dataclass_fields__"):
        return {k: to_plain(v) for k, v in asdict(obj).items()}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj
