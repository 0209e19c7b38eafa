"""The one request type that covers every Pusa task, and the frame/slot arithmetic
(slot 0 is pixel frame 0, slot j >= 1 is pixel frames 4j-3..4j).

Pure Python on purpose: the desktop imports this module to build requests without loading torch.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .errors import RequestError
from .families import WAN_GEOMETRY
from .lora_specs import LoraSpec, lora_spec_problems

WAN_NEGATIVE_PROMPT = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, "
    "static, overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, "
    "extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, "
    "fused fingers, still picture, messy background, three legs, many people in the background, "
    "walking backwards"
)

FitMode = Literal["crop", "pad"]

# Ranges a user sees (those of Pusa's reference scripts).
STEPS_RANGE = (1, 50)
LORA_ALPHA_RANGE = (0.1, 5.0)
NOISE_RANGE = (0.0, 1.0)
CFG_RANGE = (1.0, 20.0)
FPS_RANGE = (1, 60)
MAX_SEED = 2**32 - 1
# The DiT's rotary tables cover 1024 positions per axis: latent frames, and height and width in
# 16-pixel patches (8x VAE, 2x2 patch).
MAX_POSITIONS = 1024
MAX_SIDE = 16 * MAX_POSITIONS
MAX_FRAMES = 4 * (MAX_POSITIONS - 1) + 1


def latent_frames(pixel_frames: int) -> int:
    """Number of latent frames F for N = 4n+1 pixel frames."""
    return WAN_GEOMETRY.latent_frames(pixel_frames)


def slot_of_pixel_frame(pixel_frame: int) -> int:
    """The latent slot a pixel frame belongs to: slot 0 is frame 0, slot j >= 1 is frames 4j-3..4j."""
    return math.ceil(pixel_frame / 4)


def pixel_frames_of_slot(slot: int) -> tuple[int, int]:
    """First and last pixel frame (inclusive) covered by a latent slot."""
    if slot == 0:
        return (0, 0)
    return (4 * slot - 3, 4 * slot)


@dataclass
class Keyframe:
    """An image placed at a pixel frame, noised to `noise` (0 = kept exactly)."""

    image: str
    frame: int
    noise: float = 0.2


@dataclass
class VideoCondition:
    """Frames of a video clip laid on latent slots (extension / completion).

    The clip's frames from `in_frame` on are encoded as one clip whose first latent lands on slot
    `start_slot` of the new video, by the spec's frame/slot mapping: slot `start_slot + i` takes the clip's
    latent i, that is source frame `in_frame` (i = 0) or source frames `in_frame + 4i-3 .. in_frame + 4i`.
    Each listed slot gets its own noise multiplier. The defaults put the clip's frame 0 on slot 0.
    """

    video: str
    slots: list[int]
    noise: list[float]
    start_slot: int = 0  # the slot of the new video that the clip's first frame (`in_frame`) feeds
    in_frame: int = 0  # the clip's first frame used (its in point)

    def source_frames(self, slot: int) -> tuple[int, int]:
        """First and last frame of the clip (inclusive) that feed `slot` of the new video."""
        first, last = pixel_frames_of_slot(slot - self.start_slot)
        return self.in_frame + first, self.in_frame + last

    def frames_needed(self) -> int:
        """How many frames of the file are read: up to the last source frame of the last slot."""
        return self.source_frames(max(self.slots))[1] + 1 if self.slots else 0


@dataclass
class SlotMapping:
    """How one conditioning input was mapped, reported back so a UI can show it."""

    source: str
    slot: int
    pixel_frames: tuple[int, int]
    noise: float
    requested_frame: int | None = None
    source_frames: tuple[int, int] | None = None  # a clip's frames that feed the slot


@dataclass(frozen=True)
class SizeLimit:
    """What this machine can run, estimated by the engine from its free memory (see Engine.size_limit)."""

    max_tokens: int  # latent tokens of the DiT: latent frames x (H/16) x (W/16)
    max_pixels: int  # pixels of one frame the VAE can decode
    where: str  # e.g. "the GPU cuda:0 (31.5 GB free)", said in the message

    def problems(self, width: int, height: int, frames: int) -> list[str]:
        per_frame = (width // 16) * (height // 16)
        tokens = latent_frames(frames) * per_frame
        frame_max = min(self.max_pixels, 256 * self.max_tokens)  # a token is 16x16 pixels
        if width * height > frame_max:
            return [f"{width}x{height} is too large for {self.where}: one frame may have at most about "
                    f"{frame_max:,} pixels (e.g. {_example_size(frame_max, width, height)}); "
                    "lower the width and height"]
        if tokens > self.max_tokens:
            most = 4 * (self.max_tokens // per_frame - 1) + 1
            return [f"{width}x{height} with {frames} frames is too large for {self.where}: it needs {tokens:,} "
                    f"latent tokens and the most is about {self.max_tokens:,} (at most {most} frames at this "
                    "size); lower the frame count, width or height"]
        return []


def _example_size(max_pixels: int, width: int, height: int) -> str:
    """The largest multiple-of-16 size with this aspect ratio that fits."""
    scale = math.sqrt(max_pixels / (width * height))
    w, h = max(16, int(width * scale) // 16 * 16), max(16, int(height * scale) // 16 * 16)
    return f"{w}x{h}"


def _finite(name: str, value: float, problems: list[str]) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.append(f"{name} must be a finite number (got {value!r})")
        return False
    return True


def _clip_placement_problems(v: VideoCondition, slots: int) -> list[str]:
    """Where the clip starts (a slot of the new video) and its in point (a frame of the clip)."""
    problems = []
    for name, value in (("start slot", v.start_slot), ("in frame", v.in_frame)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"video {v.video}: the {name} must be a whole number from 0 (got {value!r})")
            return problems
    if v.start_slot >= slots:
        problems.append(f"video {v.video}: the start slot {v.start_slot} is past the last slot {slots - 1}")
    early = sorted(s for s in v.slots if isinstance(s, int) and s < v.start_slot)
    if early:
        problems.append(
            f"video {v.video}: slot {early[0]} is before the clip's start slot {v.start_slot}; a clip feeds only "
            "the slots from its start on")
    return problems


@dataclass
class GenerationRequest:
    prompt: str
    negative_prompt: str = WAN_NEGATIVE_PROMPT
    width: int = 832
    height: int = 480
    frames: int = 81
    steps: int = 10
    cfg: float = 3.0
    shift: float = 5.0
    seed: int | None = None
    lora_alpha: float = 1.4
    fps: int = 16
    fit: FitMode = "crop"
    keyframes: list[Keyframe] = field(default_factory=list)
    video: VideoCondition | None = None
    save_png_frames: bool = False
    # Wan2.2-A14B: the low-noise expert's Pusa LoRA alpha (lora_alpha is the high-noise expert's), and the
    # boundary on the base timestep (/ 1000) where the low-noise expert takes over
    lora_alpha_low: float = 1.4
    boundary: float = 0.875
    # LoRAs stacked after the Pusa LoRA(s), in order (the four-step mode's LightX2V LoRA)
    loras: list[LoraSpec] = field(default_factory=list)
    # lossy, off by default: the DiT's big linear layers in FP8 (faster on Hopper/Ada GPUs, slightly different)
    fp8: bool = False

    def __post_init__(self) -> None:
        self.loras = [LoraSpec.of(spec) for spec in self.loras or []]

    @property
    def latent_frames(self) -> int:
        return latent_frames(self.frames)

    def with_seed(self) -> GenerationRequest:
        """A copy whose seed is fixed: a random one is drawn when none was given."""
        seed = self.seed if self.seed is not None else random.randint(0, MAX_SEED)
        return GenerationRequest(**{**self.__dict__, "seed": seed})

    def validate(self, limit: SizeLimit | None = None, experts: tuple[str, ...] | None = None) -> None:
        """Raise RequestError listing every problem with the request at once.

        `limit` (from the engine) adds this machine's memory bound on width x height x frames.
        """
        problems: list[str] = []
        size_ok = True
        if self.width % 16 or self.height % 16 or self.width < 16 or self.height < 16:
            problems.append(f"width and height must be positive multiples of 16 (got {self.width}x{self.height})")
            size_ok = False
        elif self.width > MAX_SIDE or self.height > MAX_SIDE:
            problems.append(f"width and height can be at most {MAX_SIDE} (got {self.width}x{self.height})")
            size_ok = False
        if self.frames < 1 or (self.frames - 1) % 4:
            problems.append(f"frames must be 4n+1, like 49 or 81 (got {self.frames})")
            size_ok = False
        elif self.frames > MAX_FRAMES:
            problems.append(f"frames can be at most {MAX_FRAMES} (got {self.frames})")
            size_ok = False
        if size_ok and limit is not None:
            problems.extend(limit.problems(self.width, self.height, self.frames))
        if not STEPS_RANGE[0] <= self.steps <= STEPS_RANGE[1]:
            problems.append(f"steps must be between {STEPS_RANGE[0]} and {STEPS_RANGE[1]} (got {self.steps})")
        if _finite("cfg", self.cfg, problems) and not CFG_RANGE[0] <= self.cfg <= CFG_RANGE[1]:
            problems.append(f"cfg must be between {CFG_RANGE[0]} and {CFG_RANGE[1]} (got {self.cfg})")
        if _finite("shift", self.shift, problems) and self.shift <= 0:
            problems.append(f"shift must be positive (got {self.shift})")
        if (_finite("LoRA alpha", self.lora_alpha, problems)
                and not LORA_ALPHA_RANGE[0] <= self.lora_alpha <= LORA_ALPHA_RANGE[1]):
            problems.append(f"LoRA alpha must be between 0.1 and 5.0 (got {self.lora_alpha})")
        if (_finite("low-noise LoRA alpha", self.lora_alpha_low, problems)
                and not LORA_ALPHA_RANGE[0] <= self.lora_alpha_low <= LORA_ALPHA_RANGE[1]):
            problems.append(f"low-noise LoRA alpha must be between 0.1 and 5.0 (got {self.lora_alpha_low})")
        if _finite("boundary", self.boundary, problems) and not 0.0 < self.boundary < 1.0:
            problems.append(f"boundary must be between 0 and 1, e.g. 0.875 (got {self.boundary})")
        problems.extend(lora_spec_problems(self.loras, experts))
        if not isinstance(self.fp8, bool):
            problems.append(f"fp8 must be true or false (got {self.fp8!r})")
        if not FPS_RANGE[0] <= self.fps <= FPS_RANGE[1]:
            problems.append(f"fps must be between {FPS_RANGE[0]} and {FPS_RANGE[1]} (got {self.fps})")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            problems.append(f"seed must be between 0 and {MAX_SEED} (got {self.seed})")
        if self.fit not in ("crop", "pad"):
            problems.append(f"fit must be 'crop' or 'pad' (got {self.fit!r})")
        for kf in self.keyframes:
            if kf.frame < 0:
                problems.append(f"keyframe {kf.image} is at frame {kf.frame}: frames count from 0 "
                                f"(the first frame) to {self.frames - 1} (the last); give a frame in that range")
            elif kf.frame >= self.frames:
                problems.append(
                    f"keyframe {kf.image} is at frame {kf.frame}, past the video's frames 0..{self.frames - 1}"
                )
            if _finite(f"keyframe {kf.image}: noise", kf.noise, problems) and \
                    not NOISE_RANGE[0] <= kf.noise <= NOISE_RANGE[1]:
                problems.append(f"keyframe {kf.image}: noise must be between 0.0 and 1.0 (got {kf.noise})")
        if self.video is not None:
            v = self.video
            if not v.slots:
                problems.append(f"video {v.video}: no slots chosen")
            if len(v.slots) != len(v.noise):
                problems.append(
                    f"video {v.video}: {len(v.slots)} slots but {len(v.noise)} noise values; give one per slot"
                )
            for s in v.slots:
                if not 0 <= s < self.latent_frames:
                    problems.append(
                        f"video {v.video}: slot {s} is past the last slot {self.latent_frames - 1} "
                        f"of a {self.frames}-frame video"
                    )
            for m in v.noise:
                if _finite(f"video {v.video}: noise", m, problems) and not NOISE_RANGE[0] <= m <= NOISE_RANGE[1]:
                    problems.append(f"video {v.video}: noise must be between 0.0 and 1.0 (got {m})")
            problems.extend(_clip_placement_problems(v, self.latent_frames))
        slots = [slot_of_pixel_frame(kf.frame) for kf in self.keyframes]
        if self.video is not None:
            slots += list(self.video.slots)
        dupes = sorted({s for s in slots if slots.count(s) > 1})
        if dupes:
            problems.append(
                "two conditioning inputs land on the same latent slot "
                + ", ".join(f"{s} (frames {pixel_frames_of_slot(s)[0]}-{pixel_frames_of_slot(s)[1]})" for s in dupes)
                + "; move one of them"
            )
        if problems:
            raise RequestError(problems)

    def slot_mapping(self) -> list[SlotMapping]:
        """Every conditioning input with the latent slot it lands on, in slot order."""
        out = [
            SlotMapping(kf.image, slot_of_pixel_frame(kf.frame), pixel_frames_of_slot(slot_of_pixel_frame(kf.frame)),
                        kf.noise, kf.frame)
            for kf in self.keyframes
        ]
        if self.video is not None:
            out += [
                SlotMapping(self.video.video, s, pixel_frames_of_slot(s), m,
                            source_frames=self.video.source_frames(s) if s >= self.video.start_slot else None)
                for s, m in zip(self.video.slots, self.video.noise, strict=False)
            ]
        return sorted(out, key=lambda m: m.slot)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        data = dict(data)
        data["keyframes"] = [Keyframe(**k) for k in data.get("keyframes", [])]
        if data.get("video"):
            data["video"] = VideoCondition(**data["video"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)
