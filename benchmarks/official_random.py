"""A full-size Wan2.1-T2V-14B folder of random weights in the official layout, written on the machine that
benchmarks it: six bf16 DiT shards + index + config.json, the umt5-xxl `.pth` (bf16), the VAE `.pth`, the
tokenizer folder, and a rank-512 PEFT Pusa LoRA `pusa_v1.pt` (bf16, about 4.9 GB). About 45 GB on disk.

Values are random (they do not change the cost); the files go through exactly the loader, validator and
LoRA code that the user's files take. Tensors are made on the GPU when there is one and written one shard
(or file) at a time; a marker file says the folder is complete, so a second run reuses it.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from pusa_engine.demo_model import LORA_TARGETS
from pusa_engine.model_files import TOKENIZER_DIR, WAN_14B_CONFIG, DiTConfig
from pusa_engine.networks import T5Dims, VAEDims, build_dit, build_text_encoder, build_vae_network
from pusa_engine.official_layout import write_config, write_dit_shards, write_text_encoder, write_tokenizer, write_vae

from .common import T5_XXL

MARKER = ".bench-folder-complete"
MODEL_DIR = "Wan2.1-T2V-14B-random"
LORA_FILE = "pusa_v1.pt"
VAE_FULL = VAEDims(dim=96, num_res_blocks=2)


def _gen(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device).manual_seed(seed)


def _random(shape, g: torch.Generator, device: torch.device, std: float) -> torch.Tensor:
    return torch.randn(shape, generator=g, device=device, dtype=torch.float32).mul_(std).to(torch.bfloat16)


def write_lora(path: Path, config: DiTConfig, rank: int, device: torch.device) -> int:
    """A PEFT LoRA over every block's attention and FFN linears, keyed as pusa_v1.pt; returns bytes."""
    dit = build_dit(config)  # meta: names and shapes only
    g = _gen(device, 7)
    state = {}
    for name, module in dit.named_modules():
        if isinstance(module, torch.nn.Linear) and name.startswith("blocks.") and name.endswith(LORA_TARGETS):
            out_f, in_f = module.weight.shape
            key = f"diffusion_model.{name}"
            state[f"{key}.lora_A.default.weight"] = _random((rank, in_f), g, device, in_f ** -0.5).cpu()
            state[f"{key}.lora_B.default.weight"] = _random((out_f, rank), g, device, 0.002).cpu()
    torch.save(state, path)
    return sum(t.numel() * t.element_size() for t in state.values())


def write_t5(model_dir: Path, dims: T5Dims, device: torch.device) -> int:
    net = build_text_encoder(dims)  # meta
    g = _gen(device, 1)
    state = {}
    for k, v in net.state_dict().items():
        shape = tuple(v.shape)
        if "norm" in k and k.endswith("weight"):
            state[k] = torch.ones(shape, dtype=torch.bfloat16)
        else:
            state[k] = _random(shape, g, device, shape[-1] ** -0.5 if len(shape) >= 2 else 0.02).cpu()
    write_text_encoder(model_dir, state)
    return sum(t.numel() * t.element_size() for t in state.values())


def write_folder(root: Path, device: torch.device | None = None, config: DiTConfig = WAN_14B_CONFIG,
                 t5: T5Dims = T5_XXL, vae: VAEDims = VAE_FULL, lora_rank: int = 512,
                 vocab: int | None = None) -> tuple[Path, Path, dict[str, float]]:
    """(model folder, LoRA file, seconds and GB written per part); reused when already complete."""
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    root = Path(root)
    model_dir, lora = root / MODEL_DIR, root / LORA_FILE
    if (root / MARKER).exists():
        return model_dir, lora, {"reused": 1.0}
    model_dir.mkdir(parents=True, exist_ok=True)
    stats: dict[str, float] = {}

    def part(name: str, fn) -> None:
        t0 = time.perf_counter()
        nbytes = fn()
        stats[f"{name}_s"] = round(time.perf_counter() - t0, 2)
        stats[f"{name}_gb"] = round(nbytes / 1e9, 2)
        print(f"wrote {name}: {nbytes / 1e9:.1f} GB in {stats[f'{name}_s']:.1f} s", flush=True)

    write_config(model_dir, config)
    shapes = {k: tuple(v.shape) for k, v in build_dit(config).state_dict().items()}
    g = _gen(device, 0)

    def dit_tensor(k: str) -> torch.Tensor:
        shape = shapes[k]
        std = shape[-1] ** -0.5 if len(shape) >= 2 else 0.02
        return _random(shape, g, device, std)

    part("dit", lambda: write_dit_shards(model_dir, shapes, dit_tensor, 6, torch.bfloat16))
    part("t5", lambda: write_t5(model_dir, t5, device))

    def vae_file() -> int:
        torch.manual_seed(2)
        state = build_vae_network(vae, "cpu").state_dict()
        write_vae(model_dir, state)
        return sum(t.numel() * t.element_size() for t in state.values())

    part("vae", vae_file)
    write_tokenizer(model_dir / TOKENIZER_DIR, vocab or t5.vocab)
    part("lora", lambda: write_lora(lora, config, lora_rank, device))
    (root / MARKER).write_text("1")
    return model_dir, lora, stats
