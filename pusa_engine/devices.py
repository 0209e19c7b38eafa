"""Device plans: where the DiT, the text encoder and the VAE run, and how a denoising step uses them.

A plan is chosen automatically from the devices found (overridable by name) and is reported to the
caller. Every plan computes the same function: only placement and concurrency differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .dit import RotaryTable, dit_forward, rotary_table
from .sampler import Denoiser

CPU = torch.device("cpu")


@dataclass
class DevicePlan:
    name: str
    dit_devices: list[torch.device]
    text_device: torch.device
    vae_device: torch.device
    dtype: torch.dtype
    notes: list[str] = field(default_factory=list)

    @property
    def state_device(self) -> torch.device:
        """Where the float32 noise and latents live."""
        return self.dit_devices[0]

    def describe(self) -> str:
        kind = {torch.float32: "float32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]
        where = ", ".join(_device_name(d) for d in self.dit_devices)
        return f"{self.name}: DiT on {where} ({kind})" + "".join(f"; {n}" for n in self.notes)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} {torch.cuda.get_device_name(device)}"
    return str(device)


def available_plans() -> list[str]:
    """Plan names a user may pick; "auto" chooses among them."""
    plans = ["auto", "cpu"]
    if torch.cuda.is_available():
        plans += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return plans


def choose_plan(name: str = "auto") -> DevicePlan:
    if name == "auto":
        name = "cuda:0" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return DevicePlan("cpu", [CPU], CPU, CPU, torch.float32)
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"plan {name!r} needs an NVIDIA GPU, and none is visible; choose 'cpu'")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"plan {name!r}: there are only {torch.cuda.device_count()} GPUs")
        return DevicePlan("1 GPU", [dev], dev, dev, torch.bfloat16,
                          notes=["text encoder released to the CPU after encoding"])
    raise ValueError(f"unknown device plan {name!r}; choose one of {', '.join(available_plans())}")


@dataclass
class Prompts:
    """Text embeddings (after the DiT's text MLP) on the DiT device; negative is None without CFG."""

    positive: torch.Tensor
    negative: torch.Tensor | None


def single_device_denoiser(dit: torch.nn.Module, prompts: Prompts, cfg: float) -> Denoiser:
    """Both CFG passes on one device, one after the other."""
    rope_cache: dict[tuple[int, ...], RotaryTable] = {}

    def denoise(x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        grid = tuple(x.shape[2:])
        if grid not in rope_cache:
            rope_cache[grid] = rotary_table(dit, x.shape[2], x.shape[3] // 2, x.shape[4] // 2, x.device)
        rope = rope_cache[grid]
        v = dit_forward(dit, x, timesteps, prompts.positive, rope).float()
        if prompts.negative is None:
            return v
        v_uncond = dit_forward(dit, x, timesteps, prompts.negative, rope).float()
        return v_uncond + cfg * (v - v_uncond)

    return denoise
