"""Experts: Wan2.2-A14B's two DiTs (high noise, low noise), chosen per step by the schedule, and the swap
that keeps the idle one in pinned CPU memory when a GPU cannot hold both.

The swap keeps each expert's weights as released (unmerged) in pinned CPU memory and one set of weights on
the GPU, the slot. Bringing an expert in copies its weights into the slot and writes its LoRA stack's
merge there (from the kept weights, so they double as the stack's base copies: no second copy is kept).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from .lora import LoraPlacement, LoraStack
from .pinned import PinnedArena
from .plans.weights import replicate
from .sampler import Denoiser
from .schedules import ExpertSwitch


class ExpertSwap:
    """Experts kept in (pinned) CPU memory and brought, one at a time, into one GPU-resident slot model."""

    def __init__(self, experts: dict[str, torch.nn.Module], device: torch.device):
        self.names = list(experts)
        self.device = device
        self.homes: dict[str, dict[str, torch.Tensor]] = {}
        arena = PinnedArena()
        for name, model in experts.items():
            home = {}
            for key, t in model.state_dict(keep_vars=True).items():
                kept = t.detach()
                if kept.device.type != "cpu" or (arena.pinned and not kept.is_pinned()):
                    kept = arena.copy(kept)  # page-locked, for full-speed copies to the GPU
                home[key] = kept
                t.data = kept  # the expert's own module now reads its kept copy (LoRA pairing, tests)
            self.homes[name] = home
        self.experts = experts
        self.slot = replicate(experts[self.names[0]], device)
        self._slot_tensors = dict(self.slot.state_dict(keep_vars=True))
        self.stacks: dict[str, LoraStack] = {}
        self.active: str | None = None
        self.version = 0  # changes with every swap and every merge into the slot
        self.swap_seconds: list[float] = []

    def stack_for(self, name: str, target: str, factors: str = "merge") -> LoraStack:
        """The LoRA stack of one expert: written into the slot, based on the expert's kept weights."""
        if name not in self.stacks:
            placement = LoraPlacement(base="pinned", factors=factors, merge_device=self.device)
            stack = LoraStack(self.slot, placement, bases=self.homes[name], target=target)
            stack.live = self.active == name
            self.stacks[name] = stack
        return self.stacks[name]

    @torch.no_grad()
    def activate(self, name: str) -> torch.nn.Module:
        """The slot holding expert `name` with its LoRAs merged (copied in when another expert is there)."""
        if self.active == name:
            return self.slot
        start = time.perf_counter()
        stack = self.stacks.get(name)
        merged = set(stack.targets) if stack is not None else set()
        home = self.homes[name]
        for key, t in self._slot_tensors.items():
            if key not in merged:
                t.data.copy_(home[key], non_blocking=True)
        for other, s in self.stacks.items():
            s.live = other == name
        if stack is not None:
            stack.refresh()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.active = name
        self.version += 1
        self.swap_seconds.append(time.perf_counter() - start)
        return self.slot

    def weights_version(self) -> tuple[int, int]:
        stack = self.stacks.get(self.active or "")
        return self.version, stack.version if stack is not None else 0


class ExpertDenoiser:
    """Runs, at each step, the denoiser of the expert the step's base sigma picks; records which ran.

    `make(name)` builds that expert's denoiser (bringing it in first when experts are swapped); it is made
    again only when the expert changes."""

    def __init__(self, names: list[str], make: Callable[[str], Denoiser], switch: ExpertSwitch | None):
        self.names = names
        self.make = make
        self.switch = switch
        self.ran: list[int] = []
        self._current: int | None = None
        self._denoise: Denoiser | None = None

    def __call__(self, x: torch.Tensor, timesteps: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        index = 0 if self.switch is None or len(self.names) == 1 or sigma is None else self.switch.expert_at(sigma)
        if index != self._current or self._denoise is None:
            self._denoise = self.make(self.names[index])
            self._current = index
        self.ran.append(index)
        return self._denoise(x, timesteps, sigma)

    def trace(self) -> torch.Tensor:
        return torch.tensor(self.ran, dtype=torch.int32)
