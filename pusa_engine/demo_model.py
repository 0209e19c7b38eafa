"""A tiny random-weight Wan2.1-T2V model and Pusa LoRA, written in the official file layout.

Its videos are noise; it exists so every feature runs on a laptop CPU in seconds, and so tests load
models through exactly the code path that real files take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .model_files import DiTConfig
from .networks import T5Dims, VAEDims, build_dit, build_text_encoder, build_vae_network
from .official_layout import write_model_folder

DEMO_MODEL_DIR = "Wan2.1-T2V-demo"
DEMO_LORA_FILE = "pusa_v1_demo.pt"
LORA_TARGETS = ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
                "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2")


@dataclass(frozen=True)
class DemoSizes:
    dit: DiTConfig = field(default_factory=lambda: DiTConfig(
        dim=64, ffn_dim=128, freq_dim=256, in_dim=16, out_dim=16, num_heads=2, num_layers=2, eps=1e-6,
        text_dim=32))
    t5: T5Dims = field(default_factory=lambda: T5Dims(
        vocab=384, dim=32, dim_attn=32, dim_ffn=64, num_heads=2, num_layers=2, num_buckets=32))
    vae: VAEDims = field(default_factory=lambda: VAEDims(dim=8, num_res_blocks=1))
    lora_rank: int = 8
    dit_shards: int = 2


def write_demo_model(root: Path, seed: int = 0, sizes: DemoSizes | None = None) -> tuple[Path, Path]:
    """Write `root/Wan2.1-T2V-demo/` and `root/pusa_v1_demo.pt`; returns (model_dir, lora_path)."""
    sizes = sizes or DemoSizes()
    model_dir = root / DEMO_MODEL_DIR
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dit = build_dit(sizes.dit, device="cpu")
        t5 = build_text_encoder(sizes.t5, device="cpu")
        vae = build_vae_network(sizes.vae, device="cpu")
        write_model_folder(model_dir, sizes.dit, dit.state_dict(), t5.state_dict(), vae.state_dict(),
                           sizes.t5.vocab, sizes.dit_shards)
        lora_path = root / DEMO_LORA_FILE
        torch.save(_random_lora(dit, sizes.lora_rank), lora_path)
    return model_dir, lora_path


def ensure_demo_model(cache_dir: Path) -> tuple[Path, Path]:
    """The demo model under cache_dir, written once (a marker file says it is complete)."""
    cache_dir = Path(cache_dir)
    marker = cache_dir / ".demo-model-complete"
    model_dir, lora = cache_dir / DEMO_MODEL_DIR, cache_dir / DEMO_LORA_FILE
    if not marker.exists():
        write_demo_model(cache_dir)
        marker.write_text("1")
    return model_dir, lora


def _random_lora(dit: torch.nn.Module, rank: int) -> dict[str, torch.Tensor]:
    """PEFT-keyed factors (with the `diffusion_model.` prefix and `.default`, as in pusa_v1.pt)."""
    out = {}
    for name, module in dit.named_modules():
        if isinstance(module, torch.nn.Linear) and name.startswith("blocks.") and name.endswith(LORA_TARGETS):
            out_f, in_f = module.weight.shape
            out[f"diffusion_model.{name}.lora_A.default.weight"] = torch.randn(rank, in_f) / in_f**0.5
            out[f"diffusion_model.{name}.lora_B.default.weight"] = torch.randn(out_f, rank) * 0.02
    return out
