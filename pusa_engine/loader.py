"""Load the official Wan2.1 files into diffsynth's networks, streaming each tensor into the target dtype.

The DiT is built on the meta device and every tensor is read from its shard, cast and placed on the
target device one at a time: the fp32 model is never held in RAM.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from diffsynth.models.wan_video_dit import WanModel
from diffsynth.models.wan_video_text_encoder import HuggingfaceTokenizer, WanTextEncoder
from diffsynth.models.wan_video_vae import WanVideoVAE
from safetensors import safe_open

from .errors import ModelFilesError
from .file_headers import Shapes, read_torch_state
from .model_files import DEFAULT_TEXT_DIM, WAN_SOURCE, ModelFolder, remote_code_problems
from .networks import T5Dims, VAEDims, build_dit, build_text_encoder, build_vae_network, wan_vae_with_network
from .validation import validate_model_files

ProgressFn = Callable[[int, int, str], None]

PROMPT_TOKENS = 512  # diffsynth pads every prompt to 512 tokens


def load_dit(folder: ModelFolder, dtype: torch.dtype, device: torch.device,
             progress: ProgressFn | None = None) -> WanModel:
    shards = folder.dit_shards()
    text_dim = _find_text_dim(folder, shards) or DEFAULT_TEXT_DIM
    model = build_dit(folder.dit_config(text_dim))
    for done, shard in enumerate(shards, start=1):
        # safetensors reads straight to the target device; each tensor is cast before the next is read
        with safe_open(str(folder.root / shard), framework="pt", device=str(device)) as f:
            for key in f.keys():
                _assign(model, key, f.get_tensor(key).to(dtype))
        if progress:
            progress(done, len(shards), f"DiT {shard}")
    _check_complete(model, "DiT shards")
    return model


def _find_text_dim(folder: ModelFolder, shards: dict[str, list[str]]) -> int | None:
    for shard in shards:
        with safe_open(str(folder.root / shard), framework="pt") as f:
            if "text_embedding.0.weight" in f.keys():
                return f.get_slice("text_embedding.0.weight").get_shape()[1]
    return None


def load_text_encoder(folder: ModelFolder, dtype: torch.dtype, device: torch.device) -> WanTextEncoder:
    return _load_pth_into(folder.t5_path, lambda shapes: build_text_encoder(T5Dims.from_shapes(shapes)), dtype, device)


def load_vae(folder: ModelFolder, dtype: torch.dtype, device: torch.device) -> WanVideoVAE:
    net = _load_pth_into(folder.vae_path, lambda shapes: build_vae_network(VAEDims.from_shapes(shapes)), dtype, device)
    return wan_vae_with_network(net)


def _load_pth_into(path: Path, build: Callable[[Shapes], torch.nn.Module], dtype: torch.dtype,
                   device: torch.device) -> torch.nn.Module:
    """Build a network sized from a .pth file's shapes (on meta), then place each tensor on device/dtype."""
    state = read_torch_state(path, WAN_SOURCE)
    model = build({k: tuple(v.shape) for k, v in state.items()})
    for key, tensor in state.items():
        _assign(model, key, tensor.to(device=device, dtype=dtype))
    _check_complete(model, str(path))
    return model


def load_tokenizer(folder: ModelFolder) -> HuggingfaceTokenizer:
    """The umt5 tokenizer from local files only; a folder asking to run its own code is refused first,
    so transformers never prompts "run the custom code? [y/N]" and nothing from the folder runs."""
    unsafe = remote_code_problems(folder)
    if unsafe:
        raise ModelFilesError(unsafe)
    try:
        return HuggingfaceTokenizer(name=str(folder.tokenizer_dir), seq_len=PROMPT_TOKENS, clean="whitespace",
                                    trust_remote_code=False, local_files_only=True)
    except Exception as e:  # noqa: BLE001 - transformers raises many types; none of their text is for users
        raise ModelFilesError(f"the tokenizer in {folder.tokenizer_dir} cannot be loaded ({type(e).__name__}): "
                              f"copy google/umt5-xxl again from {WAN_SOURCE}") from e


def check_model_files(model_dir: Path, lora_path: Path | str | None) -> None:
    problems = validate_model_files(model_dir, lora_path)
    if problems:
        raise ModelFilesError(problems)


def _assign(model: torch.nn.Module, key: str, tensor: torch.Tensor) -> None:
    module_name, _, attr = key.rpartition(".")
    try:
        module = model.get_submodule(module_name)
    except AttributeError as e:
        raise ModelFilesError(
            f"the weight {key} belongs to no layer of this model: the file is from another model") from e
    if attr in module._parameters:
        module._parameters[attr] = torch.nn.Parameter(tensor, requires_grad=False)
    elif attr in module._buffers:
        module._buffers[attr] = tensor
    else:
        raise ModelFilesError(f"the weight {key} belongs to no layer of this model: the file is from another model")


def _check_complete(model: torch.nn.Module, what: str) -> None:
    missing = [n for n, p in model.named_parameters() if p.is_meta]
    if missing:
        raise ModelFilesError(f"{what} lack {len(missing)} tensors (e.g. {missing[0]}): download them again")
