"""What a running job reports, as plain dataclasses (no torch, no Qt): safe to pass across threads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np


class Phase(str, Enum):
    LOADING = "loading models"
    ENCODING_TEXT = "encoding text"
    ENCODING_FRAMES = "encoding keyframes"
    OPTIMIZING = "optimizing for this size"  # the first compiled job at a size, before its first step
    DENOISING = "denoising"
    DECODING = "decoding"
    WRITING = "writing video"


@dataclass
class PhaseProgress:
    """Progress inside a phase: `done` of `total` units (tiles, chunks, prompts).

    `eta_seconds`: the estimated seconds left in this phase, where the engine has one (decoding).
    """

    phase: Phase
    done: int
    total: int
    message: str = ""
    eta_seconds: float | None = None


@dataclass
class StepProgress:
    """One denoising step finished. `preview` is uint8 RGB [T, H, W, 3] of the clean-video estimate."""

    step: int  # 1-based
    total: int
    seconds_this_step: float
    seconds_per_step: float  # mean so far
    eta_seconds: float  # the remaining steps plus the VAE decode after them
    timesteps: list[float]  # what each latent frame was given at this step
    preview: np.ndarray | None = None


@dataclass
class JobResult:
    video_path: str
    sidecar_path: str
    seed: int
    frames: int
    fps: int
    seconds: float
    png_dir: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


Event = PhaseProgress | StepProgress
EventCallback = Callable[[Event], None]


class CancelToken:
    """Set from any thread; the job checks it between steps and VAE tiles."""

    def __init__(self) -> None:
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def raise_if_cancelled(self) -> None:
        from .errors import JobCancelled

        if self._cancelled:
            raise JobCancelled()
