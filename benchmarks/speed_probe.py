"""One 480p DiT forward of the full-size model (random weights on the GPU) in every mode the engine offers:
eager, compiled (its compile time with the on-disk cache as it is: warm after the user-path run compiled the
size, cold in a fresh cache), FP8 eager and compiled; FP8's relative difference from bf16; and the big
linear layers' shapes as bf16 matmuls against FP8 `_scaled_mm` with per-channel scales.

    python -m benchmarks.bench --speed-probe [--probe-modes eager,compiled,fp8,fp8-eager,gemm] [--json FILE]
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .common import median_time, timed

GEMMS = {"qkvo 32760x5120x5120": (32760, 5120, 5120), "ffn.0 32760x5120->13824": (32760, 5120, 13824),
         "ffn.2 32760x13824->5120": (32760, 13824, 5120)}


def _gemms(dev: torch.device) -> dict:
    from pusa_engine.fp8 import fp8_linear, quantize_rows, relative_difference

    out = {}
    for name, (m, k, n) in GEMMS.items():
        g = torch.Generator(dev).manual_seed(0)
        x = torch.randn(m, k, device=dev, dtype=torch.bfloat16, generator=g)
        w = torch.randn(n, k, device=dev, dtype=torch.bfloat16, generator=g) * k ** -0.5
        flops = 2 * m * n * k
        t_bf16, _ = median_time(lambda x=x, w=w: x @ w.t(), dev, 10, 3)
        qx, sx = quantize_rows(x)
        qw, sw = quantize_rows(w)
        t_mm, _ = median_time(lambda qx=qx, qw=qw, sx=sx, sw=sw: torch._scaled_mm(
            qx, qw.t(), scale_a=sx, scale_b=sw.t(), out_dtype=torch.bfloat16), dev, 10, 3)
        t_all, _ = median_time(lambda x=x, w=w: fp8_linear(x, w, None, "scaled_mm"), dev, 10, 3)
        err = relative_difference(fp8_linear(x, w, None, "scaled_mm"), x.float() @ w.float().t())
        out[name] = {"bf16_ms": t_bf16 * 1e3, "bf16_tflops": flops / t_bf16 / 1e12, "fp8_mm_ms": t_mm * 1e3,
                     "fp8_mm_tflops": flops / t_mm / 1e12, "fp8_with_quantize_ms": t_all * 1e3,
                     "speedup_mm": t_bf16 / t_mm, "speedup_with_quantize": t_bf16 / t_all, "rel_err": err}
        print(f"GEMM {name}: bf16 {t_bf16 * 1e3:.2f} ms ({flops / t_bf16 / 1e12:.0f} TFLOP/s), FP8 _scaled_mm "
              f"{t_mm * 1e3:.2f} ms ({t_bf16 / t_mm:.2f}x), with eager quantization {t_all * 1e3:.2f} ms "
              f"({t_bf16 / t_all:.2f}x); rel. difference {err:.1e}", flush=True)
    return out


def speed_probe(args) -> dict:
    from pusa_engine.compiling import compile_cache_dir
    from pusa_engine.dit import SpeedOptions, set_speed_options
    from pusa_engine.fp8 import relative_difference
    from pusa_engine.plans import Prompts, make_plan

    from .multi_gpu import one_forward_inputs

    modes = args.probe_modes.split(",")
    res: dict = {"cache": str(compile_cache_dir()), "forward": {}}

    def save() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))

    if "gemm" in modes:
        res["gemm"] = _gemms(torch.device(args.device))
        save()
    dev, dit, x, t, ctx = one_forward_inputs(args)
    plan = make_plan("gpu" if dev.type == "cuda" else "cpu", [dev], torch.bfloat16)
    outs = {}
    for mode in [m for m in modes if m != "gemm"]:
        set_speed_options(SpeedOptions(compile=mode in ("compiled", "fp8"), fp8=mode.startswith("fp8"),
                                       attention=args.attention))
        den = plan.denoiser(dit, Prompts(ctx, None), 1)
        first, _ = timed(lambda d=den: d(x, t), dev)
        tm, runs = median_time(lambda d=den: d(x, t), dev, 2, 0)
        outs[mode] = den(x, t)
        res["forward"][mode] = {"first_call_s": first, "forward_s": tm, "runs": runs}
        print(f"forward {mode}: first call {first:.2f} s, then {tm:.3f} s", flush=True)
        save()
    ref = outs.get("compiled", outs.get("eager"))
    for mode, o in outs.items():
        if mode.startswith("fp8") and ref is not None:
            res["forward"][mode]["rel_diff_vs_bf16"] = relative_difference(o, ref)
    if "compiled" in outs and "eager" in outs:
        res["compiled_vs_eager_rel"] = relative_difference(outs["compiled"], outs["eager"])
        f = res["forward"]
        res["compile_s"] = f["compiled"]["first_call_s"] - f["eager"]["forward_s"]
    print(json.dumps({k: v for k, v in res.items() if k != "gemm"}, indent=1, default=str), flush=True)
    save()
    return res
