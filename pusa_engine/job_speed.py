"""How one job runs the DiT: the process's speed options plus the request's (FP8), and the "optimizing for
this size" phase the first compiled job at a size reports before its first step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from .compiling import compile_enabled, size_done, size_status
from .dit import SpeedOptions, get_speed_options
from .events import EventCallback, Phase, PhaseProgress
from .plans import DevicePlan
from .request import GenerationRequest
from .sampler import StepInfo

OPTIMIZING_NEW = "optimizing for this size: the first job at a size compiles the DiT (once on this machine)"
OPTIMIZING_CACHED = "optimizing for this size: loading its compiled code from this machine's cache"


def job_speed(req: GenerationRequest, base: SpeedOptions | None = None) -> SpeedOptions:
    """The speed options of one job: the process's, with FP8 when the request (or the process) asks."""
    base = base or get_speed_options()
    return replace(base, fp8=bool(base.fp8 or req.fp8))


def size_key(plan: DevicePlan, req: GenerationRequest, latent_shape: tuple[int, ...], speed: SpeedOptions) -> str:
    """What one compiled size is: the plan's kind and GPUs, the latent shape, the dtype and the options that
    change the compiled graphs (CFG 1 splits the sequence on two GPUs; FP8)."""
    gpus = ",".join(torch.cuda.get_device_name(d) if d.type == "cuda" else d.type for d in plan.dit_devices)
    dtype = str(plan.dtype).replace("torch.", "")
    shape = "x".join(str(n) for n in latent_shape)
    cfg = "cfg1" if req.cfg == 1 else "cfg"
    fused = "" if speed.fused == "auto" else f"|fused{int(bool(speed.fused))}"  # auto: with the compiled phases
    return f"{plan.kind}|{gpus}|{dtype}|{shape}|{cfg}|fp8{int(speed.fp8)}|tune{int(speed.tune)}{fused}"


class CompileNotice:
    """Says "optimizing for this size" before the first step of a job that compiles (the first compiled job
    at a size in this process), and records the size once that job's first step has run."""

    def __init__(self, plan: DevicePlan, req: GenerationRequest, latent_shape: tuple[int, ...], speed: SpeedOptions):
        self.key: str | None = None
        if speed.compile is False or not compile_enabled(speed.compile, plan.dit_devices[0]):
            return
        key = size_key(plan, req, latent_shape, speed)
        self.status = size_status(key)
        if self.status is not None:
            self.key = key

    @property
    def pending(self) -> bool:
        return self.key is not None

    def announce(self, emit: EventCallback) -> None:
        if self.key is not None:
            words = OPTIMIZING_CACHED if self.status == "cached" else OPTIMIZING_NEW
            emit(PhaseProgress(Phase.OPTIMIZING, 0, 1, words))

    def step_done(self) -> None:
        if self.key is not None:
            size_done(self.key)
            self.key = None

    def wrap(self, on_step: Callable[[StepInfo], None]) -> Callable[[StepInfo], None]:
        """`on_step`, recording the size after the first step (the compiled graphs exist by then)."""
        def call(info: StepInfo) -> None:
            on_step(info)
            self.step_done()

        return call
