"""Where the files of a Wan2.1-T2V model folder live, as the Wan-AI release lays them out: config.json,
sharded safetensors + index, the T5 and VAE .pth files, google/umt5-xxl/."""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelFilesError
from .families import Expert

CONFIG_FILE = "config.json"
DIT_INDEX_FILE = "diffusion_pytorch_model.safetensors.index.json"
DIT_SINGLE_FILE = "diffusion_pytorch_model.safetensors"
T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
VAE_FILE = "Wan2.1_VAE.pth"
TOKENIZER_DIR = "google/umt5-xxl"

# Where each file comes from (README's download table), for "download it again from ...".
WAN_SOURCE = "Hugging Face Wan-AI/Wan2.1-T2V-14B"
LORA_SOURCE = "Hugging Face RaphaelLiu/PusaV1"

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
    """The paths of one model folder; nothing is read beyond config.json and the shard index.

    `dit_subdir` names the folder of one DiT inside it (Wan2.2's `high_noise_model/`, `low_noise_model/`);
    the text encoder, VAE and tokenizer are shared at the top. `for_expert` gives the view of one expert.
    """

    root: Path
    dit_subdir: str = ""

    def for_expert(self, expert: Expert) -> ModelFolder:
        return ModelFolder(self.root, expert.subfolder)

    @property
    def dit_dir(self) -> Path:
        return self.root / self.dit_subdir if self.dit_subdir else self.root

    @property
    def config_path(self) -> Path:
        return self.dit_dir / CONFIG_FILE

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
        return self.dit_dir / DIT_INDEX_FILE

    def read_config(self) -> dict[str, Any]:
        if not self.config_path.exists():
            if self.dit_subdir:
                raise ModelFilesError(f"{self.config_path} is missing: copy {self.dit_subdir}/ again from the "
                                      "Wan2.2-T2V-A14B download")
            raise ModelFilesError(f"{self.config_path} is missing: is {self.root} a Wan2.1-T2V model folder?")
        return read_json_object(self.config_path, WAN_SOURCE)

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
        """Shard file (relative to `root`) -> tensor names, from the index (or the single-file layout)."""
        if self.index_path.exists():
            weight_map = read_json_object(self.index_path, WAN_SOURCE).get("weight_map")
            if not isinstance(weight_map, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) and v and "/" not in v and v not in (".", "..")
                    for k, v in weight_map.items()):
                raise ModelFilesError(f"{self.index_path} is not a valid shard index (no weight_map of tensor "
                                      f"names to shard files): download it again from {WAN_SOURCE}")
            shards: dict[str, list[str]] = {}
            for key, shard in weight_map.items():
                shards.setdefault(self._from_root(shard), []).append(key)
            return shards
        if (self.dit_dir / DIT_SINGLE_FILE).exists():
            return {self._from_root(DIT_SINGLE_FILE): []}
        raise ModelFilesError(
            f"{self.dit_dir} has no {DIT_INDEX_FILE} (nor {DIT_SINGLE_FILE}): the DiT weights are missing"
        )

    def _from_root(self, name: str) -> str:
        return f"{self.dit_subdir}/{name}" if self.dit_subdir else name


def regular_file_problem(path: Path, what: str, source: str) -> str | None:
    """Why `path` cannot be read as a file, or None. Never opens it: opening a FIFO would block.

    `what` names the file for the user ("LoRA file"), or is empty when the path says enough.
    """
    name = f"{what} {path}" if what else str(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"{name} is missing: download it from {source}"
    except OSError as e:
        return f"{name} cannot be read ({e.strerror or e}): check its permissions"
    if stat.S_ISDIR(mode):
        return f"{name} is a folder, not a file: use the file itself, from {source}"
    if not stat.S_ISREG(mode):
        return f"{name} is not a regular file (a pipe, socket or device): use the file itself, from {source}"
    return None


def read_json_object(path: Path, source: str) -> dict[str, Any]:
    """A JSON file that must hold an object; every failure is one ModelFilesError line."""
    problem = regular_file_problem(path, "", source)
    if problem:
        raise ModelFilesError(problem)
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise ModelFilesError(f"{path} is not valid JSON ({_first_line(e)}): download it again from {source}") from e
    if not isinstance(data, dict):
        raise ModelFilesError(f"{path} holds a JSON {type(data).__name__}, not an object: "
                              f"download it again from {source}")
    return data


# transformers runs Python files from a model folder when a config names them under auto_map
_REMOTE_CODE_FILES = ("tokenizer_config.json", "config.json", "processor_config.json", "preprocessor_config.json")


def remote_code_problems(folder: ModelFolder) -> list[str]:
    """One line naming the configs that ask to run code shipped in the folder; such a folder is never loaded."""
    candidates = [folder.config_path] + [folder.tokenizer_dir / name for name in _REMOTE_CODE_FILES]
    asking = []
    for path in candidates:
        try:
            if not path.is_file():
                continue
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue  # reported as damaged elsewhere
        if isinstance(data, dict) and "auto_map" in data:
            asking.append(str(path))
    if not asking:
        return []
    return [f"{' and '.join(asking)} {'is' if len(asking) == 1 else 'are'} unsafe: "
            f"{'it asks' if len(asking) == 1 else 'they ask'} to run Python code shipped in the model folder "
            f"(auto_map), which Pusa Studio never does; replace the folder with the original from {WAN_SOURCE}"]


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return (lines[0] if lines else type(err).__name__)[:200]
