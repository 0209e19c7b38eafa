"""Writes a Wan model folder in the official file layout, at any size.

The layout, as released: `config.json`, the DiT as sharded safetensors (`diffusion_pytorch_model-0000N-of-
0000M.safetensors`) plus their index, the umt5 text encoder as a bf16 `.pth`, the VAE as a `.pth`, and the
tokenizer folder `google/umt5-xxl/`; Wan2.2-A14B puts each expert's config and shards in a subfolder
(`write_experts_folder`). The demo models write whole folders of tiny networks; the benchmark writes the 14B
DiT's shards from random tensors, one shard in memory at a time (`write_config` + `write_dit_shards`), and a
tokenizer (`write_tokenizer`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from safetensors.torch import save_file

from .model_files import CONFIG_FILE, DIT_INDEX_FILE, T5_FILE, TOKENIZER_DIR, VAE_FILE, DiTConfig

# The words a written tokenizer knows (besides letters and digits): enough for prompts in tests and demos.
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


def write_model_folder(model_dir: Path, config: DiTConfig, dit_state: Mapping[str, torch.Tensor],
                       t5_state: Mapping[str, torch.Tensor], vae_state: Mapping[str, torch.Tensor],
                       vocab_size: int, dit_shards: int = 2) -> Path:
    """The whole folder from the three networks' weights: DiT in fp32 shards (as on the hub), text
    encoder in bf16, VAE as given, and a tokenizer whose ids stay below `vocab_size`."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    write_config(model_dir, config)
    write_dit_shards(model_dir, {k: v.shape for k, v in dit_state.items()}, lambda k: dit_state[k], dit_shards)
    write_text_encoder(model_dir, t5_state)
    write_vae(model_dir, vae_state)
    write_tokenizer(model_dir / TOKENIZER_DIR, vocab_size)
    return model_dir


def write_experts_folder(model_dir: Path, experts: Mapping[str, tuple[DiTConfig, Mapping[str, torch.Tensor]]],
                         t5_state: Mapping[str, torch.Tensor], vae_state: Mapping[str, torch.Tensor], vocab_size: int,
                         dit_shards: int = 2) -> Path:
    """A Wan2.2-A14B folder: each expert's `config.json` and shards in its subfolder ({"high_noise_model":
    (config, weights), ...}), and the text encoder, VAE and tokenizer shared at the top."""
    model_dir = Path(model_dir)
    for sub, (config, state) in experts.items():
        folder = model_dir / sub
        folder.mkdir(parents=True, exist_ok=True)
        write_config(folder, config)
        write_dit_shards(folder, {k: v.shape for k, v in state.items()}, lambda k, state=state: state[k], dit_shards)
    write_text_encoder(model_dir, t5_state)
    write_vae(model_dir, vae_state)
    write_tokenizer(model_dir / TOKENIZER_DIR, vocab_size)
    return model_dir


def write_config(model_dir: Path, config: DiTConfig) -> None:
    """`config.json` as the hub's (the fields a Wan2.1-T2V loader reads)."""
    data = {
        "_class_name": "WanModel", "_diffusers_version": "0.30.0", "model_type": "t2v",
        "dim": config.dim, "ffn_dim": config.ffn_dim, "freq_dim": config.freq_dim, "in_dim": config.in_dim,
        "out_dim": config.out_dim, "num_heads": config.num_heads, "num_layers": config.num_layers,
        "eps": config.eps, "text_len": config.text_len,
    }
    Path(model_dir, CONFIG_FILE).write_text(json.dumps(data, indent=2))


def write_dit_shards(model_dir: Path, shapes: Mapping[str, Sequence[int]], tensor: Callable[[str], torch.Tensor],
                     n_shards: int, dtype: torch.dtype = torch.float32) -> int:
    """The DiT's tensors (names sorted) in `n_shards` files of about equal bytes, plus the index, named as
    on the hub. `tensor(name)` makes or looks up each one; only one shard is in memory at a time.
    Returns the bytes written."""
    model_dir = Path(model_dir)
    keys = sorted(shapes)
    sizes = [math.prod(shapes[k]) for k in keys]
    target = sum(sizes) / n_shards
    groups, cur, acc = [], [], 0
    for k, n in zip(keys, sizes, strict=True):
        cur.append(k)
        acc += n
        if acc >= target and len(groups) < n_shards - 1:
            groups.append(cur)
            cur, acc = [], 0
    if cur or not groups:
        groups.append(cur)
    weight_map, total = {}, 0
    for i, group in enumerate(groups):
        name = f"diffusion_pytorch_model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        part = {k: tensor(k).to("cpu", dtype).contiguous() for k in group}
        save_file(part, str(model_dir / name), metadata={"format": "pt"})
        for k, v in part.items():
            weight_map[k] = name
            total += v.numel() * v.element_size()
        del part
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (model_dir / DIT_INDEX_FILE).write_text(json.dumps(index, indent=2))
    return total


def write_text_encoder(model_dir: Path, state: Mapping[str, torch.Tensor]) -> None:
    """The umt5 encoder's weights in bf16, as `models_t5_umt5-xxl-enc-bf16.pth`."""
    torch.save({k: v.to(torch.bfloat16) for k, v in state.items()}, Path(model_dir, T5_FILE))


def write_vae(model_dir: Path, state: Mapping[str, torch.Tensor]) -> None:
    torch.save(dict(state), Path(model_dir, VAE_FILE))


def write_tokenizer(folder: Path, vocab_size: int) -> None:
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
    folder = Path(folder)
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
