"""The device-plan protocol: what every plan offers the engine, and the state it keeps per model."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ClassVar

import torch

from ..dit import SpeedOptions
from ..sampler import Denoiser
from .denoisers import Prompts
from .state import ModelState, ModelStates
from .weights import WeightsOnLoan

CPU = torch.device("cpu")

# What a 480p, 81-frame job needs on a GPU besides the DiT's weights (activations of a pass, the
# VAE and its decode): measured peak minus weights was about 5 GB on an H100; keep a margin.
WORK_BYTES = 8 * 2**30
DIT_14B_BYTES = 14_288_491_584 * 2  # Wan2.1-T2V-14B in bf16
T5_XXL_BYTES = 11_361_820_672  # umt5-xxl encoder in bf16


class DevicePlan(ABC):
    """Where the DiT, the text encoder and the VAE run, and the denoiser a sampler step calls.

    One subclass per kind (`kinds.py`); a plan is made by `make_plan(kind, devices)` or
    `choose_plan(name)`. The engine owns its plan, and the plan keeps the state it needs per model (the
    text encoder's loan, the DiT's block streamer or copies); that state never keeps a model alive.
    """

    kind: ClassVar[str]
    title: ClassVar[str]  # the plan's name in words ("2 GPUs, sequence split ...")
    min_devices: ClassVar[int] = 1
    text_on_last: ClassVar[bool] = False  # the text encoder on the last device (else the first)
    vae_on_last: ClassVar[bool] = False
    note: ClassVar[str | None] = None  # what describe() adds about this kind

    def __init__(self, devices: list[torch.device | str], dtype: torch.dtype | None = None,
                 speed: SpeedOptions | None = None):
        devices = [torch.device(d) for d in devices]
        if len(devices) < self.min_devices:
            raise ValueError(f"plan kind {self.kind!r} needs two devices")
        self.name = self.title
        self.dit_devices = devices
        self.text_device = devices[-1] if self.text_on_last else devices[0]
        self.vae_device = devices[-1] if self.vae_on_last else devices[0]
        self.dtype = dtype if dtype is not None else torch.float32 if devices[0].type == "cpu" else torch.bfloat16
        self.speed = speed  # None: dit.get_speed_options() at each call
        self.keep_text_encoder = False  # leave it on its GPU between prompts (when memory allows)
        self.notes: list[str] = []
        if any(d.type == "cuda" for d in devices):
            self.notes.append("text encoder released to the CPU after encoding")
        if self.note:
            self.notes.append(self.note)
        self._pool: ThreadPoolExecutor | None = None
        self._loan: ModelState[WeightsOnLoan] = ModelState()
        self._text_users = 0  # nested text_encoder_on contexts: released when the outermost ends

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[str(d) for d in self.dit_devices]}, {self.dtype})"

    # ---- where things are -----------------------------------------------------------------------
    @property
    def state_device(self) -> torch.device:
        """Where the float32 noise and latents live."""
        return self.dit_devices[0]

    @property
    def load_device(self) -> torch.device:
        """Where the loader puts the DiT's weights (prepare_dit then places them)."""
        return self.dit_devices[0]

    def describe(self) -> str:
        kind = {torch.float32: "float32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]
        where = ", ".join(_device_name(d) for d in self.dit_devices)
        return f"{self.name}: DiT on {where} ({kind})" + "".join(f"; {n}" for n in self.notes)

    def resident_dit_bytes(self, dit_bytes: int) -> int | None:
        """The DiT's bytes on the text encoder's GPU, or None when the text encoder is never kept there."""
        return dit_bytes

    @property
    def text_home(self) -> torch.device:
        """Where the loader puts the text encoder: on its GPU when the plan keeps it there (streamed from
        the file, no CPU copy), else on the CPU (memory-mapped; lent to the GPU while encoding)."""
        if self.keep_text_encoder and self.text_device.type == "cuda":
            return self.text_device
        return CPU

    # ---- the text encoder ---------------------------------------------------------------------------
    @contextmanager
    def text_encoder_on(self, encoder: torch.nn.Module, device: torch.device | None = None) -> Iterator[None]:
        """The text encoder on `device` (the plan's text device) while encoding.

        Released afterwards unless `keep_text_encoder`: its CPU weights are kept, so releasing only drops
        the GPU copies (no 11 GB copy back to the CPU, which took 8.8 s on the H100 box).
        """
        device = device or self.text_device
        if device.type == "cpu" or _device_of(encoder) == device:  # already there (loaded to its GPU)
            yield
            return
        loan = self._loan.get(encoder)
        if loan is None:
            loan = self._loan.set(encoder, WeightsOnLoan(encoder))
        loan.lend(device)
        self._text_users += 1
        try:
            yield
        finally:
            self._text_users -= 1
            if not self.keep_text_encoder and self._text_users == 0:
                loan.give_back()

    # ---- the DiT ------------------------------------------------------------------------------------
    def prepare_dit(self, dit: torch.nn.Module) -> None:
        """Place a freshly loaded DiT as the plan wants it (called once, right after loading)."""
        return None  # most plans use it where the loader put it

    @abstractmethod
    def denoiser(self, dit: torch.nn.Module, prompts: Prompts, cfg: float, weights_version: object = None) -> Denoiser:
        """The function the sampler calls each step: CFG and this plan's devices inside it.

        `weights_version` changes whenever the DiT's weights change (the LoRA alpha): plans holding a
        copy of the DiT on another device then copy the weights again before the next step.
        """

    # ---- state ----------------------------------------------------------------------------------------
    def model_state(self) -> dict[str, object]:
        """The per-model state this plan holds now, by name (empty when it holds none)."""
        return {name: s.value for name, s in vars(self).items()
                if isinstance(s, (ModelState, ModelStates)) and s.value is not None}

    def release(self) -> None:
        """Drop every per-model state (the text encoder's weights go back to the CPU first) and the threads."""
        loan = self._loan.value
        if loan is not None:
            loan.give_back()
        for s in vars(self).values():
            if isinstance(s, (ModelState, ModelStates)):
                s.clear()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _workers(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.dit_devices) - 1),
                                            thread_name_prefix="pusa-gpu")
        return self._pool


def _device_of(module: torch.nn.Module) -> torch.device | None:
    p = next(module.parameters(), None)
    return None if p is None else p.device


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} {torch.cuda.get_device_name(device)}"
    return str(device)
