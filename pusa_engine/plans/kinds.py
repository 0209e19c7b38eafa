"""One device plan per kind: CPU, one GPU, one GPU with streamed blocks, and three ways to use two GPUs."""

from __future__ import annotations

import torch

from ..sampler import Denoiser
from .base import CPU, DevicePlan
from .denoisers import Prompts, cfg_parallel_denoiser, memory_split_denoiser, single_device_denoiser
from .sequence_split import sequence_split_denoiser
from .state import ModelStates
from .streaming import BlockStreamer
from .weights import Replicas, split_blocks


class GpuPlan(DevicePlan):
    """One device, the DiT resident; both CFG passes one after the other."""

    kind = "gpu"
    title = "1 GPU"

    def denoiser(self, dit: torch.nn.Module, prompts: Prompts, cfg: float, weights_version: object = None) -> Denoiser:
        return single_device_denoiser(dit, prompts, cfg, speed=self.speed)


class CpuPlan(GpuPlan):
    """Everything on the CPU in float32 (tests, the demo model)."""

    kind = "cpu"
    title = "CPU"


class OffloadPlan(DevicePlan):
    """One GPU too small for the DiT: its blocks stay in pinned CPU memory and are streamed to two GPU
    slots on a copy stream, one block ahead of the compute."""

    kind = "offload"
    title = "1 GPU, DiT blocks streamed from CPU memory"
    note = "DiT blocks streamed from pinned CPU memory"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._streamer: ModelStates[BlockStreamer] = ModelStates()  # one per DiT (Wan2.2: per expert)

    @property
    def load_device(self) -> torch.device:
        return CPU

    def resident_dit_bytes(self, dit_bytes: int) -> int | None:
        return None

    def prepare_dit(self, dit: torch.nn.Module) -> None:
        self._streamer.set(dit, BlockStreamer(dit, self.dit_devices[0]))

    def denoiser(self, dit: torch.nn.Module, prompts: Prompts, cfg: float, weights_version: object = None) -> Denoiser:
        if self._streamer.get(dit) is None:
            self.prepare_dit(dit)
        return single_device_denoiser(dit, prompts, cfg, speed=self.speed, blocks=self._streamer.get(dit).blocks)


class ReplicatedPlan(DevicePlan):
    """Two (or more) devices, each holding a whole DiT: the loaded one and copies made on first use."""

    min_devices = 2
    text_on_last = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._replicas: ModelStates[Replicas] = ModelStates()  # one per DiT (Wan2.2: per expert)

    def replicas(self, dit: torch.nn.Module, weights_version: object = None) -> list[torch.nn.Module]:
        """One DiT per device (the loaded one first); copies are re-synced when the weights change."""
        reps = self._replicas.get(dit)
        if reps is None:
            reps = self._replicas.set(dit, Replicas(weights_version))
        return reps.for_devices(dit, self.dit_devices, weights_version)

    def use_replicas(self, dit: torch.nn.Module, copies: dict[str, torch.nn.Module],
                     weights_version: object = None) -> None:
        """Use copies of `dit` made elsewhere (by device name) instead of copying it again."""
        self._replicas.set(dit, Replicas(weights_version, copies))


class CfgParallelPlan(ReplicatedPlan):
    """A DiT on each of two GPUs: with CFG the conditional pass runs on the first and the unconditional
    on the second, concurrently (one thread per GPU; only the latents and the velocity cross). With
    CFG 1 the single pass is split over both (the sequence split)."""

    kind = "cfg-parallel"
    title = "2 GPUs, CFG-parallel (sequence split when CFG = 1)"
    note = "CFG passes on both GPUs at once; sequence split when CFG = 1"

    def denoiser(self, dit: torch.nn.Module, prompts: Prompts, cfg: float, weights_version: object = None) -> Denoiser:
        dits = self.replicas(dit, weights_version)
        if prompts.negative is not None:
            return cfg_parallel_denoiser(dits, self.dit_devices, prompts, cfg, self._workers(), speed=self.speed)
        return sequence_split_denoiser(dits, self.dit_devices, prompts, cfg, self._workers(), speed=self.speed)


class SequenceSplitPlan(ReplicatedPlan):
    """Every pass split over the GPUs: each owns part of every frame's token rows, and the heads are
    exchanged around each self-attention (Ulysses-style). Text encoder and VAE on the last GPU."""

    kind = "seq-split"
    title = "2 GPUs, sequence split (Ulysses heads exchange)"
    vae_on_last = True

    def denoiser(self, dit: torch.nn.Module, prompts: Prompts, cfg: float, weights_version: object = None) -> Denoiser:
        dits = self.replicas(dit, weights_version)
        return sequence_split_denoiser(dits, self.dit_devices, prompts, cfg, self._workers(), speed=self.speed)


class MemorySplitPlan(DevicePlan):
    """Two GPUs that cannot each hold a DiT: its blocks are divided between them and the tokens cross
    once per pass. Text encoder and VAE on the last GPU."""

    kind = "mem-split"
    title = "2 GPUs, DiT blocks divided between them"
    min_devices = 2
    text_on_last = True
    vae_on_last = True

    def resident_dit_bytes(self, dit_bytes: int) -> int | None:
        return dit_bytes // 2

    def prepare_dit(self, dit: torch.nn.Module) -> None:
        split_blocks(dit, self.dit_devices)

    def denoiser(self, dit: torch.nn.Module, prompts: Prompts, cfg: float, weights_version: object = None) -> Denoiser:
        return memory_split_denoiser(dit, self.dit_devices, prompts, cfg, speed=self.speed)


PLAN_CLASSES: dict[str, type[DevicePlan]] = {
    cls.kind: cls for cls in (CpuPlan, GpuPlan, OffloadPlan, CfgParallelPlan, SequenceSplitPlan, MemorySplitPlan)
}
