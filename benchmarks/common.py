"""What every benchmark stage shares: random-weight models built on the device, timing, memory peaks,
the environment line, and number formatting."""

from __future__ import annotations

import datetime
import gc
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from pusa_engine.model_files import DiTConfig
from pusa_engine.networks import T5Dims, VAEDims, build_dit, build_text_encoder, build_vae_network, wan_vae_with_network
from pusa_engine.official_layout import write_tokenizer

T5_XXL = T5Dims(vocab=256384, dim=4096, dim_attn=4096, dim_ffn=10240, num_heads=64, num_layers=24, num_buckets=32)
TINY_DIT = DiTConfig(dim=256, ffn_dim=512, freq_dim=256, in_dim=16, out_dim=16, num_heads=8, num_layers=2, eps=1e-6,
                     text_dim=64)
TINY_T5 = T5Dims(vocab=384, dim=64, dim_attn=64, dim_ffn=128, num_heads=2, num_layers=2, num_buckets=32)
PROMPT = ("A golden retriever runs along a beach at sunset, waves rolling in, camera tracking at low height, "
          "cinematic light, shallow depth of field")
GiB = 2**30


# ---- models with random weights, built directly on the device ------------------------------------------
@torch.no_grad()
def _init_random(model: torch.nn.Module, seed: int) -> None:
    gen_dev = next(model.parameters()).device
    g = torch.Generator(gen_dev).manual_seed(seed)
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            fan_in = p[0].numel()
            p.normal_(0.0, fan_in ** -0.5, generator=g)
        elif "norm" in name and name.endswith("weight"):
            p.fill_(1.0)
        else:
            p.normal_(0.0, 0.02, generator=g)


def random_dit(config: DiTConfig, device: torch.device, dtype: torch.dtype, seed: int = 0):
    model = build_dit(config, "meta").to(dtype).to_empty(device=device)
    _init_random(model, seed)
    return model


def random_text_encoder(dims: T5Dims, device: torch.device, dtype: torch.dtype, seed: int = 1):
    model = build_text_encoder(dims, "meta").to(dtype).to_empty(device=device)
    _init_random(model, seed)
    return model


def random_vae(device: torch.device, dtype: torch.dtype, tiny: bool, seed: int = 2):
    from diffsynth.models.wan_video_vae import WanVideoVAE

    torch.manual_seed(seed)
    if tiny:
        vae = wan_vae_with_network(build_vae_network(VAEDims(dim=8, num_res_blocks=1), "cpu"))
    else:
        vae = WanVideoVAE(z_dim=16)  # the full-size network, default init
    vae.model.to(device, dtype)
    return vae.eval().requires_grad_(False)


def tokenizer(folder: Path):
    from diffsynth.models.wan_video_text_encoder import HuggingfaceTokenizer

    write_tokenizer(folder, 384)
    return HuggingfaceTokenizer(name=str(folder), seq_len=512, clean="whitespace")


# ---- timing ---------------------------------------------------------------------------------------------
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device):
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


def median_time(fn, device: torch.device, reps: int, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        timed(fn, device)
    times = [timed(fn, device)[0] for _ in range(reps)]
    return statistics.median(times), times


def reset_peak(devices) -> None:
    for d in devices:
        if d.type == "cuda":
            torch.cuda.reset_peak_memory_stats(d)


def peak_gib(devices) -> dict[str, float]:
    return {str(d): torch.cuda.max_memory_allocated(d) / GiB for d in devices if d.type == "cuda"}


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---- sizes and numbers ---------------------------------------------------------------------------------
@dataclass
class Size:
    name: str
    width: int
    height: int
    frames: int
    steps: int


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 0.01 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.2f}"
    return str(v)


def env_info(device: torch.device) -> dict:
    try:
        from importlib.metadata import version

        import diffsynth  # noqa: F401

        ds = version("diffsynth")
    except Exception:  # noqa: BLE001
        ds = "?"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "diffsynth": ds, "python": platform.python_version(),
        "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0,
    }

