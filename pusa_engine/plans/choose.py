"""Choosing a plan: by kind over explicit devices, by name, or "auto" from the GPUs' free memory."""

from __future__ import annotations

import torch

from ..dit import SpeedOptions
from .base import CPU, DIT_14B_BYTES, T5_XXL_BYTES, WORK_BYTES, DevicePlan
from .kinds import PLAN_CLASSES

KINDS = {kind: cls.title for kind, cls in PLAN_CLASSES.items()}
TWO_DEVICE_KINDS = tuple(kind for kind, cls in PLAN_CLASSES.items() if cls.min_devices >= 2)

# plan names: "cuda:N" + suffix with one GPU, "cuda:N,M" + suffix with two
_NAMED = {(1, ""): "gpu", (1, "offload"): "offload",
          (2, ""): "cfg-parallel", (2, "seq"): "seq-split", (2, "split"): "mem-split"}


def make_plan(kind: str, devices: list[torch.device], dtype: torch.dtype | None = None,
              speed: SpeedOptions | None = None) -> DevicePlan:
    """A plan of `kind` over explicit devices (tests use two CPU "devices")."""
    if kind not in PLAN_CLASSES:
        raise ValueError(f"unknown plan kind {kind!r}; one of {', '.join(KINDS)}")
    return PLAN_CLASSES[kind](devices, dtype, speed)


def available_plans() -> list[str]:
    """Plan names a user may pick; "auto" chooses among them."""
    plans = ["auto", "cpu"]
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        for i in range(n):
            plans += [f"cuda:{i}", f"cuda:{i}+offload"]
        if n >= 2:
            plans += ["cuda:0,1", "cuda:0,1+seq", "cuda:0,1+split"]
    return plans


def _parse_gpus(spec: str) -> list[torch.device]:
    idx = [int(s) if s else 0 for s in spec.split(",")]
    for i in idx:
        if i >= torch.cuda.device_count():
            raise ValueError(f"plan 'cuda:{spec}': there are only {torch.cuda.device_count()} GPUs")
    return [torch.device("cuda", i) for i in idx]


def _free_bytes() -> list[int]:
    return [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]


def auto_plan_name(free: list[int], dit_bytes: int = DIT_14B_BYTES, work_bytes: int = WORK_BYTES) -> str:
    """The plan "auto" picks for GPUs with these free bytes (pure, so it is tested without GPUs)."""
    if not free:
        return "cpu"
    order = sorted(range(len(free)), key=lambda i: -free[i])
    whole = dit_bytes + work_bytes
    if len(order) >= 2 and free[order[1]] >= whole:
        a, b = sorted(order[:2])
        return f"cuda:{a},{b}"
    if free[order[0]] >= whole:
        return f"cuda:{order[0]}"
    if len(order) >= 2:
        a, b = sorted(order[:2])
        half = dit_bytes // 2 + work_bytes
        if min(free[a], free[b]) >= half:
            return f"cuda:{a},{b}+split"
    block_bytes = dit_bytes // 38  # two streamed blocks + the small layers
    if free[order[0]] >= 3 * block_bytes + work_bytes:
        return f"cuda:{order[0]}+offload"
    return "cpu"


def choose_plan(name: str = "auto", dit_bytes: int | None = None) -> DevicePlan:
    """A plan by name ("auto", "cpu", "cuda:0", "cuda:0+offload", "cuda:0,1", "cuda:0,1+seq", ...)."""
    if name == "auto":
        name = auto_plan_name(_free_bytes() if torch.cuda.is_available() else [], dit_bytes or DIT_14B_BYTES)
    if name == "cpu":
        return make_plan("cpu", [CPU], torch.float32)
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"plan {name!r} needs an NVIDIA GPU, and none is visible; choose 'cpu'")
        spec, _, mode = name.partition("+")
        gpus = _parse_gpus(spec.partition(":")[2] or "0")
        kind = _NAMED.get((len(gpus), mode))
        if kind is not None:
            plan = make_plan(kind, gpus, torch.bfloat16)
            plan.keep_text_encoder = keep_text_encoder(plan, dit_bytes or DIT_14B_BYTES)
            if plan.keep_text_encoder:
                plan.notes[0:1] = [n.replace("released to the CPU after encoding", "kept on its GPU")
                                   for n in plan.notes[0:1]]
            return plan
    raise ValueError(f"unknown device plan {name!r}; choose one of {', '.join(available_plans())}")


def keep_text_encoder(plan: DevicePlan, dit_bytes: int, text_bytes: int = T5_XXL_BYTES) -> bool:
    """Keep the text encoder resident when its GPU still has room for it beside the DiT and a job."""
    dev = plan.text_device
    resident = plan.resident_dit_bytes(dit_bytes)
    if dev.type != "cuda" or resident is None:
        return False
    return torch.cuda.mem_get_info(dev)[0] >= resident + WORK_BYTES + text_bytes
