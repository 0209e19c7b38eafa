"""Load the official Wan2.1 files into diffsynth's networks, streaming each tensor into the target dtype.

The networks are built on the meta device and every tensor is read from its file straight to its device
(`weight_stream`: plain reads through small page-locked buffers, cast on the device), so neither the fp32
shards nor a whole CPU copy of a model is ever held in RAM. Weights that stay on the CPU in their file's
dtype are memory-mapped instead (file-backed pages the system can reclaim): the DiT for the CPU plan, the
text encoder and VAE when the plan keeps them on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from diffsynth.models.wan_video_dit import WanModel
from diffsynth.models.wan_video_text_encoder import HuggingfaceTokenizer, WanTextEncoder
from diffsynth.models.wan_video_vae import WanVideoVAE

from .errors import ModelFilesError
from .file_headers import Shapes, read_torch_state
from .model_files import DEFAULT_TEXT_DIM, WAN_SOURCE, ModelFolder, remote_code_problems
from .networks import T5Dims, VAEDims, build_dit, build_text_encoder, build_vae_network, wan_vae_with_network
from .validation import validate_model_files
from .weight_stream import StoredTensor, WeightStreamer, safetensors_index, torch_file_index

ProgressFn = Callable[[int, int, str], None]

PROMPT_TOKENS = 512  # diffsynth pads every prompt to 512 tokens


def load_dit(folder: ModelFolder, dtype: torch.dtype, device: torch.device,
             progress: ProgressFn | None = None, pin: bool = False, threads: int | None = None) -> WanModel:
    """The DiT of `folder` in `dtype` on `device`, read tensor by tensor from its shards.

    `pin`: on the CPU, in page-locked memory (the block-streaming plan copies from there to its GPU)."""
    device = torch.device(device)
    shards = [folder.root / shard for shard in folder.dit_shards()]
    index = {path: safetensors_index(path) for path in shards}
    text_dim = _find_text_dim(index) or DEFAULT_TEXT_DIM
    model = build_dit(folder.dit_config(text_dim))
    if device.type == "cpu" and not pin and all(st.dtype == dtype for items in index.values() for st in items):
        _map_shards(model, index, progress)  # nothing to cast or pin: the file pages themselves, zero-copy
        _check_complete(model, "DiT shards")
        return model
    left = {path: len(items) for path, items in index.items()}
    done = 0
    for path, items in index.items():  # shards with no tensors count as read at once
        if not items:
            done += 1
            if progress:
                progress(done, len(shards), f"DiT {path.name}")
    streamer = WeightStreamer(device, threads or _threads(device), pin=pin)
    for path, name, tensor in streamer.stream(((p, st) for p, items in index.items() for st in items), dtype):
        _assign(model, name, tensor)
        left[path] -= 1
        if left[path] == 0:
            done += 1
            if progress:
                progress(done, len(shards), f"DiT {path.name}")
    _check_complete(model, "DiT shards")
    return model


def _map_shards(model: torch.nn.Module, index: dict[Path, list[StoredTensor]], progress: ProgressFn | None) -> None:
    """CPU weights already in their dtype: memory-mapped from the shards (file-backed pages the system can
    reclaim and shares with its cache; reading them into private memory would hold them twice)."""
    from safetensors import safe_open

    for done, path in enumerate(index, start=1):
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for key in f.keys():
                _assign(model, key, f.get_tensor(key))
        if progress:
            progress(done, len(index), f"DiT {path.name}")


def _threads(device: torch.device) -> int:
    """Reader threads: enough to keep the page cache and the copy engine busy, not more than the CPUs."""
    import os

    return max(1, min(4 if device.type == "cuda" else 2, os.cpu_count() or 1))


def _find_text_dim(index: dict[Path, list[StoredTensor]]) -> int | None:
    for items in index.values():
        for st in items:
            if st.name == "text_embedding.0.weight":
                return st.shape[1]
    return None


def load_text_encoder(folder: ModelFolder, dtype: torch.dtype, device: torch.device) -> WanTextEncoder:
    return _load_pth_into(folder.t5_path, lambda shapes: build_text_encoder(T5Dims.from_shapes(shapes)), dtype, device)


def load_vae(folder: ModelFolder, dtype: torch.dtype, device: torch.device) -> WanVideoVAE:
    net = _load_pth_into(folder.vae_path, lambda shapes: build_vae_network(VAEDims.from_shapes(shapes)), dtype, device)
    return wan_vae_with_network(net)


def _load_pth_into(path: Path, build: Callable[[Shapes], torch.nn.Module], dtype: torch.dtype,
                   device: torch.device) -> torch.nn.Module:
    """Build a network sized from a .pth file's shapes (on meta), then place each tensor on device/dtype.

    On a GPU the tensors are streamed from the file (nothing of it stays in RAM); on the CPU they stay
    memory-mapped when their dtype is already the one asked for."""
    device = torch.device(device)
    index = torch_file_index(path) if device.type != "cpu" else None
    if index is not None:
        model = build({st.name: st.shape for st in index})
        for _, name, tensor in WeightStreamer(device, _threads(device)).stream(((path, st) for st in index), dtype):
            _assign(model, name, tensor)
        _check_complete(model, str(path))
        return model
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
