"""The DiT(s) of a loaded model family, where the plan put them, with one LoRA stack each.

Wan2.1 has one DiT; Wan2.2-A14B two experts, held resident or swapped through one set of GPU weights
(`experts.ExpertSwap`). Each expert's stack holds its Pusa LoRA (merged at load at the default alpha, so
the first job pays no merge) and the extra LoRAs requests name (LightX2V), loaded on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from .dit import embed_context
from .experts import ExpertDenoiser, ExpertSwap
from .families import EXTRA_LORA_SOURCE, Expert, ModelFamily
from .loader import load_dit
from .lora import LoraStack, load_lora_state, pair_lora_keys, parameter_shapes
from .lora_specs import LoraSpec
from .model_files import ModelFolder
from .plans import DevicePlan, Prompts
from .plans.placement import expert_mode, lora_placement, settle_text_encoder
from .sampler import Denoiser
from .schedules import ExpertSwitch
from .validation import extra_lora_targets, target_words

PUSA = "pusa"
KEEP_EXTRA = 2  # extra LoRA files kept loaded per expert besides those a request names (switching back is free)

ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class LoraUse:
    """One LoRA of a job's stack: its key in the stacks, file, alpha and the experts it merges into."""

    key: str
    path: Path
    alpha: float
    experts: tuple[str, ...]
    role: str = ""


class DiTSet:
    def __init__(self, family: ModelFamily, folder: ModelFolder | None, plan: DevicePlan,
                 pusa_loras: dict[str, Path], experts: str = "auto"):
        self.family = family
        self.folder = folder
        self.plan = plan
        self.pusa_loras = pusa_loras
        self.requested_mode = experts
        self.mode = "resident"
        self.models: dict[str, torch.nn.Module] = {}
        self.swap: ExpertSwap | None = None
        self.stacks: dict[str, LoraStack] = {}
        self._extra_order: list[str] = []  # extra LoRA keys, least recently used first

    # ---- loading ---------------------------------------------------------------------------------------
    def load(self, progress: ProgressFn | None = None) -> None:
        """Every expert from the model folder, placed by the plan, each Pusa LoRA merged at its default alpha."""
        self.place(lambda expert, device, pin: load_dit(self.folder.for_expert(expert), self.plan.dtype, device,
                                                        progress=progress, pin=pin))

    def place(self, make: Callable[[Expert, torch.device, bool], torch.nn.Module],
              lora_states: dict[str, Mapping[str, torch.Tensor]] | None = None) -> None:
        """Place the experts `make(expert, device, pin)` builds (the loader, or the benchmark's random weights)
        and merge their Pusa LoRAs (read from `pusa_loras`, or given as `lora_states`)."""
        family, plan = self.family, self.plan
        self.mode = expert_mode(plan, family, self.requested_mode)
        if family.has_experts:
            resident = len(family.experts) if self.mode == "resident" else 1
            settle_text_encoder(plan, resident * family.dit_bytes, family.work_bytes)
        gpu = plan.dit_devices[0].type == "cuda"
        # swapped experts (and offloaded blocks) stay in page-locked CPU memory, copied to the GPU from there
        device = torch.device("cpu") if self.mode == "swap" else plan.load_device
        for expert in family.experts:
            dit = make(expert, device, gpu and device.type == "cpu")
            if self.mode != "swap":
                plan.prepare_dit(dit)
            self.models[expert.name] = dit
        if self.mode == "swap":
            self.swap = ExpertSwap(self.models, plan.dit_devices[0])
        for name, path in self.pusa_loras.items():
            given = lora_states.get(name) if lora_states is not None else None
            state = given if given is not None else load_lora_state(path, family.lora_source)
            self._stack(name, state, path).add(PUSA, state, path)
        default = family.defaults.lora_alpha
        self.apply([LoraUse(PUSA, p, default, (name,)) for name, p in self.pusa_loras.items()])
        if self.swap is not None:
            self.swap.activate(family.expert_names[0])  # the first job starts with it: merged now, not then

    def _stack(self, name: str, state, path: Path) -> LoraStack:
        if name in self.stacks:
            return self.stacks[name]
        target = target_words(self.family, name)
        if self.swap is not None:
            stack = self.swap.stack_for(name, target, factors=self._swap_factor_place(state))
        else:
            model = self.models[name]
            base_bytes, factor_bytes = _lora_bytes(model, state)
            placement = lora_placement(self.plan, model, base_bytes, factor_bytes, self.family.work_bytes)
            stack = LoraStack(model, placement, target=target)
        self.stacks[name] = stack
        return stack

    def _swap_factor_place(self, state) -> str:
        _, factor_bytes = _lora_bytes(self.swap.slot, state)
        placement = lora_placement(self.plan, self.swap.slot, 0, factor_bytes * len(self.family.experts),
                                   self.family.work_bytes)
        return "merge" if placement.factors == "device" else "pinned"

    def _add(self, expert: str, key: str, path: Path, source: str) -> None:
        state = load_lora_state(path, source)
        self._stack(expert, state, path).add(key, state, path)

    # ---- the LoRA stack of a job -------------------------------------------------------------------------
    def uses(self, request_alphas: dict[str, float], extras: list[LoraSpec]) -> list[LoraUse]:
        """The whole stack of a job: each expert's Pusa LoRA at its alpha, then the request's LoRAs."""
        out = [LoraUse(PUSA, path, request_alphas[name], (name,), "pusa") for name, path in self.pusa_loras.items()]
        for spec in extras:
            path = Path(spec.path)
            experts = tuple(extra_lora_targets(self.family, spec.expert))
            out.append(LoraUse(f"extra:{path.resolve()}", path, float(spec.alpha), experts, spec.role))
        return out

    def apply(self, uses: list[LoraUse]) -> None:
        """Load the files not loaded yet, then set every expert's stack (only changed weights are written)."""
        for use in uses:
            for name in use.experts:
                stack = self.stacks.get(name)
                if stack is None or use.key not in stack.files:
                    source = self.family.lora_source if use.key == PUSA else EXTRA_LORA_SOURCE
                    self._add(name, use.key, use.path, source)
            if use.key != PUSA:
                self._extra_order = [k for k in self._extra_order if k != use.key] + [use.key]
        self._forget_extras({u.key for u in uses})
        for name, stack in self.stacks.items():
            stack.set([(u.key, u.alpha) for u in uses if name in u.experts])

    def _forget_extras(self, wanted: set[str]) -> None:
        idle = [k for k in self._extra_order if k not in wanted]
        for key in idle[:max(0, len(idle) - KEEP_EXTRA)]:
            for stack in self.stacks.values():
                stack.remove(key)
            self._extra_order.remove(key)

    def record(self, uses: list[LoraUse]) -> list[dict[str, object]]:
        """The stack as the sidecar records it."""
        return [{"file": str(u.path.resolve()), "alpha": u.alpha, "experts": list(u.experts),
                 "role": u.role or ("pusa" if u.key == PUSA else "")} for u in uses]

    # ---- the models a job runs ---------------------------------------------------------------------------
    @property
    def first(self) -> torch.nn.Module:
        """The DiT that the first step runs (Wan2.1's only DiT; the high-noise expert, or the swap's slot)."""
        return self.swap.slot if self.swap is not None else self.models[self.family.expert_names[0]]

    def model(self, name: str) -> torch.nn.Module:
        return self.swap.activate(name) if self.swap is not None else self.models[name]

    def weights_version(self, name: str) -> object:
        if self.swap is not None:
            return self.swap.weights_version()
        stack = self.stacks.get(name)
        return stack.version if stack is not None else 0

    def denoiser(self, cfg: float, positive: torch.Tensor, negative: torch.Tensor | None,
                 boundary: float | None = None) -> ExpertDenoiser:
        """The job's denoiser: each step runs the expert its base sigma picks, with the plan's placement.
        `positive` / `negative` are text-encoder outputs; each expert embeds them with its own text MLP."""
        names = list(self.family.expert_names)

        def make(name: str) -> Denoiser:
            model = self.model(name)
            with torch.no_grad():
                prompts = Prompts(embed_context(model, positive),
                                  embed_context(model, negative) if negative is not None else None)
            return self.plan.denoiser(model, prompts, cfg, weights_version=(name, self.weights_version(name)))

        switch = ExpertSwitch(boundary if boundary is not None else self.family.boundary) \
            if self.family.has_experts else None
        return ExpertDenoiser(names, make, switch)


def _lora_bytes(model: torch.nn.Module, state) -> tuple[int, int]:
    """(bytes of the parameters a LoRA file changes, bytes of its factors in the model's dtype)."""
    shapes = state.shapes() if hasattr(state, "shapes") else {k: tuple(v.shape) for k, v in state.items()}
    params = dict(model.named_parameters())
    pairs, _ = pair_lora_keys(list(shapes), {n.rpartition(".")[0] for n in parameter_shapes(model)})
    elem = next(iter(params.values())).element_size()
    base = factors = 0
    for module, keys in pairs.items():
        for attr, present in (("weight", keys.low_rank or keys.diff_key), ("bias", keys.diff_b_key)):
            p = params.get(f"{module}.{attr}")
            if present and p is not None:
                base += p.numel() * p.element_size()
        for k in keys.keys():
            factors += _numel(shapes[k]) * elem
    return base, factors


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
