"""Where a plan puts what the model family adds: its experts (all resident, or swapped through one set of
GPU weights) and each LoRA stack's base copies and factors. Pure rules over free bytes, so they are tested
without GPUs, plus the calls that read the free bytes of the plan's devices."""

from __future__ import annotations

import torch

from ..families import ModelFamily
from ..lora import LoraPlacement
from .base import T5_XXL_BYTES, WORK_BYTES, DevicePlan

EXPERT_MODES = ("auto", "resident", "swap")


def expert_mode_for(free: int | None, experts: int, dit_bytes: int, work_bytes: int = WORK_BYTES) -> str:
    """"resident" when every expert fits beside a job's work (or the weights are not on a GPU), else "swap"."""
    if experts <= 1 or free is None:
        return "resident"
    return "resident" if free >= experts * dit_bytes + work_bytes else "swap"


def lora_places_for(room: int | None, base_bytes: int, factor_bytes: int) -> tuple[str, str]:
    """(where base copies go, where factors go) given the bytes left on the weights' GPU after a job's work
    (None: the weights are not on a GPU, so copies stay beside them)."""
    if room is None:
        return "device", "device"
    if room >= base_bytes + factor_bytes:
        return "device", "device"
    if room >= factor_bytes:
        return "pinned", "device"
    return "pinned", "pinned"


def _cuda(devices) -> list[torch.device]:
    return sorted({d for d in devices if d.type == "cuda"}, key=str)


def _free(device: torch.device) -> int:
    return torch.cuda.mem_get_info(device)[0]


def expert_mode(plan: DevicePlan, family: ModelFamily, requested: str = "auto") -> str:
    """How the plan holds the family's experts: the user's choice, else what the GPUs' free memory allows.

    Streaming (offload) and block-splitting plans hold every expert their own way ("resident")."""
    if requested not in EXPERT_MODES:
        raise ValueError(f"unknown expert placement {requested!r}; one of {', '.join(EXPERT_MODES)}")
    if requested != "auto":
        return requested if family.has_experts else "resident"
    gpus = _cuda(plan.dit_devices)
    if not gpus or plan.kind in ("offload", "mem-split"):
        return "resident"
    return expert_mode_for(min(_free(d) for d in gpus), len(family.experts), family.dit_bytes, family.work_bytes)


def settle_text_encoder(plan: DevicePlan, dit_bytes: int, work_bytes: int = WORK_BYTES) -> None:
    """Keep the text encoder on its GPU only when it still fits beside the DiT weights the plan holds there
    (`dit_bytes`: every resident expert) and a job's work at the family's default size."""
    resident = plan.resident_dit_bytes(dit_bytes)
    if plan.text_device.type != "cuda" or resident is None:
        return
    keep = _free(plan.text_device) >= resident + work_bytes + T5_XXL_BYTES
    if keep == plan.keep_text_encoder:
        return
    plan.keep_text_encoder = keep
    old, new = ("released to the CPU after encoding", "kept on its GPU") if keep else \
        ("kept on its GPU", "released to the CPU after encoding")
    plan.notes = [n.replace(old, new) for n in plan.notes]


def lora_placement(plan: DevicePlan, model: torch.nn.Module, base_bytes: int, factor_bytes: int,
                   work_bytes: int = WORK_BYTES) -> LoraPlacement:
    """Where a LoRA stack on `model` keeps its base copies and factors, and where it merges.

    Beside the weights on their GPU(s) when there is room after a job's work (and the text encoder, when the
    plan keeps it there), else in pinned CPU memory; weights kept in CPU memory (offload) merge on the
    plan's GPU, with the factors there when they fit."""
    blocks = getattr(model, "blocks", model)  # the block weights (an offloaded DiT keeps only them on the CPU)
    gpus = _cuda({p.device for p in blocks.parameters()})
    merge = plan.dit_devices[0] if plan.dit_devices[0].type == "cuda" else None
    if not gpus:
        if merge is None:
            return LoraPlacement("device", "device", None)
        room = _free(merge) - work_bytes
        return LoraPlacement("pinned", "merge" if room >= factor_bytes else "pinned", merge)
    share = len(gpus)  # the weights (and so the copies) are spread evenly over their GPUs
    room = min(_free(d) - work_bytes - (T5_XXL_BYTES if plan.keep_text_encoder and d == plan.text_device else 0)
               for d in gpus)
    base, factors = lora_places_for(room, base_bytes // share, factor_bytes // share)
    return LoraPlacement(base, factors, None)
