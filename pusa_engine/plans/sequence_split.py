"""The sequence split: every DiT pass divided over the devices, each owning part of every frame's token
rows; around each self-attention the q/k/v of the heads are exchanged (Ulysses-style) and the outputs
sent back. Plain device-to-device copies between the threads of one process, no NCCL."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from ..dit import (
    SpeedOptions,
    attention,
    block_finish,
    block_modulation,
    get_speed_options,
    head_forward,
    patch_tokens,
    self_attn_qkv,
    time_modulation,
    unpatchify,
)
from ..sampler import Denoiser
from .denoisers import Prompts, RopeCache, on_device


class _Exchange:
    """All-to-all between the threads of one process: each rank posts a list (one entry per rank),
    then takes its entries from everyone, copied to its device (torch orders cross-device copies
    against both devices' streams, so no host sync is needed)."""

    def __init__(self, n: int):
        self.n = n
        self.barrier = threading.Barrier(n)
        self.slots: list = [None] * n

    def all_to_all(self, rank: int, parts: list, device: torch.device) -> list:
        self.slots[rank] = parts
        self.barrier.wait()
        got = [tuple(t.to(device) for t in self.slots[src][rank]) for src in range(self.n)]
        self.barrier.wait()  # nobody posts the next exchange before everyone has read this one
        return got


def _bounds(n: int, parts: int) -> list[int]:
    return [round(i * n / parts) for i in range(parts + 1)]


def split_forward(dits: list[torch.nn.Module], devices: list[torch.device], x: torch.Tensor, timesteps: torch.Tensor,
                  contexts: list[torch.Tensor], ropes: list[RopeCache], pool: ThreadPoolExecutor,
                  speed: SpeedOptions) -> torch.Tensor:
    """One DiT pass with every frame's token rows divided between the devices (Ulysses-style)."""
    n = len(devices)
    dev0 = devices[0]
    grid = patch_tokens(dits[0], x)  # [B, gf, gh, gw, dim] on devices[0]
    b, gf, gh, gw, dim = grid.shape
    rows = _bounds(gh, n)
    mod = time_modulation(dits[0], timesteps, x.dtype)
    heads = dits[0].blocks[0].self_attn.num_heads
    hb = _bounds(heads, n)
    tokens = [gf * (rows[r + 1] - rows[r]) * gw for r in range(n)]
    seg = [0, *itertools.accumulate(tokens)]
    ex = _Exchange(n)

    def rank(r: int) -> torch.Tensor:
        dev, dit = devices[r], dits[r]
        try:
            with torch.no_grad(), on_device(dev):
                xr = grid[:, :, rows[r]:rows[r + 1]].reshape(b, -1, dim).to(dev)
                m = mod.to(dev)
                ctx = contexts[r]
                rope = ropes[r].get((gf, gh, gw), dev, (rows[r], rows[r + 1]))
                for block in dit.blocks:
                    bm = block_modulation(block, m.t_mod)
                    q, k, v = self_attn_qkv(block, xr, bm, rope, gf, speed)
                    got = ex.all_to_all(r, [(q[:, :, hb[j]:hb[j + 1]], k[:, :, hb[j]:hb[j + 1]],
                                             v[:, :, hb[j]:hb[j + 1]]) for j in range(n)], dev)
                    qa, ka, va = (torch.cat([g[i] for g in got], dim=1) for i in range(3))
                    if hb[r + 1] > hb[r]:
                        o = attention(qa, ka, va, speed).view(b, seg[-1], hb[r + 1] - hb[r], qa.shape[-1])
                    else:  # more ranks than heads: this rank has no heads to attend
                        o = qa.new_empty(b, seg[-1], 0, qa.shape[-1])
                    back = ex.all_to_all(r, [(o[:, seg[j]:seg[j + 1]],) for j in range(n)], dev)
                    out = torch.cat([g[0] for g in back], dim=2).flatten(2)
                    xr = block_finish(block, xr, out, ctx, bm, gf, speed)
                return head_forward(dit, xr, m.e, gf)
        except BaseException:
            ex.barrier.abort()  # wake the other ranks instead of leaving them waiting forever
            raise

    jobs = [pool.submit(rank, r) for r in range(1, n)]
    try:
        out0 = rank(0)
    finally:
        outs = [j.result() for j in jobs]
    parts = [o.to(dev0).view(b, gf, rows[r + 1] - rows[r], gw, -1) for r, o in enumerate([out0] + outs)]
    out = torch.cat(parts, dim=2).reshape(b, gf * gh * gw, -1)
    return unpatchify(dits[0], out, (gf, gh, gw))


def sequence_split_denoiser(dits: list[torch.nn.Module], devices: list[torch.device], prompts: Prompts, cfg: float,
                            pool: ThreadPoolExecutor, speed: SpeedOptions | None = None) -> Denoiser:
    """Every pass split over the devices; with CFG the two passes run one after the other."""
    pos = [prompts.positive.to(d) for d in devices]
    neg = None if prompts.negative is None else [prompts.negative.to(d) for d in devices]
    ropes = [RopeCache(d) for d in dits]

    def denoise(x: torch.Tensor, timesteps: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        sp = speed or get_speed_options()
        v = split_forward(dits, devices, x, timesteps, pos, ropes, pool, sp).float()
        if neg is None:
            return v
        v_uncond = split_forward(dits, devices, x, timesteps, neg, ropes, pool, sp).float()
        return v_uncond + cfg * (v - v_uncond)

    return denoise
