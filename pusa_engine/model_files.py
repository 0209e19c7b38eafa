"""Where the files of a Wan2.1-T2V model folder live, as released (spec section 8)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelFilesError

CONFIG_FILE = "config.json"
DIT_INDEX_FILE = "diffusion_pytorch_model.safetensors.index.json"
DIT_SINGLE_FILE = "diffusion_pytorch_model.safetensors"
T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
VAE_FILE = "Wan2.1_VAE.pth"
TOKENIZER_DIR = "google/umt5-xxl"

# Released shapes of the DiT that config.json does not state.
DEFAULT_TEXT_DIM = 4096
PATCH_SIZE = (1, 2, 2)


@dataclass(frozen=True)
class DiTConfig:
    dim: int
    ffn_dim: int
    freq_dim: int
    in_dim: int
    out_dim: int
    num_heads: int
    num_layers: int
    eps: float
    text_dim: int = DEFAULT_TEXT_DIM
    text_len: int = 512

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    def wan_model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for diffsynth's WanModel (text-to-video variant)."""
        return dict(
            dim=self.dim, in_dim=self.in_dim, ffn_dim=self.ffn_dim, out_dim=self.out_dim,
            text_dim=self.text_dim, freq_dim=self.freq_dim, eps=self.eps, patch_size=PATCH_SIZE,
            num_heads=self.num_heads, num_layers=self.num_layers, has_image_input=False,
        )

    def parameter_count(self) -> int:
        d, f, t, fd = self.dim, self.ffn_dim, self.text_dim, self.freq_dim
        patch = self.in_dim * d * 2 * 2 + d
        text = t * d + d + d * d + d
        time = fd * d + d + d * d + d + d * 6 * d + 6 * d
        attn = 4 * (d * d + d) + 2 * d
        block = 2 * attn + 2 * d + (d * f + f + f * d + d) + 6 * d
        head = d * self.out_dim * 4 + self.out_dim * 4 + 2 * d
        return patch + text + time + self.num_layers * block + head


WAN_14B_CONFIG = DiTConfig(dim=5120, ffn_dim=13824, freq_dim=256, in_dim=16, out_dim=16, num_heads=40,
                           num_layers=40, eps=1e-6)


@dataclass(frozen=True)
class ModelFolder:
    """The paths of one model folder; nothing is read beyond config.json and the shard index."""

    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def t5_path(self) -> Path:
        return self.root / T5_FILE

    @property
    def vae_path(self) -> Path:
        return self.root / VAE_FILE

    @property
    def tokenizer_dir(self) -> Path:
        return self.root / TOKENIZER_DIR

    @property
    def index_path(self) -> Path:
        return self.root / DIT_INDEX_FILE

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config_path.read_text())
        except FileNotFoundError as e:
            raise ModelFilesError(f"{self.config_path} is missing: is {self.root} a Wan2.1-T2V model folder?") from e
        except (OSError, ValueError) as e:
            raise ModelFilesError(f"{self.config_path} is not valid JSON ({e}); download it again") from e

    def dit_config(self, text_dim: int = DEFAULT_TEXT_DIM) -> DiTConfig:
        cfg = self.read_config()
        if cfg.get("model_type", "t2v") != "t2v":
            raise ModelFilesError(
                f"{self.config_path} describes a '{cfg.get('model_type')}' model; Pusa needs Wan2.1-T2V-14B"
            )
        try:
            return DiTConfig(
                dim=int(cfg["dim"]), ffn_dim=int(cfg["ffn_dim"]), freq_dim=int(cfg["freq_dim"]),
                in_dim=int(cfg["in_dim"]), out_dim=int(cfg["out_dim"]), num_heads=int(cfg["num_heads"]),
                num_layers=int(cfg["num_layers"]), eps=float(cfg["eps"]), text_dim=text_dim,
                text_len=int(cfg.get("text_len", 512)),
            )
        except KeyError as e:
            raise ModelFilesError(f"{self.config_path} lacks the field {e}; download it again") from e

    def dit_shards(self) -> dict[str, list[str]]:
        """Shard file name -> tensor names, from the index (or the single-file layout)."""
        if self.index_path.exists():
            try:
                weight_map: dict[str, str] = json.loads(self.index_path.read_text())["weight_map"]
            except (OSError, ValueError, KeyError) as e:
                raise ModelFilesError(f"{self.index_path} is not a valid shard index ({e}); download it again") from e
            shards: dict[str, list[str]] = {}
            for key, shard in weight_map.items():
                shards.setdefault(shard, []).append(key)
            return shards
        if (self.root / DIT_SINGLE_FILE).exists():
            return {DIT_SINGLE_FILE: []}
        raise ModelFilesError(
            f"{self.root} has no {DIT_INDEX_FILE} (nor {DIT_SINGLE_FILE}): the DiT weights are missing"
        )
