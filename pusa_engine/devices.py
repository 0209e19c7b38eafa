"""Device plans: where the DiT, the text encoder and the VAE run, and how a denoising step uses them.

A plan is chosen automatically from the GPUs found and their free memory (overridable by name) and is
reported to the caller (`plan.describe()`). Every plan computes the same function: only placement and
concurrency differ, so a request and seed give the same video within bf16 rounding on any plan.

Plans (name -> what runs where):
- `cpu`: everything on the CPU in float32 (tests, the demo model).
- `cuda:N`: one GPU, the DiT resident; the text encoder is moved to the GPU only while encoding.
- `cuda:N+offload`: one GPU too small for the DiT: its 40 blocks stay in pinned CPU memory and are
  streamed to two GPU slots on a copy stream, one block ahead of the compute.
- `cuda:N,M`: two GPUs, a DiT copy on each. With CFG the conditional pass runs on the first and the
  unconditional on the second, concurrently (one Python thread per GPU; only the latents and the
  velocity cross). With CFG 1 the single pass is split over both (the sequence split below).
- `cuda:N,M+seq`: two GPUs, every pass split over both: each GPU owns half of the token rows of
  every frame; around each self-attention the q/k/v of half the heads are exchanged (Ulysses-style,
  40 heads / 2) and the outputs sent back. Plain device-to-device copies, no NCCL, one process.
- `cuda:N,M+split`: two GPUs that cannot each hold a DiT: the blocks are divided between them and the
  tokens cross once per pass; text encoder and VAE on the second.
Two-GPU plans may name the same GPU twice (`cuda:0,0`): the same code paths on one device, for tests.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import torch

from .dit import (
    RotaryTable,
    SpeedOptions,
    attention,
    block_finish,
    block_forward,
    block_modulation,
    dit_forward,
    get_speed_options,
    head_forward,
    patch_tokens,
    rotary_table,
    self_attn_qkv,
    time_modulation,
    unpatchify,
)
from .sampler import Denoiser

CPU = torch.device("cpu")

# What a 480p, 81-frame job needs on a GPU besides the DiT's weights (activations of a pass, the
# VAE and its decode): measured peak minus weights was about 5 GB on an H100; keep a margin.
WORK_BYTES = 8 * 2**30
DIT_14B_BYTES = 14_288_491_584 * 2  # Wan2.1-T2V-14B in bf16
T5_XXL_BYTES = 11_361_820_672  # umt5-xxl encoder in bf16

KINDS = {
    "cpu": "CPU",
    "gpu": "1 GPU",
    "offload": "1 GPU, DiT blocks streamed from CPU memory",
    "cfg-parallel": "2 GPUs, CFG-parallel (sequence split when CFG = 1)",
    "seq-split": "2 GPUs, sequence split (Ulysses heads exchange)",
    "mem-split": "2 GPUs, DiT blocks divided between them",
}
TWO_DEVICE_KINDS = ("cfg-parallel", "seq-split", "mem-split")


@dataclass
class DevicePlan:
    name: str
    dit_devices: list[torch.device]
    text_device: torch.device
    vae_device: torch.device
    dtype: torch.dtype
    notes: list[str] = field(default_factory=list)
    kind: str = "gpu"
    speed: SpeedOptions | None = None  # None: dit.get_speed_options() at each call
    keep_text_encoder: bool = False  # leave it on its GPU between prompts (when memory allows)
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    # Per-model state (the second DiT, the block streamer, the text encoder's CPU weights) is kept on
    # the model objects themselves, so it is freed with them when the engine closes.

    @property
    def state_device(self) -> torch.device:
        """Where the float32 noise and latents live."""
        return self.dit_devices[0]

    @property
    def load_device(self) -> torch.device:
        """Where the loader puts the DiT's weights (prepare_dit then places them)."""
        return CPU if self.kind == "offload" else self.dit_devices[0]

    def describe(self) -> str:
        kind = {torch.float32: "float32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]
        where = ", ".join(_device_name(d) for d in self.dit_devices)
        return f"{self.name}: DiT on {where} ({kind})" + "".join(f"; {n}" for n in self.notes)

    @contextmanager
    def text_encoder_on(self, encoder: torch.nn.Module, device: torch.device | None = None) -> Iterator[None]:
        """The text encoder on `device` (the plan's text device) while encoding.

        Released afterwards unless `keep_text_encoder`: its CPU weights are kept, so releasing only drops
        the GPU copies (no 11 GB copy back to the CPU, which took 8.8 s on the H100 box).
        """
        device = device or self.text_device
        if device.type == "cpu":
            yield
            return
        loan = encoder.__dict__.get("_pusa_loan")
        if loan is None:
            loan = encoder.__dict__["_pusa_loan"] = WeightsOnLoan(encoder)
        loan.lend(device)
        try:
            yield
        finally:
            if not self.keep_text_encoder:
                loan.give_back()

    # ---- placement --------------------------------------------------------------------------------
    def prepare_dit(self, dit: torch.nn.Module) -> None:
        """Place a freshly loaded DiT as the plan wants it (called once, right after loading)."""
        if self.kind == "offload":
            dit.__dict__["_pusa_streamer"] = BlockStreamer(dit, self.dit_devices[0])
        elif self.kind == "mem-split":
            split_blocks(dit, self.dit_devices)

    def _workers(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.dit_devices) - 1),
                                            thread_name_prefix="pusa-gpu")
        return self._pool

    def replicas(self, dit: torch.nn.Module, weights_version: object = None) -> list[torch.nn.Module]:
        """One DiT per device (the loaded one first); copies are re-synced when the weights change."""
        state = dit.__dict__.setdefault("_pusa_replicas", {"version": weights_version, "copies": {}})
        copies = state["copies"]
        if weights_version != state["version"]:
            for r in copies.values():
                sync_weights(dit, r)
            state["version"] = weights_version
        out = [dit]
        for d in self.dit_devices[1:]:
            if d == self.dit_devices[0]:
                out.append(dit)  # the same device named twice: share the weights (tests, one-GPU checks)
                continue
            if str(d) not in copies:
                copies[str(d)] = replicate(dit, d)
            out.append(copies[str(d)])
        return out

    # ---- the denoiser -----------------------------------------------------------------------------
    def denoiser(self, dit: torch.nn.Module, prompts: Prompts, cfg: float, weights_version: object = None) -> Denoiser:
        """The function the sampler calls each step: CFG and this plan's devices inside it.

        `weights_version` changes whenever the DiT's weights change (the LoRA alpha): two-GPU plans then
        copy them to their second DiT before the next step.
        """
        speed = self.speed
        if self.kind in ("cpu", "gpu"):
            return single_device_denoiser(dit, prompts, cfg, speed=speed)
        if self.kind == "offload":
            if "_pusa_streamer" not in dit.__dict__:
                self.prepare_dit(dit)
            return single_device_denoiser(dit, prompts, cfg, speed=speed, blocks=dit.__dict__["_pusa_streamer"].blocks)
        if self.kind == "mem-split":
            return memory_split_denoiser(dit, self.dit_devices, prompts, cfg, speed=speed)
        dits = self.replicas(dit, weights_version)
        if self.kind == "cfg-parallel" and prompts.negative is not None:
            return cfg_parallel_denoiser(dits, self.dit_devices, prompts, cfg, self._workers(), speed=speed)
        return sequence_split_denoiser(dits, self.dit_devices, prompts, cfg, self._workers(), speed=speed)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} {torch.cuda.get_device_name(device)}"
    return str(device)


# ---- choosing a plan ----------------------------------------------------------------------------------
def make_plan(kind: str, devices: list[torch.device], dtype: torch.dtype | None = None,
              speed: SpeedOptions | None = None) -> DevicePlan:
    """A plan of `kind` over explicit devices (tests use two CPU "devices")."""
    if kind not in KINDS:
        raise ValueError(f"unknown plan kind {kind!r}; one of {', '.join(KINDS)}")
    devices = [torch.device(d) for d in devices]
    if dtype is None:
        dtype = torch.float32 if devices[0].type == "cpu" else torch.bfloat16
    if kind in TWO_DEVICE_KINDS and len(devices) < 2:
        raise ValueError(f"plan kind {kind!r} needs two devices")
    first, last = devices[0], devices[-1]
    notes = []
    if any(d.type == "cuda" for d in devices):
        notes.append("text encoder released to the CPU after encoding")
    text, vae = first, first
    if kind == "cfg-parallel":
        text = last
    elif kind in ("seq-split", "mem-split"):
        text, vae = last, last
    if kind == "offload":
        notes.append("DiT blocks streamed from pinned CPU memory")
    if kind == "cfg-parallel":
        notes.append("CFG passes on both GPUs at once; sequence split when CFG = 1")
    name = KINDS[kind]
    return DevicePlan(name, devices, text, vae, dtype, notes, kind=kind, speed=speed)


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
        if len(gpus) == 1:
            kind = {"": "gpu", "offload": "offload"}.get(mode)
        else:
            kind = {"": "cfg-parallel", "seq": "seq-split", "split": "mem-split"}.get(mode)
        if kind is not None and len(gpus) <= 2:
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
    if dev.type != "cuda" or plan.kind == "offload":
        return False
    share = {"gpu": dit_bytes, "cfg-parallel": dit_bytes, "seq-split": dit_bytes, "mem-split": dit_bytes // 2}
    need = share.get(plan.kind, dit_bytes) + WORK_BYTES + text_bytes
    return torch.cuda.mem_get_info(dev)[0] >= need


# ---- weights on several devices ------------------------------------------------------------------------
def replicate(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A copy of `module` with every parameter and buffer on `device`, copied tensor by tensor."""
    memo = {}
    for p in module.parameters():
        memo[id(p)] = torch.nn.Parameter(p.detach().to(device, copy=True), requires_grad=False)
    for b in module.buffers():
        memo[id(b)] = b.to(device, copy=True)
    ours = [k for k in module.__dict__ if k.startswith("_pusa_")]  # per-model plan state is not copied
    for k in ours:
        memo[id(module.__dict__[k])] = None
    out = copy.deepcopy(module, memo)
    for k in ours:
        out.__dict__.pop(k, None)
    return out


@torch.no_grad()
def sync_weights(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    for (_, a), (_, b) in zip(src.named_parameters(), dst.named_parameters(), strict=True):
        b.copy_(a, non_blocking=True)


def split_blocks(dit: torch.nn.Module, devices: list[torch.device]) -> list[int]:
    """Move the DiT's blocks to the devices in contiguous runs (the rest stays on the first)."""
    n = len(dit.blocks)
    bounds = [round(i * n / len(devices)) for i in range(len(devices) + 1)]
    for d, dev in enumerate(devices):
        for block in dit.blocks[bounds[d]:bounds[d + 1]]:
            block.to(dev)
    return bounds


class WeightsOnLoan:
    """A module whose weights live on the CPU and visit a GPU: `lend` copies them there, `give_back`
    points the module at its CPU tensors again (nothing is copied back; the weights never change)."""

    def __init__(self, module: torch.nn.Module):
        self.tensors = [(m, name, is_param) for m in module.modules()
                        for name, is_param in [(n, True) for n in m._parameters] + [(n, False) for n in m._buffers]
                        if (m._parameters if is_param else m._buffers)[name] is not None]
        self.home = [_get(m, name, p).data.to("cpu") for m, name, p in self.tensors]
        for (m, name, p), t in zip(self.tensors, self.home, strict=True):
            _set(m, name, p, t)
        self.device: torch.device | None = None

    def lend(self, device: torch.device) -> None:
        if self.device == device:
            return
        for (m, name, p), t in zip(self.tensors, self.home, strict=True):
            _set(m, name, p, t.to(device, non_blocking=True))
        self.device = device

    def give_back(self) -> None:
        if self.device is None:
            return
        for (m, name, p), t in zip(self.tensors, self.home, strict=True):
            _set(m, name, p, t)
        self.device = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _get(m: torch.nn.Module, name: str, is_param: bool) -> torch.Tensor:
    return m._parameters[name] if is_param else m._buffers[name]


def _set(m: torch.nn.Module, name: str, is_param: bool, t: torch.Tensor) -> None:
    if is_param:
        m._parameters[name].data = t
    else:
        m._buffers[name] = t


class BlockStreamer:
    """Keeps the DiT's blocks in (pinned) CPU memory and streams them to two slots on the GPU.

    The copy of block i+1 runs on its own stream while block i computes; an event per slot stops a
    copy from overwriting weights that a queued block still reads. The small layers stay resident.
    """

    def __init__(self, dit: torch.nn.Module, device: torch.device):
        self.device = device
        self.cuda = device.type == "cuda"
        blocks = list(dit.blocks)
        for name, child in dit.named_children():
            if name != "blocks":
                child.to(device)
        for p in dit.parameters():
            p.requires_grad_(False)
        if self.cuda:
            for block in blocks:
                block.to(CPU)
                for p in block.parameters():
                    p.data = p.data.pin_memory()
        self.blocks_cpu = blocks
        self.slots = [replicate(blocks[0], device) for _ in range(2)]
        self.copy_stream = torch.cuda.Stream(device) if self.cuda else None

    def _load(self, i: int, ready, free) -> None:
        s = i % 2
        src = self.blocks_cpu[i]
        if not self.cuda:
            with torch.no_grad():
                for a, b in zip(src.parameters(), self.slots[s].parameters(), strict=True):
                    b.copy_(a)
            return
        with torch.cuda.stream(self.copy_stream):
            if free[s] is not None:
                self.copy_stream.wait_event(free[s])
            with torch.no_grad():
                for a, b in zip(src.parameters(), self.slots[s].parameters(), strict=True):
                    b.copy_(a, non_blocking=True)
            ready[s] = torch.cuda.Event()
            ready[s].record(self.copy_stream)

    def blocks(self) -> Iterator[torch.nn.Module]:
        """Yields each block's slot once its weights are there (the caller enqueues its compute)."""
        n = len(self.blocks_cpu)
        ready: list = [None, None]
        free: list = [None, None]
        self._load(0, ready, free)
        for i in range(n):
            if i + 1 < n:
                self._load(i + 1, ready, free)
            if self.cuda:
                torch.cuda.current_stream(self.device).wait_event(ready[i % 2])
            yield self.slots[i % 2]
            if self.cuda:
                free[i % 2] = torch.cuda.Event()
                free[i % 2].record(torch.cuda.current_stream(self.device))


# ---- prompts -----------------------------------------------------------------------------------------
@dataclass
class Prompts:
    """Text embeddings (after the DiT's text MLP) on the DiT device; negative is None without CFG."""

    positive: torch.Tensor
    negative: torch.Tensor | None


class _RopeCache:
    def __init__(self, dit: torch.nn.Module):
        self.dit = dit
        self.tables: dict[tuple, RotaryTable] = {}

    def get(self, grid: tuple[int, int, int], device: torch.device, rows: tuple[int, int] | None = None):
        key = (grid, str(device), rows)
        if key not in self.tables:
            self.tables[key] = rotary_table(self.dit, *grid, device, rows=rows)
        return self.tables[key]


def _grid(dit: torch.nn.Module, x: torch.Tensor) -> tuple[int, int, int]:
    pf, ph, pw = dit.patch_size
    return x.shape[2] // pf, x.shape[3] // ph, x.shape[4] // pw


# ---- one device ----------------------------------------------------------------------------------------
def single_device_denoiser(dit: torch.nn.Module, prompts: Prompts, cfg: float, speed: SpeedOptions | None = None,
                           blocks: Callable[[], Iterator[torch.nn.Module]] | None = None) -> Denoiser:
    """Both CFG passes on one device, one after the other."""
    ropes = _RopeCache(dit)

    def forward(x: torch.Tensor, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        rope = ropes.get(_grid(dit, x), x.device)
        return dit_forward(dit, x, t, context, rope, blocks=None if blocks is None else blocks(),
                           speed=speed or get_speed_options())

    def denoise(x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        v = forward(x, timesteps, prompts.positive).float()
        if prompts.negative is None:
            return v
        v_uncond = forward(x, timesteps, prompts.negative).float()
        return v_uncond + cfg * (v - v_uncond)

    return denoise


# ---- two devices: CFG-parallel -----------------------------------------------------------------------------
def cfg_parallel_denoiser(dits: list[torch.nn.Module], devices: list[torch.device], prompts: Prompts, cfg: float,
                          pool: ThreadPoolExecutor, speed: SpeedOptions | None = None) -> Denoiser:
    """Conditional pass on devices[0], unconditional on devices[1], launched by one thread each."""
    dev0, dev1 = devices[0], devices[1]
    pos = prompts.positive
    neg = prompts.negative.to(dev1)
    ropes = [_RopeCache(dits[0]), _RopeCache(dits[1])]

    def uncond(x: torch.Tensor, t: torch.Tensor, sp: SpeedOptions) -> torch.Tensor:
        with torch.no_grad(), _on(dev1):  # grad mode and current device are per thread
            x1, t1 = x.to(dev1), t.to(dev1)
            return dit_forward(dits[1], x1, t1, neg, ropes[1].get(_grid(dits[1], x1), dev1), speed=sp)

    def denoise(x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        sp = speed or get_speed_options()
        job = pool.submit(uncond, x, timesteps, sp)
        try:
            v = dit_forward(dits[0], x, timesteps, pos, ropes[0].get(_grid(dits[0], x), dev0), speed=sp).float()
        finally:
            v_uncond = job.result()  # enqueued on devices[1]; waiting here costs no device sync
        v_uncond = v_uncond.to(dev0).float()
        return v_uncond + cfg * (v - v_uncond)

    return denoise


def _on(device: torch.device):
    if device.type == "cuda":
        return torch.cuda.device(device)
    return nullcontext()


# ---- two devices: sequence split -------------------------------------------------------------------------
class _Exchange:
    """All-to-all between the threads of one process: each rank posts a list (one entry per rank),
    then takes its entries from everyone, copied to its device (torch orders cross-device copies
    against both devices' streams, so no host sync is needed)."""

    def __init__(self, n: int):
        self.n = n
        self.barrier = threading.Barrier(n)
        self.slots: list = [None] * n

    def all_to_all(self, rank: int, parts: list, device: torch.device) -> list:
        self.slots[rank] = parts
        self.barrier.wait()
        got = [tuple(t.to(device) for t in self.slots[src][rank]) for src in range(self.n)]
        self.barrier.wait()  # nobody posts the next exchange before everyone has read this one
        return got


def _bounds(n: int, parts: int) -> list[int]:
    return [round(i * n / parts) for i in range(parts + 1)]


def split_forward(dits: list[torch.nn.Module], devices: list[torch.device], x: torch.Tensor, timesteps: torch.Tensor,
                  contexts: list[torch.Tensor], ropes: list[_RopeCache], pool: ThreadPoolExecutor,
                  speed: SpeedOptions) -> torch.Tensor:
    """One DiT pass with every frame's token rows divided between the devices (Ulysses-style)."""
    n = len(devices)
    dev0 = devices[0]
    grid = patch_tokens(dits[0], x)  # [B, gf, gh, gw, dim] on devices[0]
    b, gf, gh, gw, dim = grid.shape
    rows = _bounds(gh, n)
    mod = time_modulation(dits[0], timesteps, x.dtype)
    heads = dits[0].blocks[0].self_attn.num_heads
    hb = _bounds(heads, n)
    tokens = [gf * (rows[r + 1] - rows[r]) * gw for r in range(n)]
    seg = [0, *itertools.accumulate(tokens)]
    ex = _Exchange(n)

    def rank(r: int) -> torch.Tensor:
        dev, dit = devices[r], dits[r]
        try:
            with torch.no_grad(), _on(dev):
                xr = grid[:, :, rows[r]:rows[r + 1]].reshape(b, -1, dim).to(dev)
                m = mod.to(dev)
                ctx = contexts[r]
                rope = ropes[r].get((gf, gh, gw), dev, (rows[r], rows[r + 1]))
                for block in dit.blocks:
                    bm = block_modulation(block, m.t_mod)
                    q, k, v = self_attn_qkv(block, xr, bm, rope, gf, speed)
                    got = ex.all_to_all(r, [(q[:, :, hb[j]:hb[j + 1]], k[:, :, hb[j]:hb[j + 1]],
                                             v[:, :, hb[j]:hb[j + 1]]) for j in range(n)], dev)
                    qa, ka, va = (torch.cat([g[i] for g in got], dim=1) for i in range(3))
                    if hb[r + 1] > hb[r]:
                        o = attention(qa, ka, va, speed).view(b, seg[-1], hb[r + 1] - hb[r], qa.shape[-1])
                    else:  # more ranks than heads: this rank has no heads to attend
                        o = qa.new_empty(b, seg[-1], 0, qa.shape[-1])
                    back = ex.all_to_all(r, [(o[:, seg[j]:seg[j + 1]],) for j in range(n)], dev)
                    out = torch.cat([g[0] for g in back], dim=2).flatten(2)
                    xr = block_finish(block, xr, out, ctx, bm, gf, speed)
                return head_forward(dit, xr, m.e, gf)
        except BaseException:
            ex.barrier.abort()  # wake the other ranks instead of leaving them waiting forever
            raise

    jobs = [pool.submit(rank, r) for r in range(1, n)]
    try:
        out0 = rank(0)
    finally:
        outs = [j.result() for j in jobs]
    parts = [o.to(dev0).view(b, gf, rows[r + 1] - rows[r], gw, -1) for r, o in enumerate([out0] + outs)]
    out = torch.cat(parts, dim=2).reshape(b, gf * gh * gw, -1)
    return unpatchify(dits[0], out, (gf, gh, gw))


def sequence_split_denoiser(dits: list[torch.nn.Module], devices: list[torch.device], prompts: Prompts, cfg: float,
                            pool: ThreadPoolExecutor, speed: SpeedOptions | None = None) -> Denoiser:
    """Every pass split over the devices; with CFG the two passes run one after the other."""
    pos = [prompts.positive.to(d) for d in devices]
    neg = None if prompts.negative is None else [prompts.negative.to(d) for d in devices]
    ropes = [_RopeCache(d) for d in dits]

    def denoise(x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        sp = speed or get_speed_options()
        v = split_forward(dits, devices, x, timesteps, pos, ropes, pool, sp).float()
        if neg is None:
            return v
        v_uncond = split_forward(dits, devices, x, timesteps, neg, ropes, pool, sp).float()
        return v_uncond + cfg * (v - v_uncond)

    return denoise


# ---- two devices: memory split -----------------------------------------------------------------------------
def memory_split_denoiser(dit: torch.nn.Module, devices: list[torch.device], prompts: Prompts, cfg: float,
                          speed: SpeedOptions | None = None) -> Denoiser:
    """The blocks live on different devices (split_blocks); the tokens follow them."""
    ropes = _RopeCache(dit)
    ctx_cache: dict[tuple[int, str], torch.Tensor] = {}

    def on(t: torch.Tensor, dev: torch.device, key: int | None = None) -> torch.Tensor:
        if t.device == dev:
            return t
        if key is None:
            return t.to(dev)
        k = (key, str(dev))
        if k not in ctx_cache:
            ctx_cache[k] = t.to(dev)
        return ctx_cache[k]

    def forward(x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, key: int) -> torch.Tensor:
        sp = speed or get_speed_options()
        grid = patch_tokens(dit, x)
        b, gf, gh, gw, dim = grid.shape
        tokens = grid.reshape(b, -1, dim)
        mod = time_modulation(dit, t, x.dtype)
        mods = {str(x.device): mod}
        for block in dit.blocks:
            dev = block.modulation.device
            if str(dev) not in mods:
                mods[str(dev)] = mod.to(dev)
            tokens = on(tokens, dev)
            tokens = block_forward(block, tokens, on(context, dev, key), mods[str(dev)].t_mod,
                                   ropes.get((gf, gh, gw), dev), gf, sp)
        tokens = on(tokens, x.device)
        return unpatchify(dit, head_forward(dit, tokens, mod.e, gf), (gf, gh, gw))

    def denoise(x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        v = forward(x, timesteps, prompts.positive, 0).float()
        if prompts.negative is None:
            return v
        v_uncond = forward(x, timesteps, prompts.negative, 1).float()
        return v_uncond + cfg * (v - v_uncond)

    return denoise
