"""Self-attention at Wan's shapes: cuDNN SDPA (what the engine's auto-pick uses on Hopper), PyTorch's flash
kernel, and FlashAttention 4 (`flash-attn-4`, CuTe DSL, JIT-compiled) when it is importable, each timed and
checked against a float32 reference on a sample of query rows.

    python -m benchmarks.bench --attention-bench [--json FILE]
    python -m benchmarks.attention [--json FILE]     # the same without the engine (no diffsynth needed)

Shapes: batch 1, 40 heads, head dim 128, 32,760 tokens (480p, 81 frames) and 75,600 (720p), bf16, not causal.
On Hopper FlashAttention 4 also runs in each tile of --fa4-tiles (query x key rows; its own is 128x128).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from pusa_engine.attention_kernels import (  # torch only: runs without diffsynth
    fa4_function,
    fa4_tile_name,
    fa4_unavailable,
    run_kernel,
)

SHAPES = {"480p": 32760, "720p": 75600}
HEADS, HEAD_DIM = 40, 128
SAMPLE_ROWS = 256
SWEEP_TILES = "128x144,128x160,128x176,128x192,192x128,192x112"


def median_time(fn, device: torch.device, reps: int, warmup: int) -> tuple[float, list[float]]:
    """Median seconds of `reps` calls after `warmup` (synchronized), standalone: no engine imports."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def _reference_rows(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v in float32 for the sampled query rows; q, k, v [1, L, H, D]."""
    qs = q[0, rows].float().transpose(0, 1)  # [H, R, D]
    out = []
    for h in range(q.shape[2]):
        s = (qs[h] @ k[0, :, h].float().t()) * q.shape[-1] ** -0.5
        out.append(torch.softmax(s, dim=-1) @ v[0, :, h].float())
    return torch.stack(out, dim=1)  # [R, H, D]


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """[1, L, H, D] views handed to SDPA as [1, H, L, D], as the engine's forward does."""
    o = torch.nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return o.transpose(1, 2)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def attention_bench(args) -> dict:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dev = torch.device(args.device)
    fa4, why = fa4_function(), fa4_unavailable()
    res: dict = {"fa4_available": fa4 is not None, "fa4_reason": why, "shapes": {}}
    print(f"flash-attn-4: {'importable' if fa4 else 'not importable (' + str(why) + ')'}", flush=True)
    for name, length in SHAPES.items():
        g = torch.Generator(dev).manual_seed(0)
        q, k, v = (torch.randn(1, length, HEADS, HEAD_DIM, generator=g, device=dev, dtype=torch.bfloat16)
                   for _ in range(3))
        rows = torch.randperm(length, generator=torch.Generator().manual_seed(1))[:SAMPLE_ROWS].to(dev)
        ref = _reference_rows(q, k, v, rows)
        flops = 4 * length * length * HEADS * HEAD_DIM
        entry: dict = {"tokens": length, "pflop": flops / 1e15}
        outs = {}
        for label, backend in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash2", SDPBackend.FLASH_ATTENTION)):
            try:
                with sdpa_kernel([backend]):
                    t, _ = median_time(lambda q=q, k=k, v=v: _sdpa(q, k, v), dev, 5, 2)
                    outs[label] = _sdpa(q, k, v)
                entry[label] = {"ms": t * 1e3, "tflops": flops / t / 1e12}
            except RuntimeError as e:
                entry[label] = {"error": str(e).splitlines()[0][:160]}
        fa4_names = ["fa4"]
        if torch.cuda.get_device_capability(dev)[0] == 9:
            fa4_names += [fa4_tile_name((int(m), int(n))) for m, n in
                          (t.split("x") for t in args.fa4_tiles.split(",") if t)]
        for label in fa4_names if fa4 is not None else []:
            try:
                torch.cuda.synchronize(dev)
                t0 = time.perf_counter()
                run_kernel(label, q, k, v)  # JIT compile of the kernel (or its load from the disk cache)
                torch.cuda.synchronize(dev)
                first = time.perf_counter() - t0
                t, _ = median_time(lambda q=q, k=k, v=v, n=label: run_kernel(n, q, k, v), dev, 5, 1)
                outs[label] = run_kernel(label, q, k, v)
                entry[label] = {"ms": t * 1e3, "tflops": flops / t / 1e12, "first_call_s": first}
            except Exception as e:  # noqa: BLE001 - report, never stop the other measurements
                entry[label] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"}
                print(f"{label}: {entry[label]['error']}", flush=True)
        for label, o in outs.items():
            entry[label]["rel_err_vs_fp32_rows"] = _rel(o[0, rows], ref)
        for label in (n for n in fa4_names if n in outs and "cudnn" in outs):
            entry[f"{label}_vs_cudnn"] = {"rel": _rel(outs[label], outs["cudnn"]),
                                          "max_abs": float((outs[label].float() - outs["cudnn"].float()).abs().max()),
                                          "bit_identical": bool(torch.equal(outs[label], outs["cudnn"]))}
        res["shapes"][name] = entry
        print(f"attention {name} ({length} tokens): " + "; ".join(
            f"{k} {v['ms']:.1f} ms = {v['tflops']:.0f} TFLOP/s, err {v['rel_err_vs_fp32_rows']:.1e}"
            for k, v in entry.items() if isinstance(v, dict) and "ms" in v) +
            (f"; fa4 vs cudnn {entry['fa4_vs_cudnn']}" if "fa4_vs_cudnn" in entry else ""), flush=True)
        del q, k, v, outs, ref
        torch.cuda.empty_cache()
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m benchmarks.attention")
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--json")
    ap.add_argument("--fa4-tiles", default=SWEEP_TILES, help="FlashAttention 4 tiles to time on Hopper")
    attention_bench(ap.parse_args(sys.argv[1:]))
