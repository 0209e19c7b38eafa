"""What the four-step and Wan2.2 benchmarks share: random full-size models and LoRAs built on the device,
and one whole job (text, keyframe, denoise, decode) through the engine's DiT set, sampler and plan."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pusa_engine.model_files import WAN_14B_CONFIG

from .common import (
    PROMPT,
    T5_XXL,
    TINY_DIT,
    TINY_T5,
    GiB,
    peak_gib,
    random_dit,
    random_text_encoder,
    random_vae,
    reset_peak,
    sync,
    tokenizer,
)

LORA_TARGETS = ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
                "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2")


def devices_of(args) -> list[torch.device]:
    """The benchmark's devices: --plan-devices (e.g. cuda:0,cuda:1), else --device."""
    spec = args.plan_devices or args.device
    return [torch.device(d) for d in spec.split(",")]


def plan_for(devices: list[torch.device], dtype: torch.dtype):
    """One device: its plan; two: CFG-parallel (the sequence split when CFG = 1), as "auto" picks on two GPUs."""
    from pusa_engine.plans import make_plan

    if len(devices) == 1:
        return make_plan("gpu" if devices[0].type == "cuda" else "cpu", devices, dtype)
    return make_plan("cfg-parallel", devices, dtype)


@torch.no_grad()
def random_lora(dit: torch.nn.Module, rank: int, seed: int, kohya: bool = False,
                device: torch.device | None = None) -> dict[str, torch.Tensor]:
    """Random factors for the Pusa LoRA's targets (PEFT keys), or LightX2V's (kohya keys, alpha = rank), built
    on `device` (default: the DiT's) in the DiT's dtype; the values do not change the cost."""
    out: dict[str, torch.Tensor] = {}
    first = next(dit.parameters())
    device = device or first.device
    g = torch.Generator(device).manual_seed(seed)
    for name, module in dit.named_modules():
        if not (isinstance(module, torch.nn.Linear) and name.startswith("blocks.") and name.endswith(LORA_TARGETS)):
            continue
        out_f, in_f = module.weight.shape
        down = torch.randn(rank, in_f, generator=g, device=device, dtype=first.dtype) * in_f ** -0.5
        up = torch.randn(out_f, rank, generator=g, device=device, dtype=first.dtype) * 1e-3
        if kohya:
            out[f"diffusion_model.{name}.lora_down.weight"] = down
            out[f"diffusion_model.{name}.lora_up.weight"] = up
            out[f"diffusion_model.{name}.alpha"] = torch.tensor(float(rank))
        else:
            out[f"diffusion_model.{name}.lora_A.weight"] = down
            out[f"diffusion_model.{name}.lora_B.weight"] = up
    return out


def make_expert(args, seed: int):
    """`make(expert, device, pin)` for DiTSet.place: a random DiT built on the first GPU (fast), then moved
    tensor by tensor to (pinned) CPU memory when the plan keeps it there."""
    from pusa_engine.pinned import PinnedArena

    config = TINY_DIT if args.tiny else WAN_14B_CONFIG
    build_on = devices_of(args)[0]

    def make(expert, device: torch.device, pin: bool) -> torch.nn.Module:
        dit = random_dit(config, build_on, torch.bfloat16 if not args.float32 else torch.float32,
                         seed=seed + {"dit": 0, "high": 1, "low": 2}.get(expert.name, 0))
        if device != build_on:
            arena = PinnedArena() if pin else None
            for p in dit.parameters():
                p.data = arena.copy(p.data) if arena is not None else p.data.to(device, copy=True)
            if build_on.type == "cuda":
                torch.cuda.empty_cache()
        return dit

    return make


@dataclass
class Shared:
    """The text encoder, VAE and tokenizer of a job (random, full size unless --tiny)."""

    text_encoder: torch.nn.Module
    vae: object
    tokenizer: object
    tmp: Path

    @classmethod
    def build(cls, args, plan) -> Shared:
        import tempfile

        dtype = plan.dtype
        t5 = random_text_encoder(TINY_T5 if args.tiny else T5_XXL, plan.text_device, dtype)
        vae = random_vae(plan.vae_device, dtype, args.tiny)
        tmp = Path(tempfile.mkdtemp(prefix="pusa-bench-"))
        return cls(t5, vae, tokenizer(tmp / "tok"), tmp)

    def encode(self, text: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        dev = next(self.text_encoder.parameters()).device
        ids, mask = self.tokenizer(text, return_mask=True, add_special_tokens=True)
        emb = self.text_encoder(ids.to(dev), mask.to(dev))
        emb[:, int(mask.sum()):] = 0
        return emb.to(device, dtype)


@dataclass
class JobTimes:
    phases: dict[str, float] = field(default_factory=dict)
    steps: list[float] = field(default_factory=list)
    experts: list[int] = field(default_factory=list)
    peak_gib: dict[str, float] = field(default_factory=dict)
    total: float = 0.0


@torch.no_grad()
def run_job(dits, plan, shared: Shared, width: int, height: int, frames: int, steps: int, cfg: float,
            boundary: float | None = None) -> tuple[JobTimes, torch.Tensor]:
    """One I2V job (a keyframe at slot 0, m 0.2) timed phase by phase, as the engine runs it."""
    from pusa_engine.request import WAN_NEGATIVE_PROMPT
    from pusa_engine.sampler import Conditioning, sample
    from pusa_engine.schedules import ShiftedSchedule
    from pusa_engine.vae_ops import decode_latents, encode_video

    devs = sorted(set(plan.dit_devices), key=str)
    d0, dtype = plan.dit_devices[0], plan.dtype
    times = JobTimes()
    reset_peak(devs)
    start = time.perf_counter()
    pos = shared.encode(PROMPT, d0, dtype)
    neg = shared.encode(WAN_NEGATIVE_PROMPT, d0, dtype) if cfg != 1 else None
    sync(d0)
    times.phases["text"] = time.perf_counter() - start
    g = torch.Generator().manual_seed(0)
    image = (torch.rand(1, 3, 1, height, width, generator=g) * 2 - 1).to(plan.vae_device, dtype)
    t0 = time.perf_counter()
    z = encode_video(shared.vae, image)
    conds = [Conditioning(0, z[:, :, 0].to(d0), 0.2)]
    sync(d0)
    times.phases["keyframe"] = time.perf_counter() - t0
    shape = dits.family.geometry.latent_shape(width, height, frames)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(42)).to(d0)
    denoise = dits.denoiser(cfg, pos, neg, boundary)
    prev = [time.perf_counter()]

    def on_step(info) -> None:
        info.clean_estimate().float().mean().item()  # the engine's preview waits for the step the same way
        now = time.perf_counter()
        times.steps.append(now - prev[0])
        prev[0] = now

    t0 = prev[0] = time.perf_counter()
    result = sample(denoise, noise, conds, ShiftedSchedule(steps), dtype, on_step=on_step)
    for d in devs:
        sync(d)
    times.phases["denoise"] = time.perf_counter() - t0
    times.experts = list(denoise.ran)
    t0 = time.perf_counter()
    decode_latents(shared.vae, result.latents)
    sync(plan.vae_device)
    times.phases["decode"] = time.perf_counter() - t0
    times.total = time.perf_counter() - start
    times.peak_gib = peak_gib(devs)
    return times, result.latents


def resident_gib(devices) -> dict[str, float]:
    return {str(d): round(torch.cuda.memory_allocated(d) / GiB, 1) for d in devices if d.type == "cuda"}


def rss_gib() -> float | None:
    try:
        import psutil

        return psutil.Process().memory_info().rss / GiB
    except ImportError:
        return None
