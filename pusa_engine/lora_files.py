"""LoRA files: their key formats, which parameter of the DiT each key changes, and reading them lazily.

Formats (any of the prefixes `diffusion_model.`, `base_model.model.`, `model.`, `transformer.`):
- PEFT: `<module>.lora_A[.default].weight` [r, in] and `<module>.lora_B[.default].weight` [out, r]; scale 1.
- kohya: `lora_unet_<module with _>.lora_down.weight` / `.lora_up.weight` and an optional `.alpha`, or the
  same with the dotted module name (`<module>.lora_down.weight`, LightX2V's files); scale alpha_file / rank.
- full deltas beside them: `<module>.diff` (added to the weight) and `<module>.diff_b` (to the bias).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import ModelFilesError
from .file_headers import Shapes, check_regular_file, read_torch_state

_PREFIXES = ("base_model.model.", "diffusion_model.", "model.", "transformer.")
_PEFT = re.compile(r"^(?P<layer>.+)\.lora_(?P<part>A|B)(?:\.default)?\.weight$")
_KOHYA = re.compile(r"^(?P<layer>.+)\.(?P<part>lora_down|lora_up)\.weight$")
_EXTRA = re.compile(r"^(?P<layer>.+)\.(?P<part>alpha|diff|diff_b)$")
_PART = {"A": "down", "B": "up", "lora_down": "down", "lora_up": "up", "alpha": "alpha", "diff": "diff",
         "diff_b": "diff_b"}


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
    """The file keys that change one module: down (A, [r, in]) and up (B, [out, r]) with an optional alpha,
    and/or full deltas of its weight (`diff`) and bias (`diff_b`)."""

    module: str
    down_key: str | None = None
    up_key: str | None = None
    alpha_key: str | None = None
    diff_key: str | None = None
    diff_b_key: str | None = None

    @property
    def low_rank(self) -> bool:
        return self.down_key is not None and self.up_key is not None

    def keys(self) -> list[str]:
        return [k for k in (self.down_key, self.up_key, self.alpha_key, self.diff_key, self.diff_b_key) if k]


def _parse(key: str, module_names: set[str], flat_names: dict[str, str]) -> tuple[str, str] | None:
    stripped = _strip_prefix(key)
    for pattern in (_PEFT, _KOHYA, _EXTRA):
        m = pattern.match(stripped)
        if m is None:
            continue
        layer = m["layer"]
        if layer.startswith("lora_unet_"):  # kohya flattens dots to underscores
            layer = flat_names.get(layer[len("lora_unet_"):], "")
        return (layer, _PART[m["part"]]) if layer in module_names else None
    return None


def pair_lora_keys(keys: list[str], module_names: set[str]) -> tuple[dict[str, LoraPairKeys], list[str]]:
    """Group LoRA file keys by the DiT module they change. Returns (pairs, keys that match nothing)."""
    flat_names = {m.replace(".", "_"): m for m in module_names}
    pairs: dict[str, LoraPairKeys] = {}
    unmatched: list[str] = []
    for key in keys:
        parsed = _parse(key, module_names, flat_names)
        if parsed is None:
            unmatched.append(key)
            continue
        module, part = parsed
        setattr(pairs.setdefault(module, LoraPairKeys(module)), f"{part}_key", key)
    for module, entry in list(pairs.items()):
        half = (entry.down_key is None) != (entry.up_key is None)
        lone_alpha = entry.alpha_key is not None and not entry.low_rank
        if half or lone_alpha:
            unmatched.extend(k for k in (entry.down_key, entry.up_key, entry.alpha_key) if k)
            entry.down_key = entry.up_key = entry.alpha_key = None
        if not entry.low_rank and entry.diff_key is None and entry.diff_b_key is None:
            del pairs[module]
    return pairs, unmatched


def _shown(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def lora_problems(lora_shapes: Shapes, model_shapes: Shapes, path: Path, target: str = "Wan2.1-T2V-14B") -> list[str]:
    """At most one line: why the LoRA file at `path` does not fit a model whose parameters have
    `model_shapes` ({"blocks.0.self_attn.q.weight": (out, in), ...}); `target` names the model."""
    modules = {name.rpartition(".")[0] for name in model_shapes}
    pairs, unmatched = pair_lora_keys(list(lora_shapes), modules)
    if not pairs and not unmatched:
        return [f"{path} holds no LoRA factors (lora_A/lora_B or lora_down/lora_up): choose a LoRA file for {target}"]
    wrong: list[str] = []
    for module, entry in pairs.items():
        weight, bias = model_shapes.get(f"{module}.weight"), model_shapes.get(f"{module}.bias")
        if entry.low_rank:
            down, up = lora_shapes[entry.down_key], lora_shapes[entry.up_key]
            if (weight is None or len(weight) != 2 or len(down) != 2 or len(up) != 2 or down[1] != weight[1]
                    or up[0] != weight[0] or down[0] != up[1]):
                wrong.append(f"{module} ({list(down)} and {list(up)} for {list(weight or ())})")
        if entry.diff_key is not None and tuple(lora_shapes[entry.diff_key]) != tuple(weight or ()):
            wrong.append(f"{module} (a weight delta of {list(lora_shapes[entry.diff_key])} for {list(weight or ())})")
        if entry.diff_b_key is not None and tuple(lora_shapes[entry.diff_b_key]) != tuple(bias or ()):
            wrong.append(f"{module} (a bias delta of {list(lora_shapes[entry.diff_b_key])} for {list(bias or ())})")
    if not unmatched and not wrong:
        return []
    why = []
    if unmatched:
        why.append(f"{len(unmatched)} of its keys match no layer ({_shown(unmatched)})")
    if wrong:
        why.append(f"{len(wrong)} layers have shapes that do not fit ({_shown(wrong)})")
    return [f"{path} is not a LoRA for {target}: {'; '.join(why)}; choose the LoRA made for it"]


class LoraTensors(Mapping[str, torch.Tensor]):
    """A LoRA file's tensors by key, read when asked (safetensors memory-mapped; .pt/.pth loaded with
    mmap and weights_only), so only the factors in use are ever in memory."""

    def __init__(self, path: Path, source: str, what: str = "LoRA file"):
        self.path = Path(path)
        check_regular_file(self.path, what, source)
        if self.path.suffix == ".safetensors":
            try:
                from safetensors import safe_open

                self._file = safe_open(str(self.path), framework="pt")
                self._keys = list(self._file.keys())
            except Exception as e:  # noqa: BLE001 - the library's text is not for users
                raise ModelFilesError(f"{what} {self.path} is damaged or not a checkpoint; "
                                      f"download it again from {source}") from e
            self._state: dict[str, torch.Tensor] | None = None
        else:
            self._state = read_torch_state(self.path, source, what)
            self._keys = list(self._state)

    def __getitem__(self, key: str) -> torch.Tensor:
        if self._state is not None:
            return self._state[key]
        if key not in self._keys:
            raise KeyError(key)
        return self._file.get_tensor(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def shapes(self) -> Shapes:
        if self._state is not None:
            return {k: tuple(v.shape) for k, v in self._state.items()}
        return {k: tuple(self._file.get_slice(k).get_shape()) for k in self._keys}
