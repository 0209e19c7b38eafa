"""Which fused attention kernel runs each attention shape: PyTorch SDPA's exact backends (cuDNN, flash,
memory-efficient) and, where it is installed and the GPU is a Hopper or Blackwell, FlashAttention 4
(`flash-attn-4`, CuTe DSL, compiled on first use).

"auto" times every candidate once per (device, shape) and keeps the fastest: all of them compute softmax
attention exactly, differing only in the order of their float32 accumulations (bf16-rounding-equal). The
choice costs one host sync per new shape, none after. FlashAttention 4 is optional: without it, or when its
first call fails (a compiler it lacks, an unsupported GPU), the SDPA kernels run as before.

On Hopper FlashAttention 4 can also run in tiles of our choosing ("fa4-128x176": 128 query x 176 key rows,
as FlashAttention 3's C++ kernel does when not causal); "auto" times those named in PUSA_FA4_TILES like any
other kernel. None is timed by default: on an H200 its own 128x128 was the fastest at Wan's shapes (32.7 ms
against 33.1-34.3 ms for 144-192 key rows, 51-58 ms for 192 query rows; benchmarks/attention.py). Its
compiled kernels are kept on disk beside the engine's other compiled code, so each is compiled once per
machine.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

SDPA_BACKENDS = ("cudnn", "flash", "efficient", "math")
TIMED_RUNS = 3

_choice: dict[tuple, str] = {}
_failures: dict[tuple, dict[str, str]] = {}  # per shape: kernel -> why it could not run (for reports)
_timings: dict[tuple, dict[str, float]] = {}  # per shape: kernel -> its best time in seconds (for reports)
_lock = threading.Lock()
_fa4_func: Callable | None = None
_fa4_tiled: Callable | None = None
_fa4_reason: str | None = None
# Hopper tiles (query rows, key rows) timed beside FlashAttention 4's own; PUSA_FA4_TILES="128x176,..." overrides.
FA4_HOPPER_TILES: tuple[tuple[int, int], ...] = ()
FA4_TILES_ENV = "PUSA_FA4_TILES"


def fa4_hopper_tiles() -> list[tuple[int, int]]:
    """The extra FlashAttention 4 tiles timed on Hopper: FA4_HOPPER_TILES, or those named in PUSA_FA4_TILES
    ("" for none)."""
    named = os.environ.get(FA4_TILES_ENV)
    if named is None:
        return list(FA4_HOPPER_TILES)
    tiles = []
    for item in named.replace(" ", "").split(","):
        m, _, n = item.partition("x")
        if m.isdigit() and n.isdigit():
            tiles.append((int(m), int(n)))
    return tiles


def fa4_tile_name(tile: tuple[int, int]) -> str:
    return f"fa4-{tile[0]}x{tile[1]}"


def _tile_of(name: str) -> tuple[int, int]:
    m, n = name.removeprefix("fa4-").split("x")
    return int(m), int(n)


def _keep_fa4_kernels_on_disk() -> None:
    """FlashAttention 4 keeps its compiled kernels in memory only, unless told a folder: ours, beside inductor's."""
    from .compiling import compile_cache_dir

    os.environ.setdefault("FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED", "1")
    os.environ.setdefault("FLASH_ATTENTION_CUTE_DSL_CACHE_DIR", str(compile_cache_dir() / "flash_attn_4"))


def fa4_function() -> Callable | None:
    """FlashAttention 4's forward, or None when it is not installed (the reason: `fa4_unavailable()`)."""
    global _fa4_func, _fa4_tiled, _fa4_reason
    if _fa4_func is None and _fa4_reason is None:
        _keep_fa4_kernels_on_disk()
        try:
            from flash_attn.cute import flash_attn_func
            from flash_attn.cute.interface import _flash_attn_fwd
        except Exception as error:  # noqa: BLE001 - any import failure (missing wheel, DSL runtime) means "not here"
            _fa4_reason = f"{type(error).__name__}: {str(error).splitlines()[0][:160] if str(error) else ''}"
        else:
            _fa4_func, _fa4_tiled = flash_attn_func, _flash_attn_fwd
    return _fa4_func


def fa4_unavailable() -> str | None:
    fa4_function()
    return _fa4_reason


def keep_off_flash_attn_4(wan_dit_module) -> None:
    """FlashAttention 4 installs a package named `flash_attn` that lacks FA2's `flash_attn_func`; diffsynth's Wan
    DiT takes any importable `flash_attn` for FA2 and fails in its own attention (stock pipelines, the
    benchmark's comparison). Tell it FA2 is not here, so it uses PyTorch's attention as it does without it."""
    import sys

    flash_attn = sys.modules.get("flash_attn")
    if getattr(wan_dit_module, "FLASH_ATTN_2_AVAILABLE", False) and not hasattr(flash_attn, "flash_attn_func"):
        wan_dit_module.FLASH_ATTN_2_AVAILABLE = False


def _sdpa_backend(name: str):
    from torch.nn.attention import SDPBackend

    return {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
            "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}[name]


def _sdpa_kernel(name: str):
    from torch.nn.attention import sdpa_kernel

    order = [name] + [n for n in SDPA_BACKENDS if n != name]
    try:
        return sdpa_kernel([_sdpa_backend(n) for n in order], set_priority=True)
    except TypeError:  # older torch: no priority order, only the allowed set
        return sdpa_kernel([_sdpa_backend(name), _sdpa_backend("math")])


def candidates(device: torch.device, kv_len: int) -> list[str]:
    major, _ = torch.cuda.get_device_capability(device)
    names = ["cudnn", "flash"]
    if not (major >= 9 and kv_len > 4096):
        names.append("efficient")  # on Hopper with long keys it is far behind the two above
    if major in (9, 10) and fa4_function() is not None:
        names.append("fa4")
        if major == 9:
            names += [fa4_tile_name(tile) for tile in fa4_hopper_tiles()]
    return names


def run_kernel(name: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """q, k, v [B, L, H, D] -> [B, L, H, D] with the named kernel."""
    if name == "fa4":
        with torch.cuda.device(q.device):  # its launch uses the current device's stream
            out = _fa4_func(q, k, v, causal=False)
        return out[0] if isinstance(out, tuple) else out
    if name.startswith("fa4-"):  # a Hopper tile of our choosing: the same forward, inference only (no autograd)
        with torch.cuda.device(q.device):
            return _fa4_tiled(q, k, v, causal=False, tile_mn=_tile_of(name), mma_pv_is_rs=True,
                              intra_wg_overlap=True)[0]
    with _sdpa_kernel(name):
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)


def fastest_kernel(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> str:
    """The kernel "auto" uses for this shape: each candidate warmed up (FlashAttention 4 compiles here), then
    timed TIMED_RUNS times, the best run counting (another GPU's thread can hold the interpreter during one
    launch); a kernel that fails is left out. Threads of a two-GPU plan share the lock, so a kernel is
    compiled once per device, never by two threads at the same time."""
    key = (q.device, tuple(q.shape), tuple(k.shape), q.dtype)
    choice = _choice.get(key)
    if choice is not None:
        return choice
    with _lock:
        if key in _choice:
            return _choice[key]
        times = {}
        for name in candidates(q.device, k.shape[1]):
            try:
                run_kernel(name, q, k, v)  # warm-up: plans, workspaces, FlashAttention 4's compile
                torch.cuda.synchronize(q.device)
                for _ in range(TIMED_RUNS):
                    start = time.perf_counter()
                    run_kernel(name, q, k, v)
                    torch.cuda.synchronize(q.device)
                    times[name] = min(times.get(name, float("inf")), time.perf_counter() - start)
            except Exception as error:  # noqa: BLE001 - a kernel that cannot run this shape is not chosen
                _failures.setdefault(key, {})[name] = f"{type(error).__name__}: {str(error)[:200]}"
        _timings[key] = times
        _choice[key] = min(times, key=times.get) if times else "math"
        return _choice[key]


def chosen_kernels() -> dict[tuple, str]:
    """The kernel "auto" picked per (device, q shape, k shape, dtype), for reports."""
    return dict(_choice)


def kernel_report() -> list[str]:
    """One line per shape: the kernel picked, each candidate's best time, and why any could not run."""
    lines = []
    for key, name in _choice.items():
        best_first = sorted(_timings.get(key, {}).items(), key=lambda kv: kv[1])
        timed = ", ".join(f"{k} {t * 1e3:.1f} ms" for k, t in best_first)
        failed = "; ".join(f"{k} failed ({why})" for k, why in _failures.get(key, {}).items())
        lines.append(f"{key[0]} q{list(key[1])} k{list(key[2])}: {name}" + (f" ({timed})" if timed else "")
                     + (f"; {failed}" if failed else ""))
    return lines


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel: str = "auto") -> torch.Tensor:
    """q, k, v [B, L, H, D] -> [B, L, H*D]: the CPU's SDPA, or on a GPU the named (or fastest) fused kernel."""
    if q.device.type != "cuda":
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return out.transpose(1, 2).flatten(2)
    name = fastest_kernel(q, k, v) if kernel == "auto" else kernel
    if name.startswith("fa4") and fa4_function() is None:
        raise RuntimeError(f"attention kernel fa4 is not available here: {fa4_unavailable()}")
    return run_kernel(name, q, k, v).flatten(2)
