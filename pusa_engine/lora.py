"""The Pusa LoRA: key formats (PEFT and kohya), and merging with an alpha that can change in place.

Merged weights are always W_base + alpha * scale_file * (B @ A), computed from a kept copy of W_base:
changing alpha never stacks on an earlier merge (the reference demo accumulated alpha across changes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import ModelFilesError
from .file_headers import Shapes, check_regular_file, read_torch_state
from .model_files import LORA_SOURCE

_PREFIXES = ("base_model.model.", "diffusion_model.", "model.", "transformer.")
_PEFT = re.compile(r"^(?P<layer>.+)\.lora_(?P<part>A|B)(?:\.default)?\.weight$")
_KOHYA = re.compile(r"^lora_unet_(?P<layer>.+)\.(?P<part>lora_down|lora_up)\.weight$")
_KOHYA_ALPHA = re.compile(r"^lora_unet_(?P<layer>.+)\.alpha$")


def _strip_prefix(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if key.startswith(p):
                key, changed = key[len(p):], True
    return key


@dataclass
class LoraPairKeys:
    """The file keys of one layer's factors: down (A, [r, in]) and up (B, [out, r])."""

    module: str
    down_key: str | None = None
    up_key: str | None = None
    alpha_key: str | None = None


def pair_lora_keys(keys: list[str], module_names: set[str]) -> tuple[dict[str, LoraPairKeys], list[str]]:
    """Group LoRA file keys by the DiT module they modify. Returns (pairs, keys that match nothing)."""
    kohya_names = {m.replace(".", "_"): m for m in module_names}  # kohya flattens dots to underscores
    pairs: dict[str, LoraPairKeys] = {}
    unmatched: list[str] = []
    for key in keys:
        stripped = _strip_prefix(key)
        module = part = None
        if m := _PEFT.match(stripped):
            module, part = m["layer"], ("down" if m["part"] == "A" else "up")
        elif m := _KOHYA.match(stripped):
            module, part = kohya_names.get(m["layer"]), ("down" if m["part"] == "lora_down" else "up")
        elif m := _KOHYA_ALPHA.match(stripped):
            module, part = kohya_names.get(m["layer"]), "alpha"
        if module is None or module not in module_names:
            unmatched.append(key)
            continue
        entry = pairs.setdefault(module, LoraPairKeys(module))
        setattr(entry, f"{part}_key", key)
    for module, entry in list(pairs.items()):
        if entry.down_key is None or entry.up_key is None:
            unmatched.extend(k for k in (entry.down_key, entry.up_key, entry.alpha_key) if k)
            del pairs[module]
    return pairs, unmatched


def lora_problems(lora_shapes: Shapes, linear_shapes: dict[str, tuple[int, int]], path: Path) -> list[str]:
    """Check a LoRA's keys and shapes against the DiT's linear layers ({module: (out, in)})."""
    pairs, unmatched = pair_lora_keys(list(lora_shapes), set(linear_shapes))
    problems = []
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else "")
        problems.append(f"{path}: {len(unmatched)} LoRA keys match no layer of the DiT ({shown}); "
                        "is this a LoRA for Wan2.1-T2V-14B?")
    if not pairs:
        problems.append(f"{path} holds no LoRA factors (lora_A/lora_B or lora_down/lora_up): choose the Pusa LoRA file")
    for module, entry in pairs.items():
        out_f, in_f = linear_shapes[module]
        down, up = lora_shapes[entry.down_key], lora_shapes[entry.up_key]
        if len(down) != 2 or len(up) != 2 or down[1] != in_f or up[0] != out_f or down[0] != up[1]:
            problems.append(f"{path}: LoRA for {module} has shapes {down} and {up}, "
                            f"which do not fit its [{out_f}, {in_f}] weight: the LoRA is for another model")
    return problems


def load_lora_state(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix != ".safetensors":
        return read_torch_state(path, LORA_SOURCE, "LoRA file")
    check_regular_file(path, "LoRA file", LORA_SOURCE)
    try:
        from safetensors.torch import load_file

        return load_file(str(path))
    except Exception as e:  # noqa: BLE001 - the library's text is not for users
        raise ModelFilesError(f"LoRA file {path} is damaged or not a checkpoint; "
                              f"download it again from {LORA_SOURCE}") from e


class MergedLora:
    """A LoRA merged into a model's linear layers, with an alpha that can be changed in place.

    Keeps, per layer, the base weight (on the CPU, in the model's dtype) and the two factors, so that
    set_alpha recomputes W = W_base + alpha * s * (B @ A) exactly instead of stacking merges.
    """

    def __init__(self, model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path):
        linears = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
        pairs, unmatched = pair_lora_keys(list(state), set(linears))
        if unmatched or not pairs:
            raise ModelFilesError(lora_problems({k: tuple(v.shape) for k, v in state.items()},
                                                {n: tuple(m.weight.shape) for n, m in linears.items()}, path))
        self.path = path
        self.alpha: float | None = None
        self.layers: list[tuple[torch.nn.Linear, torch.Tensor, torch.Tensor, torch.Tensor, float]] = []
        for module, keys in sorted(pairs.items()):
            linear = linears[module]
            down, up = state[keys.down_key], state[keys.up_key]
            rank = down.shape[0]
            file_scale = float(state[keys.alpha_key]) / rank if keys.alpha_key else 1.0
            # pageable, not pinned: 27 GB of page-locked RAM for the 14B model would starve the system
            base = linear.weight.detach().to("cpu", copy=True)
            self.layers.append((linear, base, down.to(linear.weight.dtype), up.to(linear.weight.dtype), file_scale))

    def set_alpha(self, alpha: float) -> None:
        """Write W_base + alpha * s * (B @ A) into every layer (fp32 accumulation, cast once)."""
        if alpha == self.alpha:
            return
        with torch.no_grad():
            for linear, base, down, up, file_scale in self.layers:
                dev = linear.weight.device
                delta = up.to(dev, torch.float32) @ down.to(dev, torch.float32)
                merged = base.to(dev, torch.float32, copy=True).add_(delta, alpha=alpha * file_scale)
                linear.weight.copy_(merged.to(linear.weight.dtype))
        self.alpha = alpha
