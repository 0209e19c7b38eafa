"""Noise schedules as objects, apart from the sampling loop: a schedule gives sigma_0..sigma_N (float32,
sigma_N = 0), and the expert rule says which DiT runs a step from that step's base sigma.

The shifted flow-matching schedule (spec section 3) is Pusa's, for 10 steps, 4 steps (LightX2V) and any other
count; Wan2.2's two experts switch on the same schedule at a boundary on the base timestep (spec section 11).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


class Schedule(Protocol):
    def sigmas(self) -> torch.Tensor:
        """sigma_0..sigma_N, float32, with sigma_N = 0: the step count is len - 1."""


def schedule_sigmas(steps: int, shift: float) -> torch.Tensor:
    """sigma_0..sigma_N (float32, sigma_N = 0): sigma_i = shift*s_i / (1 + (shift-1)*s_i),
    s_i = linspace(1, 0, N+1)[i]."""
    s = torch.linspace(1.0, 0.0, steps + 1)[:-1]
    sigmas = shift * s / (1 + (shift - 1) * s)
    return torch.cat([sigmas, torch.zeros(1)])


@dataclass(frozen=True)
class ShiftedSchedule:
    """Wan's flow-matching schedule with a shift (5 for Pusa)."""

    steps: int
    shift: float = 5.0

    def sigmas(self) -> torch.Tensor:
        return schedule_sigmas(self.steps, self.shift)


@dataclass(frozen=True)
class SigmaList:
    """A schedule given as its sigmas (sigma_N = 0 appended when missing)."""

    values: tuple[float, ...]

    def sigmas(self) -> torch.Tensor:
        s = torch.tensor(self.values, dtype=torch.float32)
        return s if s[-1] == 0 else torch.cat([s, torch.zeros(1)])


def base_timestep(sigma: float | torch.Tensor) -> float:
    """A step's base (free-frame) timestep, 1000 * sigma in float32, as the DiT and diffsynth see it."""
    return float(torch.as_tensor(sigma, dtype=torch.float32) * 1000.0)


@dataclass(frozen=True)
class ExpertSwitch:
    """Which expert runs a step: the first (high-noise) while the base timestep >= 1000 * boundary."""

    boundary: float = 0.875

    def expert_at(self, sigma: float | torch.Tensor) -> int:
        return 0 if base_timestep(sigma) >= self.boundary * 1000.0 else 1

    def experts(self, schedule: Schedule) -> list[int]:
        sig = schedule.sigmas()
        return [self.expert_at(sig[i]) for i in range(len(sig) - 1)]
