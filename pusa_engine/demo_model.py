"""A tiny random-weight Wan2.1-T2V model and Pusa LoRA, written in the official file layout.

Its videos are noise; it exists so every feature runs on a laptop CPU in seconds, and so tests load
models through exactly the code path that real files take.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file

from .model_files import (
    CONFIG_FILE,
    DIT_INDEX_FILE,
    T5_FILE,
    TOKENIZER_DIR,
    VAE_FILE,
    DiTConfig,
)
from .networks import T5Dims, VAEDims, build_dit, build_text_encoder, build_vae_network

DEMO_MODEL_DIR = "Wan2.1-T2V-demo"
DEMO_LORA_FILE = "pusa_v1_demo.pt"
LORA_TARGETS = ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
                "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2")

_WORDS = (
    "a the of and in on with at to from by for is are was were be it its this that over under near far "
    "cat dog bird fish horse person man woman child car boat train plane tree flower grass sky sun moon "
    "star cloud rain snow water sea river lake mountain hill city street house room window door road "
    "red green blue yellow white black orange purple pink brown gray golden silver bright dark light "
    "walks runs jumps flies swims dances sits stands looks turns moves falls rises glows shines waves "
    "slow fast slowly quickly gently softly camera shot close wide view scene video frame motion style "
    "cinematic realistic painting cartoon anime photo night day morning evening sunset sunrise winter "
    "summer spring autumn forest desert beach ocean field garden park bridge tower castle space planet "
    "quality low high worst best blurry blurred static still ugly deformed extra fingers hands faces "
    "background people three legs walking backwards overexposed subtitles gray jpeg compression"
).split()


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
    model_dir.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dit = build_dit(sizes.dit, device="cpu")
        _write_config(model_dir, sizes.dit)
        _write_sharded_dit(model_dir, dit.state_dict(), sizes.dit_shards)
        t5 = build_text_encoder(sizes.t5, device="cpu")
        torch.save({k: v.to(torch.bfloat16) for k, v in t5.state_dict().items()}, model_dir / T5_FILE)
        vae = build_vae_network(sizes.vae, device="cpu")
        torch.save(vae.state_dict(), model_dir / VAE_FILE)
        _write_tokenizer(model_dir / TOKENIZER_DIR, sizes.t5.vocab)
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


def _write_config(model_dir: Path, cfg: DiTConfig) -> None:
    config = {
        "_class_name": "WanModel", "_diffusers_version": "0.30.0", "model_type": "t2v",
        "dim": cfg.dim, "ffn_dim": cfg.ffn_dim, "freq_dim": cfg.freq_dim, "in_dim": cfg.in_dim,
        "out_dim": cfg.out_dim, "num_heads": cfg.num_heads, "num_layers": cfg.num_layers, "eps": cfg.eps,
        "text_len": cfg.text_len,
    }
    (model_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2))


def _write_sharded_dit(model_dir: Path, state: dict[str, torch.Tensor], n_shards: int) -> None:
    """fp32 shards plus index, named as on the hub."""
    keys = sorted(state)
    per = -(-len(keys) // n_shards)
    weight_map, total = {}, 0
    for i in range(n_shards):
        name = f"diffusion_pytorch_model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {k: state[k].float().contiguous() for k in keys[i * per:(i + 1) * per]}
        save_file(part, str(model_dir / name), metadata={"format": "pt"})
        for k, v in part.items():
            weight_map[k] = name
            total += v.numel() * v.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (model_dir / DIT_INDEX_FILE).write_text(json.dumps(index, indent=2))


def _write_tokenizer(folder: Path, vocab_size: int) -> None:
    """A word-level tokenizer with T5's special ids (pad 0, eos 1, unk 2) and ids below vocab_size."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789,.!?'-")
    for token in letters + list(dict.fromkeys(_WORDS)):
        if token not in vocab and len(vocab) < vocab_size:
            vocab[token] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    config = {
        # transformers 5 writes TokenizersBackend, which 4.x cannot read; this loads under both.
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512,
        "pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>", "padding_side": "right",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}, indent=2))


def _random_lora(dit: torch.nn.Module, rank: int) -> dict[str, torch.Tensor]:
    """PEFT-keyed factors (with the `diffusion_model.` prefix and `.default`, as in pusa_v1.pt)."""
    out = {}
    for name, module in dit.named_modules():
        if isinstance(module, torch.nn.Linear) and name.startswith("blocks.") and name.endswith(LORA_TARGETS):
            out_f, in_f = module.weight.shape
            out[f"diffusion_model.{name}.lora_A.default.weight"] = torch.randn(rank, in_f) / in_f**0.5
            out[f"diffusion_model.{name}.lora_B.default.weight"] = torch.randn(out_f, rank) * 0.02
    return out
