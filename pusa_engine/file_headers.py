"""Read tensor names and shapes from weight files without reading the weights.

Every failure is one ModelFilesError line that names the file and where to download it again; torch's
own messages (its long advice about `weights_only=False`) never reach the user.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from pathlib import Path
from typing import Any

import torch

from .errors import ModelFilesError
from .model_files import WAN_SOURCE, regular_file_problem

Shapes = dict[str, tuple[int, ...]]

_SAFETENSORS_DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8,
}
_MAX_HEADER = 100_000_000


def _damaged(path: Path, source: str, why: str = "") -> ModelFilesError:
    return ModelFilesError(f"{path} is damaged or not a checkpoint{why}; download it again from {source}")


def check_regular_file(path: Path, what: str, source: str) -> None:
    problem = regular_file_problem(path, what, source)
    if problem:
        raise ModelFilesError(problem)


def safetensors_shapes(path: Path, source: str = WAN_SOURCE) -> Shapes:
    """Names and shapes from a safetensors header; checks every entry and that the data is all there."""
    check_regular_file(path, "", source)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ModelFilesError(f"{path} is empty or truncated: download it again from {source}")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_HEADER or 8 + n > size:
                raise ModelFilesError(f"{path} is not a safetensors file or is truncated: "
                                      f"download it again from {source}")
            header = json.loads(f.read(n))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise _damaged(path, source, " (its header is not readable JSON)") from e
    if not isinstance(header, dict):
        raise _damaged(path, source, " (its header is not a table of tensors)")
    header.pop("__metadata__", None)
    shapes = _header_shapes(path, header, source)
    end = max((info["data_offsets"][1] for info in header.values()), default=0)
    if 8 + n + end > size:
        raise ModelFilesError(
            f"{path} is truncated ({size:,} bytes, its header needs {8 + n + end:,}): download it again from {source}")
    if 8 + n + end < size:
        raise _damaged(path, source, f" ({size - 8 - n - end:,} bytes after its last tensor)")
    return shapes


def _header_shapes(path: Path, header: dict[str, Any], source: str) -> Shapes:
    """Each entry needs dtype, shape and data_offsets that agree, laid end to end (as safetensors demands)."""
    shapes: Shapes = {}
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise _damaged(path, source, f" (the header entry of {name} lacks dtype, shape or data_offsets)")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _SAFETENSORS_DTYPE_BYTES:
            raise _damaged(path, source, f" ({name} has the unknown dtype {dtype!r})")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise _damaged(path, source, f" ({name} has the shape {shape!r})")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise _damaged(path, source, f" ({name} has the data offsets {offsets!r})")
        if offsets[1] - offsets[0] != math.prod(shape) * _SAFETENSORS_DTYPE_BYTES[dtype]:
            raise _damaged(path, source, f" (the data offsets of {name} do not fit its shape {shape} and {dtype})")
        shapes[name] = tuple(shape)
        spans.append((offsets[0], offsets[1], name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise _damaged(path, source, f" (the data of {name} overlaps another tensor or leaves a gap)")
        position = end
    return shapes


def read_torch_state(path: Path, source: str = WAN_SOURCE, what: str = "") -> dict[str, torch.Tensor]:
    """The named tensors of a .pth/.pt file, memory-mapped, never running code (weights_only)."""
    check_regular_file(path, what, source)
    if not zipfile.is_zipfile(path):
        raise _damaged(path, source)
    try:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure means the file is unusable; torch's text is not for users
        raise _damaged(path, source) from e
    state = unwrap_state_dict(state)
    if not isinstance(state, dict):
        raise _damaged(path, source, f" (it holds a {type(state).__name__}, not named weights)")
    tensors = {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        kinds = "/".join(sorted({type(v).__name__ for v in state.values()}))
        held = f"only {len(state)} {kinds} value{'s' * (len(state) != 1)}" if state else "it is empty"
        raise _damaged(path, source, f" (it holds no weights: {held})")
    return tensors


def torch_file_shapes(path: Path, source: str = WAN_SOURCE, what: str = "") -> Shapes:
    """Names and shapes from a .pth/.pt file, memory-mapped so only the metadata is read."""
    return {k: tuple(v.shape) for k, v in read_torch_state(path, source, what).items()}


def unwrap_state_dict(state: Any) -> Any:
    """Checkpoints sometimes nest the weights one level down."""
    if isinstance(state, dict) and len(state) == 1:
        for key in ("state_dict", "module", "model_state"):
            if key in state and isinstance(state[key], dict):
                return state[key]
    return state


def weight_file_shapes(path: Path, source: str = WAN_SOURCE, what: str = "") -> Shapes:
    if path.suffix == ".safetensors":
        check_regular_file(path, what, source)
        return safetensors_shapes(path, source)
    return torch_file_shapes(path, source, what)
