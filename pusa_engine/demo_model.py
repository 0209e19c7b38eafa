"""Tiny random-weight models of both families with their Pusa LoRAs and a step-distillation LoRA, written in
the official file layouts.

Their videos are noise; they exist so every feature runs on a laptop CPU in seconds, and so tests load
models through exactly the code path that real files take.

- Wan2.1: `DIR/Wan2.1-T2V-demo/`, `DIR/pusa_v1_demo.pt` (PEFT keys, as pusa_v1.pt) and
  `DIR/lightx2v_demo.safetensors` (kohya `lora_unet_...` keys with alpha entries).
- Wan2.2-A14B: `DIR/Wan2.2-T2V-A14B-demo/` (two experts), `DIR/high_noise_pusa_demo.safetensors`,
  `DIR/low_noise_pusa_demo.safetensors`, `DIR/lightx2v_high_demo.safetensors` and
  `DIR/lightx2v_low_demo.safetensors` (dotted kohya keys with alpha entries, as LightX2V's files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file

from .families import WAN21, WAN22, ModelFamily, family_named
from .lora_specs import DEMO_LIGHTX2V_FILE
from .model_files import DiTConfig
from .networks import T5Dims, VAEDims, build_dit, build_text_encoder, build_vae_network
from .official_layout import write_experts_folder, write_model_folder

DEMO_MODEL_DIR = "Wan2.1-T2V-demo"
DEMO_LORA_FILE = "pusa_v1_demo.pt"
DEMO_22_MODEL_DIR = "Wan2.2-T2V-A14B-demo"
DEMO_22_LORA_FILES = {"high": "high_noise_pusa_demo.safetensors", "low": "low_noise_pusa_demo.safetensors"}
DEMO_22_LIGHTX2V_FILES = {"high": "lightx2v_high_demo.safetensors", "low": "lightx2v_low_demo.safetensors"}
LORA_TARGETS = ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
                "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2")
_COMPLETE = ".demo-model-complete-2"  # the marker of a complete demo folder (2: with the LightX2V LoRA)


@dataclass(frozen=True)
class DemoSizes:
    dit: DiTConfig = field(default_factory=lambda: DiTConfig(
        dim=64, ffn_dim=128, freq_dim=256, in_dim=16, out_dim=16, num_heads=2, num_layers=2, eps=1e-6,
        text_dim=32))
    t5: T5Dims = field(default_factory=lambda: T5Dims(
        vocab=384, dim=32, dim_attn=32, dim_ffn=64, num_heads=2, num_layers=2, num_buckets=32))
    vae: VAEDims = field(default_factory=lambda: VAEDims(dim=8, num_res_blocks=1))
    lora_rank: int = 8
    lightx2v_rank: int = 4
    dit_shards: int = 2


@dataclass(frozen=True)
class DemoFiles:
    """What a demo folder holds: the model folder, each expert's Pusa LoRA and LightX2V LoRA."""

    family: ModelFamily
    model_dir: Path
    loras: dict[str, Path]  # expert name -> Pusa LoRA ("dit" for Wan2.1)
    lightx2v: dict[str, Path]  # expert name -> LightX2V LoRA

    @property
    def lora(self) -> Path:
        """The Pusa LoRA of the first expert (Wan2.1's only one)."""
        return self.loras[self.family.expert_names[0]]


def write_demo_model(root: Path, seed: int = 0, sizes: DemoSizes | None = None) -> tuple[Path, Path]:
    """Write the Wan2.1 demo (`root/Wan2.1-T2V-demo/`, `root/pusa_v1_demo.pt`, `root/lightx2v_demo.safetensors`);
    returns (model_dir, lora_path)."""
    files = write_demo_files(root, "wan2.1", seed, sizes)
    return files.model_dir, files.lora


def write_demo_files(root: Path, family: str = "wan2.1", seed: int = 0, sizes: DemoSizes | None = None) -> DemoFiles:
    fam = family_named(family)
    sizes = sizes or DemoSizes()
    root = Path(root)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if fam is WAN21:
            files = _write_wan21(root, sizes)
        else:
            files = _write_wan22(root, sizes)
    return files


def _write_wan21(root: Path, sizes: DemoSizes) -> DemoFiles:
    model_dir = root / DEMO_MODEL_DIR
    dit = build_dit(sizes.dit, device="cpu")
    t5 = build_text_encoder(sizes.t5, device="cpu")
    vae = build_vae_network(sizes.vae, device="cpu")
    write_model_folder(model_dir, sizes.dit, dit.state_dict(), t5.state_dict(), vae.state_dict(),
                       sizes.t5.vocab, sizes.dit_shards)
    lora_path = root / DEMO_LORA_FILE
    torch.save(_random_lora(dit, sizes.lora_rank), lora_path)
    lightx2v = root / DEMO_LIGHTX2V_FILE
    save_file(_random_kohya_lora(dit, sizes.lightx2v_rank, flat=True), str(lightx2v))
    return DemoFiles(WAN21, model_dir, {"dit": lora_path}, {"dit": lightx2v})


def _write_wan22(root: Path, sizes: DemoSizes) -> DemoFiles:
    model_dir = root / DEMO_22_MODEL_DIR
    dits = {e.name: build_dit(sizes.dit, device="cpu") for e in WAN22.experts}
    t5 = build_text_encoder(sizes.t5, device="cpu")
    vae = build_vae_network(sizes.vae, device="cpu")
    write_experts_folder(model_dir, {e.subfolder: (sizes.dit, dits[e.name].state_dict()) for e in WAN22.experts},
                         t5.state_dict(), vae.state_dict(), sizes.t5.vocab, sizes.dit_shards)
    loras, lightx2v = {}, {}
    for name, dit in dits.items():
        loras[name] = root / DEMO_22_LORA_FILES[name]
        save_file(_random_lora(dit, sizes.lora_rank, peft_default=False), str(loras[name]))
    for name, dit in dits.items():
        lightx2v[name] = root / DEMO_22_LIGHTX2V_FILES[name]
        save_file(_random_kohya_lora(dit, sizes.lightx2v_rank, flat=False), str(lightx2v[name]))
    return DemoFiles(WAN22, model_dir, loras, lightx2v)


def ensure_demo_model(cache_dir: Path) -> tuple[Path, Path]:
    """The Wan2.1 demo model under cache_dir, written once (a marker file says it is complete)."""
    cache_dir = Path(cache_dir)
    marker = cache_dir / _COMPLETE
    model_dir, lora = cache_dir / DEMO_MODEL_DIR, cache_dir / DEMO_LORA_FILE
    if not marker.exists():
        write_demo_model(cache_dir)
        marker.write_text("1")
    return model_dir, lora


def demo_lightx2v(cache_dir: Path) -> Path:
    """The Wan2.1 demo's LightX2V LoRA (the demo model is written first when missing)."""
    ensure_demo_model(cache_dir)
    return Path(cache_dir) / DEMO_LIGHTX2V_FILE


def _lora_modules(dit: torch.nn.Module):
    for name, module in dit.named_modules():
        if isinstance(module, torch.nn.Linear) and name.startswith("blocks.") and name.endswith(LORA_TARGETS):
            yield name, module


def _random_lora(dit: torch.nn.Module, rank: int, peft_default: bool = True) -> dict[str, torch.Tensor]:
    """PEFT-keyed factors with the `diffusion_model.` prefix (and `.default`, as in pusa_v1.pt)."""
    out = {}
    part = ".default" if peft_default else ""
    for name, module in _lora_modules(dit):
        out_f, in_f = module.weight.shape
        out[f"diffusion_model.{name}.lora_A{part}.weight"] = (torch.randn(rank, in_f) / in_f**0.5).contiguous()
        out[f"diffusion_model.{name}.lora_B{part}.weight"] = (torch.randn(out_f, rank) * 0.02).contiguous()
    return out


def _random_kohya_lora(dit: torch.nn.Module, rank: int, flat: bool) -> dict[str, torch.Tensor]:
    """kohya-keyed factors with an alpha entry (alpha_file / rank = 0.5): `lora_unet_blocks_0_...` when
    `flat`, else the dotted `diffusion_model.blocks.0....` names of LightX2V's files."""
    out = {}
    for name, module in _lora_modules(dit):
        out_f, in_f = module.weight.shape
        key = f"lora_unet_{name.replace('.', '_')}" if flat else f"diffusion_model.{name}"
        out[f"{key}.lora_down.weight"] = (torch.randn(rank, in_f) / in_f**0.5).contiguous()
        out[f"{key}.lora_up.weight"] = (torch.randn(out_f, rank) * 0.02).contiguous()
        out[f"{key}.alpha"] = torch.tensor(rank / 2.0)
    return out
