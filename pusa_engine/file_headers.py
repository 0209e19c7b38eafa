"""Read tensor names and shapes from weight files without reading the weights."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import torch

from .errors import ModelFilesError

Shapes = dict[str, tuple[int, ...]]

_SAFETENSORS_DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "F8_E4M3": 1, "F8_E5M2": 1,
}


def safetensors_shapes(path: Path) -> Shapes:
    """Names and shapes from a safetensors header; checks that the file holds all the bytes it declares."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ModelFilesError(f"{path} is empty or truncated: download it again")
            (n,) = struct.unpack("<Q", head)
            if n > 100_000_000 or 8 + n > size:
                raise ModelFilesError(f"{path} is not a safetensors file or is truncated: download it again")
            header = json.loads(f.read(n))
    except FileNotFoundError as e:
        raise ModelFilesError(f"{path} is missing") from e
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise ModelFilesError(f"{path} has an unreadable header ({e}): download it again") from e
    header.pop("__metadata__", None)
    shapes: Shapes = {}
    end = 0
    for name, info in header.items():
        shapes[name] = tuple(info["shape"])
        end = max(end, info["data_offsets"][1])
    if 8 + n + end > size:
        raise ModelFilesError(
            f"{path} is truncated ({size:,} bytes, its header needs {8 + n + end:,}): download it again"
        )
    return shapes


def torch_file_shapes(path: Path) -> Shapes:
    """Names and shapes from a .pth/.pt file, memory-mapped so only the metadata is read."""
    if not path.exists():
        raise ModelFilesError(f"{path} is missing")
    if not zipfile.is_zipfile(path):
        raise ModelFilesError(f"{path} is not a PyTorch checkpoint or is truncated: download it again")
    try:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure here means the file is unusable
        raise ModelFilesError(f"{path} cannot be read ({type(e).__name__}: {e}): download it again") from e
    state = unwrap_state_dict(state)
    return {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}


def unwrap_state_dict(state: dict) -> dict:
    """Checkpoints sometimes nest the weights one level down."""
    if isinstance(state, dict) and len(state) == 1:
        for key in ("state_dict", "module", "model_state"):
            if key in state and isinstance(state[key], dict):
                return state[key]
    return state


def weight_file_shapes(path: Path) -> Shapes:
    return safetensors_shapes(path) if path.suffix == ".safetensors" else torch_file_shapes(path)
