"""The denoisers the plans hand the sampler: one device, CFG-parallel over two, and the memory split.

A denoiser maps (latents, per-frame timesteps) to the CFG-combined velocity; every one computes the
same function, only placement and concurrency differ. The sequence split is in `sequence_split.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from ..dit import (
    RotaryTable,
    SpeedOptions,
    block_forward,
    dit_forward,
    get_speed_options,
    head_forward,
    patch_tokens,
    rotary_table,
    time_modulation,
    unpatchify,
)
from ..sampler import Denoiser


@dataclass
class Prompts:
    """Text embeddings (after the DiT's text MLP) on the DiT device; negative is None without CFG."""

    positive: torch.Tensor
    negative: torch.Tensor | None


class RopeCache:
    """Rotary tables of one DiT by (grid, device, token rows), built once per job."""

    def __init__(self, dit: torch.nn.Module):
        self.dit = dit
        self.tables: dict[tuple, RotaryTable] = {}

    def get(self, grid: tuple[int, int, int], device: torch.device, rows: tuple[int, int] | None = None):
        key = (grid, str(device), rows)
        if key not in self.tables:
            self.tables[key] = rotary_table(self.dit, *grid, device, rows=rows)
        return self.tables[key]


def grid_of(dit: torch.nn.Module, x: torch.Tensor) -> tuple[int, int, int]:
    pf, ph, pw = dit.patch_size
    return x.shape[2] // pf, x.shape[3] // ph, x.shape[4] // pw


def on_device(device: torch.device):
    """The current CUDA device for this thread (grad mode and current device are per thread)."""
    if device.type == "cuda":
        return torch.cuda.device(device)
    return nullcontext()


# ---- one device ----------------------------------------------------------------------------------------
def single_device_denoiser(dit: torch.nn.Module, prompts: Prompts, cfg: float, speed: SpeedOptions | None = None,
                           blocks: Callable[[], Iterator[torch.nn.Module]] | None = None) -> Denoiser:
    """Both CFG passes on one device, one after the other."""
    ropes = RopeCache(dit)

    def forward(x: torch.Tensor, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        rope = ropes.get(grid_of(dit, x), x.device)
        return dit_forward(dit, x, t, context, rope, blocks=None if blocks is None else blocks(),
                           speed=speed or get_speed_options())

    def denoise(x: torch.Tensor, timesteps: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        v = forward(x, timesteps, prompts.positive).float()
        if prompts.negative is None:
            return v
        v_uncond = forward(x, timesteps, prompts.negative).float()
        return v_uncond + cfg * (v - v_uncond)

    return denoise


# ---- two devices: CFG-parallel -----------------------------------------------------------------------------
def cfg_parallel_denoiser(dits: list[torch.nn.Module], devices: list[torch.device], prompts: Prompts, cfg: float,
                          pool: ThreadPoolExecutor, speed: SpeedOptions | None = None) -> Denoiser:
    """Conditional pass on devices[0], unconditional on devices[1], launched by one thread each."""
    dev0, dev1 = devices[0], devices[1]
    pos = prompts.positive
    neg = prompts.negative.to(dev1)
    ropes = [RopeCache(dits[0]), RopeCache(dits[1])]

    def uncond(x: torch.Tensor, t: torch.Tensor, sp: SpeedOptions) -> torch.Tensor:
        with torch.no_grad(), on_device(dev1):
            x1, t1 = x.to(dev1), t.to(dev1)
            return dit_forward(dits[1], x1, t1, neg, ropes[1].get(grid_of(dits[1], x1), dev1), speed=sp)

    def denoise(x: torch.Tensor, timesteps: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        sp = speed or get_speed_options()
        job = pool.submit(uncond, x, timesteps, sp)
        try:
            v = dit_forward(dits[0], x, timesteps, pos, ropes[0].get(grid_of(dits[0], x), dev0), speed=sp).float()
        finally:
            v_uncond = job.result()  # enqueued on devices[1]; waiting here costs no device sync
        v_uncond = v_uncond.to(dev0).float()
        return v_uncond + cfg * (v - v_uncond)

    return denoise


# ---- two devices: memory split -----------------------------------------------------------------------------
def memory_split_denoiser(dit: torch.nn.Module, devices: list[torch.device], prompts: Prompts, cfg: float,
                          speed: SpeedOptions | None = None) -> Denoiser:
    """The blocks live on different devices (weights.split_blocks); the tokens follow them."""
    ropes = RopeCache(dit)
    ctx_cache: dict[tuple[int, str], torch.Tensor] = {}

    def on(t: torch.Tensor, dev: torch.device, key: int | None = None) -> torch.Tensor:
        if t.device == dev:
            return t
        if key is None:
            return t.to(dev)
        k = (key, str(dev))
        if k not in ctx_cache:
            ctx_cache[k] = t.to(dev)
        return ctx_cache[k]

    def forward(x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, key: int) -> torch.Tensor:
        sp = speed or get_speed_options()
        grid = patch_tokens(dit, x)
        b, gf, gh, gw, dim = grid.shape
        tokens = grid.reshape(b, -1, dim)
        mod = time_modulation(dit, t, x.dtype)
        mods = {str(x.device): mod}
        for block in dit.blocks:
            dev = block.modulation.device
            if str(dev) not in mods:
                mods[str(dev)] = mod.to(dev)
            tokens = on(tokens, dev)
            tokens = block_forward(block, tokens, on(context, dev, key), mods[str(dev)].t_mod,
                                   ropes.get((gf, gh, gw), dev), gf, sp)
        tokens = on(tokens, x.device)
        return unpatchify(dit, head_forward(dit, tokens, mod.e, gf), (gf, gh, gw))

    def denoise(x: torch.Tensor, timesteps: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        v = forward(x, timesteps, prompts.positive, 0).float()
        if prompts.negative is None:
            return v
        v_uncond = forward(x, timesteps, prompts.negative, 1).float()
        return v_uncond + cfg * (v - v_uncond)

    return denoise
