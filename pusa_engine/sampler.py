"""The vectorized-timestep sampler, exactly as Pusa's reference states it (README, "How the sampler works").

Device-agnostic: the state (noise, latents) stays float32 on `state_device`; a `Denoiser` turns
(latents in the compute dtype, per-frame timesteps in the compute dtype) into a float32 velocity, with
CFG and whatever device plan it uses hidden inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from .events import CancelToken
from .schedules import Schedule, ShiftedSchedule, schedule_sigmas

__all__ = ["Conditioning", "Denoiser", "SampleResult", "StepInfo", "frame_multipliers", "frame_timesteps", "sample",
           "schedule_sigmas"]


@dataclass
class Conditioning:
    """A clean latent frame z [1, 16, h, w] at latent slot `slot`, noised to level `multiplier`."""

    slot: int
    latent: torch.Tensor
    multiplier: float


def frame_multipliers(frames: int, conditioning: list[Conditioning]) -> torch.Tensor:
    """m_f per latent frame: 1 for free frames, the keyframe's multiplier for conditioning frames."""
    m = torch.ones(frames)
    for c in conditioning:
        m[c.slot] = c.multiplier
    return m


def frame_timesteps(sigma: torch.Tensor, multipliers: torch.Tensor) -> torch.Tensor:
    """t_f = 1000 * sigma_i * m_f in float32 (the exact values, before the compute-dtype cast)."""
    return (sigma * 1000.0) * multipliers


class Denoiser(Protocol):
    def __call__(self, x: torch.Tensor, timesteps: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        """x [1,16,F,h,w] and timesteps [1,F], both in the compute dtype -> velocity, float32.

        `sigma` is the step's base (free-frame) sigma, float32 exact: a model with experts picks one by it."""


@dataclass
class StepInfo:
    index: int  # 0-based
    total: int
    timesteps: torch.Tensor  # [F] float32, the values the DiT was given
    clean_estimate: Callable[[], torch.Tensor]  # [1,16,F,h,w] float32, computed only if asked


@dataclass
class SampleResult:
    latents: torch.Tensor  # [1,16,F,h,w] float32
    timesteps: torch.Tensor  # [steps, F] float32, as given to the DiT
    experts: torch.Tensor | None = None  # [steps] int32, which expert ran each step (0 = high); None: one DiT


def sample(denoise: Denoiser, noise: torch.Tensor, conditioning: list[Conditioning], schedule: Schedule | int,
           shift_or_dtype: float | torch.dtype, compute_dtype: torch.dtype | None = None,
           on_step: Callable[[StepInfo], None] | None = None, cancel: CancelToken | None = None) -> SampleResult:
    """Run the sampler over `schedule`'s sigmas: `sample(denoise, noise, conds, schedule, dtype, ...)`.

    The older spelling `sample(denoise, noise, conds, steps, shift, dtype, ...)` is the shifted schedule.
    """
    if isinstance(schedule, int):
        schedule, dtype = ShiftedSchedule(schedule, float(shift_or_dtype)), compute_dtype
    else:
        if compute_dtype is not None:
            raise TypeError("sample(denoise, noise, conditioning, schedule, compute_dtype, ...)")
        dtype = shift_or_dtype
    return _loop(denoise, noise, conditioning, schedule.sigmas(), dtype, on_step, cancel)


def _loop(denoise: Denoiser, noise: torch.Tensor, conditioning: list[Conditioning], sigmas: torch.Tensor,
          compute_dtype: torch.dtype, on_step: Callable[[StepInfo], None] | None,
          cancel: CancelToken | None) -> SampleResult:
    device = noise.device
    frames = noise.shape[2]
    steps = len(sigmas) - 1
    mult = frame_multipliers(frames, conditioning)
    x = noise.clone()
    for c in conditioning:
        z = c.latent.to(device, torch.float32)
        # noised once, to level m * sigma_0 (a clean copy when m = 0)
        level = c.multiplier * sigmas[0]
        x[:, :, c.slot] = z if c.multiplier == 0 else (1 - level) * z + level * noise[:, :, c.slot]
    mult_dev = mult.to(device).view(1, 1, frames, 1, 1)
    trace = torch.empty(steps, frames)
    for i in range(steps):
        if cancel is not None:
            cancel.raise_if_cancelled()
        t = frame_timesteps(sigmas[i], mult).to(compute_dtype)
        trace[i] = t.float()
        v = denoise(x.to(compute_dtype), t.to(device).unsqueeze(0), float(sigmas[i]))
        a = sigmas[i] * mult_dev
        b = sigmas[i + 1] * mult_dev
        x_before = x
        x = x + v * (b - a)  # Euler; frames with m = 0 get (b - a) = 0 and stay bit-identical
        if on_step is not None:
            on_step(StepInfo(i, steps, trace[i].clone(),
                             lambda x_before=x_before, v=v, a=a: x_before - a * v))
    return SampleResult(x, trace)
