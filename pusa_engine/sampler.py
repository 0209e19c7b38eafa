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


def schedule_sigmas(steps: int, shift: float) -> torch.Tensor:
    """sigma_0..sigma_N (float32, sigma_N = 0): sigma_i = shift*s_i / (1 + (shift-1)*s_i),
    s_i = linspace(1, 0, N+1)[i]."""
    s = torch.linspace(1.0, 0.0, steps + 1)[:-1]
    sigmas = shift * s / (1 + (shift - 1) * s)
    return torch.cat([sigmas, torch.zeros(1)])


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
    def __call__(self, x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """x [1,16,F,h,w] and timesteps [1,F], both in the compute dtype -> velocity, float32."""


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


def sample(denoise: Denoiser, noise: torch.Tensor, conditioning: list[Conditioning], steps: int, shift: float,
           compute_dtype: torch.dtype, on_step: Callable[[StepInfo], None] | None = None,
           cancel: CancelToken | None = None) -> SampleResult:
    device = noise.device
    frames = noise.shape[2]
    sigmas = schedule_sigmas(steps, shift)
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
        v = denoise(x.to(compute_dtype), t.to(device).unsqueeze(0))
        a = sigmas[i] * mult_dev
        b = sigmas[i + 1] * mult_dev
        x_before = x
        x = x + v * (b - a)  # Euler; frames with m = 0 get (b - a) = 0 and stay bit-identical
        if on_step is not None:
            on_step(StepInfo(i, steps, trace[i].clone(),
                             lambda x_before=x_before, v=v, a=a: x_before - a * v))
    return SampleResult(x, trace)
