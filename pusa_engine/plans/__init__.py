"""Device plans: where the DiT, the text encoder and the VAE run, and how a denoising step uses them.

A plan is chosen automatically from the GPUs found and their free memory (overridable by name) and is
reported to the caller (`plan.describe()`). Every plan computes the same function: only placement and
concurrency differ, so a request and seed give the same video within bf16 rounding on any plan.

Plans (name -> kind -> class, in `kinds.py`):
- `cpu` (CpuPlan): everything on the CPU in float32 (tests, the demo model).
- `cuda:N` (GpuPlan): one GPU, the DiT resident; the text encoder is moved to the GPU only while encoding.
- `cuda:N+offload` (OffloadPlan): one GPU too small for the DiT: its 40 blocks stay in pinned CPU memory
  and are streamed to two GPU slots on a copy stream, one block ahead of the compute.
- `cuda:N,M` (CfgParallelPlan): two GPUs, a DiT copy on each. With CFG the conditional pass runs on the
  first and the unconditional on the second, concurrently (one Python thread per GPU; only the latents
  and the velocity cross). With CFG 1 the single pass is split over both (the sequence split below).
- `cuda:N,M+seq` (SequenceSplitPlan): two GPUs, every pass split over both: each GPU owns half of the
  token rows of every frame; around each self-attention the q/k/v of half the heads are exchanged
  (Ulysses-style, 40 heads / 2) and the outputs sent back. Plain device-to-device copies, no NCCL.
- `cuda:N,M+split` (MemorySplitPlan): two GPUs that cannot each hold a DiT: the blocks are divided
  between them and the tokens cross once per pass; text encoder and VAE on the second.
Two-GPU plans may name the same GPU twice (`cuda:0,0`): the same code paths on one device, for tests.

Modules by role: `base` (the DevicePlan protocol), `kinds` (one class per kind), `choose` (by name or
free memory), `denoisers` and `sequence_split` (the step functions), `weights` (copies, re-sync, block
placement, weights on loan), `streaming` (BlockStreamer), `state` (per-model state held on the plan, for one
model or for each expert of Wan2.2), `placement` (experts resident or swapped; where LoRA base copies live).
"""

from .base import CPU, DIT_14B_BYTES, T5_XXL_BYTES, WORK_BYTES, DevicePlan
from .choose import KINDS, TWO_DEVICE_KINDS, auto_plan_name, available_plans, choose_plan, keep_text_encoder, make_plan
from .denoisers import Prompts, cfg_parallel_denoiser, memory_split_denoiser, single_device_denoiser
from .kinds import (
    PLAN_CLASSES,
    CfgParallelPlan,
    CpuPlan,
    GpuPlan,
    MemorySplitPlan,
    OffloadPlan,
    ReplicatedPlan,
    SequenceSplitPlan,
)
from .sequence_split import sequence_split_denoiser, split_forward
from .state import ModelState
from .streaming import BlockStreamer
from .weights import Replicas, WeightsOnLoan, replicate, split_blocks, sync_weights

__all__ = [
    "CPU", "DIT_14B_BYTES", "KINDS", "PLAN_CLASSES", "T5_XXL_BYTES", "TWO_DEVICE_KINDS", "WORK_BYTES",
    "BlockStreamer", "CfgParallelPlan", "CpuPlan", "DevicePlan", "GpuPlan", "MemorySplitPlan", "ModelState",
    "OffloadPlan", "Prompts", "Replicas", "ReplicatedPlan", "SequenceSplitPlan", "WeightsOnLoan",
    "auto_plan_name", "available_plans", "cfg_parallel_denoiser", "choose_plan", "keep_text_encoder", "make_plan",
    "memory_split_denoiser", "replicate", "sequence_split_denoiser", "single_device_denoiser", "split_blocks",
    "split_forward", "sync_weights",
]
