"""LoRAs merged into a DiT as a stack whose alphas change in place, exactly.

Every changed parameter is always W = W_base + sum_i alpha_i * s_i * delta_i (delta_i = B_i @ A_i, or a full
delta), summed in float32 in the stack's order and cast once, from a kept copy of W_base: the bits depend
only on the stack and its alphas, never on the history of changes (the reference demo stacked merges).

Where the base copies and factors live is the plan's choice (`LoraPlacement`): beside the weight on its GPU
when there is room (an alpha change then reads nothing over PCIe), else in pinned CPU memory; the merge
runs on the weight's GPU (or the plan's GPU for weights kept in CPU memory).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import ModelFilesError
from .file_headers import Shapes
from .lora_files import LoraPairKeys, LoraTensors, lora_problems, pair_lora_keys
from .model_files import LORA_SOURCE
from .pinned import PinnedArena

__all__ = ["LoraPairKeys", "LoraPlacement", "LoraStack", "MergedLora", "load_lora_state", "lora_problems",
           "pair_lora_keys", "parameter_shapes"]

CPU = torch.device("cpu")


def load_lora_state(path: Path, source: str = LORA_SOURCE) -> Mapping[str, torch.Tensor]:
    """A LoRA file's tensors by key, read lazily; every failure is one ModelFilesError line."""
    return LoraTensors(Path(path), source)


def parameter_shapes(model: torch.nn.Module) -> Shapes:
    return {n: tuple(p.shape) for n, p in model.named_parameters()}


@dataclass(frozen=True)
class LoraPlacement:
    """Where a stack keeps base copies and factors ("device": beside the weight; "pinned": page-locked CPU
    memory; "cpu": pageable CPU memory; for factors also "merge": on the merge device), and where it merges
    weights kept in CPU memory (None: on the weight's device, always for weights on a GPU)."""

    base: str = "device"
    factors: str = "device"
    merge_device: torch.device | None = None


def _place(t: torch.Tensor, where: str, device: torch.device, dtype: torch.dtype | None = None,
           arena: PinnedArena | None = None) -> torch.Tensor:
    dtype = dtype or t.dtype
    if where == "device":
        return t.detach().to(device, dtype, copy=True)
    if where == "pinned" and torch.cuda.is_available():
        out = (arena or PinnedArena()).empty(t.shape, dtype)
        return out.copy_(t.detach())
    return t.detach().to(CPU, dtype, copy=True)


@dataclass
class _Delta:
    scale: float  # s_i: alpha_file / rank for kohya files, else 1
    down: torch.Tensor | None = None  # A [r, in]
    up: torch.Tensor | None = None  # B [out, r]
    full: torch.Tensor | None = None  # a full delta of the parameter

    def on(self, device: torch.device) -> torch.Tensor:
        """delta_i in float32 on `device`."""
        if self.full is not None:
            return self.full.to(device, non_blocking=True).float()
        return self.up.to(device, non_blocking=True).float() @ self.down.to(device, non_blocking=True).float()


@dataclass
class _Target:
    """One parameter the stack writes: its module, its base copy, and each LoRA's deltas of it."""

    module: torch.nn.Module
    attr: str  # "weight" | "bias"
    base: torch.Tensor
    own_base: bool  # a copy made by the stack (not the swap's kept weights)
    deltas: dict[str, list[_Delta]] = field(default_factory=dict)
    applied: tuple[tuple[str, float], ...] = ()  # the (LoRA, alpha) terms its value holds now

    @property
    def param(self) -> torch.Tensor:
        return getattr(self.module, self.attr)


@contextmanager
def _exact_matmul() -> Iterator[None]:
    """float32 products in full float32 (no TF32), whatever the process set."""
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


class LoraStack:
    """The LoRAs merged into one model, each under a key, with alphas set for the whole stack at once.

    `bases` maps parameter names to base tensors kept elsewhere (an expert swapped in from CPU memory keeps
    its unmerged weights there); other base copies are made, where `placement` says, when a LoRA first
    touches a parameter. With `live` False the stack only records alphas (its model's weights are not
    there); `refresh()` then writes every parameter it changes.
    """

    def __init__(self, model: torch.nn.Module, placement: LoraPlacement | None = None,
                 bases: Mapping[str, torch.Tensor] | None = None, target: str = "Wan2.1-T2V-14B"):
        self.model = model
        self.placement = placement or LoraPlacement()
        self.target_words = target
        self._bases = bases
        self.targets: dict[str, _Target] = {}
        self.files: dict[str, Path] = {}
        self.stack: tuple[tuple[str, float], ...] = ()
        self.version = 0  # changes whenever a weight is written (plans re-sync their copies)
        self.live = True
        self.writes = 0  # parameters written so far (tests and the benchmark count merges with it)
        self._arena = PinnedArena()  # pinned copies without the host allocator's power-of-two rounding

    # ---- which LoRAs -------------------------------------------------------------------------------
    def add(self, key: str, state: Mapping[str, torch.Tensor], path: Path) -> None:
        """Load one LoRA's factors under `key` (nothing is merged until `set`). A LoRA that does not fit
        the model raises ModelFilesError with one line naming its file."""
        if key in self.files:
            return
        shapes = {k: tuple(v.shape) for k, v in state.items()} if not hasattr(state, "shapes") else state.shapes()
        model_shapes = parameter_shapes(self.model)
        problems = lora_problems(shapes, model_shapes, path, self.target_words)
        if problems:
            raise ModelFilesError(problems)
        pairs, _ = pair_lora_keys(list(shapes), {n.rpartition(".")[0] for n in model_shapes})
        for module_name, keys in sorted(pairs.items()):
            module = self.model.get_submodule(module_name)
            scale = 1.0
            if keys.alpha_key is not None:
                scale = float(state[keys.alpha_key]) / shapes[keys.down_key][0]
            if keys.low_rank:
                t = self._target(module_name, module, "weight")
                where, dev = self._factor_place(t)
                dt = t.param.dtype
                down = _place(state[keys.down_key], where, dev, dt, self._arena)
                t.deltas.setdefault(key, []).append(_Delta(scale, down=down,
                                                           up=_place(state[keys.up_key], where, dev, dt, self._arena)))
            for attr, full_key in (("weight", keys.diff_key), ("bias", keys.diff_b_key)):
                if full_key is not None:
                    t = self._target(module_name, module, attr)
                    where, dev = self._factor_place(t)
                    full = _place(state[full_key], where, dev, t.param.dtype, self._arena)
                    t.deltas.setdefault(key, []).append(_Delta(1.0, full=full))
        self.files[key] = Path(path)

    def _factor_place(self, t: _Target) -> tuple[str, torch.device]:
        """("device", where) or ("pinned" | "cpu", CPU) for one target's factors ("merge": the merge device)."""
        where = self.placement.factors
        if where == "merge" and self.placement.merge_device is not None:
            return "device", self.placement.merge_device
        return ("device" if where == "merge" else where), t.param.device

    def remove(self, key: str) -> None:
        """Drop a LoRA's factors; its terms leave the weights at the next `set`."""
        for t in self.targets.values():
            t.deltas.pop(key, None)
        self.files.pop(key, None)

    def _target(self, module_name: str, module: torch.nn.Module, attr: str) -> _Target:
        name = f"{module_name}.{attr}"
        t = self.targets.get(name)
        if t is None:
            param = getattr(module, attr)
            kept = self._bases is not None and name in self._bases
            base = self._bases[name] if kept else _place(param, self.placement.base, param.device, None, self._arena)
            t = self.targets[name] = _Target(module, attr, base, own_base=not kept)
        return t

    # ---- alphas ------------------------------------------------------------------------------------
    def alpha(self, key: str) -> float:
        return dict(self.stack).get(key, 0.0)

    def set(self, stack: Sequence[tuple[str, float]]) -> int:
        """Make the weights W_base + the sum over `stack` (key, alpha), in that order; LoRAs not named get
        alpha 0. Only parameters whose terms change are written. Returns how many were written."""
        unknown = [k for k, _ in stack if k not in self.files]
        if unknown:
            raise KeyError(f"no LoRA loaded under {unknown[0]!r}")
        self.stack = tuple((k, float(a)) for k, a in stack)
        return self._write(force=False) if self.live else 0

    def refresh(self) -> int:
        """Write every parameter the stack changes (the model's weights were replaced, e.g. swapped in)."""
        return self._write(force=True)

    def _terms(self, t: _Target) -> tuple[tuple[str, float], ...]:
        return tuple((k, a) for k, a in self.stack if a != 0.0 and k in t.deltas)

    @torch.no_grad()
    def _write(self, force: bool) -> int:
        written = 0
        devices: set[torch.device] = set()
        with _exact_matmul():
            for t in self.targets.values():
                terms = self._terms(t)
                if not force and terms == t.applied:
                    continue
                param = t.param
                dev = self.placement.merge_device if param.device.type == "cpu" and \
                    self.placement.merge_device is not None else param.device
                merged = t.base.to(dev, non_blocking=True).to(torch.float32, copy=True)
                for k, alpha in terms:
                    for d in t.deltas[k]:
                        merged.add_(d.on(dev), alpha=alpha * d.scale)
                param.copy_(merged.to(param.dtype), non_blocking=True)
                t.applied = terms
                written += 1
                devices.update(d for d in (dev, param.device) if d.type == "cuda")
        for d in devices:  # the copies into the weights are complete before anyone reads them
            torch.cuda.synchronize(d)
        if written:
            self.version += 1
            self.writes += written
        return written

    # ---- sizes -------------------------------------------------------------------------------------
    def base_bytes(self) -> int:
        """Bytes of the base copies this stack made."""
        return sum(t.base.numel() * t.base.element_size() for t in self.targets.values() if t.own_base)

    def factor_bytes(self) -> int:
        return sum(x.numel() * x.element_size() for t in self.targets.values() for ds in t.deltas.values()
                   for d in ds for x in (d.down, d.up, d.full) if x is not None)

    def record(self) -> list[dict[str, object]]:
        """The stack as plain data (the sidecar): every LoRA with its file and alpha, in order."""
        return [{"key": k, "file": str(self.files[k]), "alpha": a} for k, a in self.stack]


class MergedLora:
    """One LoRA with one alpha (the Wan2.1 Pusa LoRA alone): a stack of one, kept for its simple API."""

    KEY = "pusa"

    def __init__(self, model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path,
                 placement: LoraPlacement | None = None):
        self.path = Path(path)
        self.stack = LoraStack(model, placement)
        self.stack.add(self.KEY, state, self.path)
        self.alpha: float | None = None

    @property
    def layers(self) -> list[_Target]:
        return list(self.stack.targets.values())

    def set_alpha(self, alpha: float) -> None:
        """Write W_base + alpha * s * (B @ A) into every layer (fp32 accumulation, cast once)."""
        self.stack.set([(self.KEY, alpha)])
        self.alpha = alpha
