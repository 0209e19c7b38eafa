"""Exact ways to a faster one-GPU job, each measured before any is adopted (issue 12, target 5):

- the DiT: where a compiled 480p forward's kernel time goes (every kernel, by class), without and with
  fused_ops.py's kernels (and which GELU form cuBLASLt's epilogue computes), with their differences from eager;
- the VAE decode: kernel time by class; the decoder compiled, with and without channels-last 3D convolutions.

An earlier version measured, on an H200 (README, issue 12): the two passes as one batch of two, 0.998x (not
adopted); the decode with channels-last convolutions 1.11x and with its RMS norms compiled 1.33x.

    python -m benchmarks.fusion_probe [--device cuda:0] [--json FILE] [--tiny] [--parts dit,vae]

Every variant reports its seconds and its difference (uint8 values for the decode) from the shipped path.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from .common import median_time, random_vae, sync, timed
from .kernel_profile import kernel_times


def kernel_table(fn, dev: torch.device, top: int) -> dict:
    """Device time of one call of fn by kernel class and the `top` kernels."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=acts) as prof:
        fn()
        sync(dev)
    classes, kernels = kernel_times(prof)
    total = sum(classes.values())
    for c, v in sorted(classes.items(), key=lambda kv: -kv[1]):
        print(f"   {c:<22} {v:7.3f} s  {v / max(total, 1e-12):6.1%}", flush=True)
    for dt, n, c, k in sorted(kernels, reverse=True)[:top]:
        print(f"   {dt * 1e3:9.2f} ms {n:5d}x  {c:<20} {k}", flush=True)
    return {"total_s": total, "classes": classes,
            "top": [{"ms": dt * 1e3, "calls": n, "class": c, "kernel": k} for dt, n, c, k in
                    sorted(kernels, reverse=True)[:top]]}


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.float(), b.float()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


# ---- the DiT ------------------------------------------------------------------------------------------------
def gelu_form(dev: torch.device) -> dict:
    """Which GELU cuBLASLt's epilogue computes on this GPU: distance of linear_gelu from the tanh and erf forms."""
    import torch.nn.functional as F

    from pusa_engine.fused_ops import linear_gelu

    g = torch.Generator(dev).manual_seed(5)
    x = torch.randn(4096, 5120, device=dev, dtype=torch.bfloat16, generator=g)
    w = torch.randn(13824, 5120, device=dev, dtype=torch.bfloat16, generator=g) * 5120 ** -0.5
    b = torch.randn(13824, device=dev, dtype=torch.bfloat16, generator=g) * 0.1
    pre = F.linear(x.float(), w.float(), b.float())
    got = linear_gelu(x, w, b).float()
    return {"rel_to_tanh": rel(got, F.gelu(pre, approximate="tanh")), "rel_to_erf": rel(got, F.gelu(pre)),
            "rel_unfused_to_tanh": rel(F.gelu(F.linear(x, w, b), approximate="tanh"), F.gelu(pre, approximate="tanh"))}


def dit_part(args, res: dict) -> None:
    from pusa_engine.dit import SpeedOptions, dit_forward, rotary_table, set_speed_options

    from .multi_gpu import one_forward_inputs

    dev, dit, x, t, ctx = one_forward_inputs(args)
    neg = torch.randn(ctx.shape, device=dev, dtype=ctx.dtype, generator=torch.Generator(dev).manual_seed(7))
    pf, ph, pw = dit.patch_size
    rope = rotary_table(dit, x.shape[2] // pf, x.shape[3] // ph, x.shape[4] // pw, dev)
    out: dict = {}
    res["dit"] = out
    if dev.type == "cuda":
        out["gelu_form"] = gelu_form(dev)
        print(f"cuBLASLt GELU epilogue: {out['gelu_form']}", flush=True)

    def two_passes():
        return dit_forward(dit, x, t, ctx, rope), dit_forward(dit, x, t, neg, rope)

    outs = {}
    with torch.no_grad():
        for name, options in (("eager", SpeedOptions(compile=False, fused=False, attention=args.attention)),
                              ("compiled", SpeedOptions(compile="auto", fused=False, attention=args.attention)),
                              ("compiled_fused", SpeedOptions(compile="auto", fused="auto", attention=args.attention))):
            set_speed_options(options)
            first, outs[name] = timed(two_passes, dev)
            tm, runs = median_time(two_passes, dev, args.reps, 1)
            out[name] = {"first_s": first, "s": tm, "runs": runs}
            print(f"DiT 480p, {name}, conditional + unconditional pass: {tm:.3f} s ({tm / 2:.3f} s a forward; "
                  f"first call {first:.1f} s)", flush=True)
            if name != "eager":
                print(f"== kernels, {name}", flush=True)
                out[f"kernels_{name}"] = kernel_table(two_passes, dev, args.top)
            if args.json:
                Path(args.json).write_text(json.dumps(res, indent=1))
        for a, b in (("compiled", "eager"), ("compiled_fused", "eager"), ("compiled_fused", "compiled")):
            out[f"rel_{a}_vs_{b}"] = rel(outs[a][0], outs[b][0])
            print(f"relative difference {a} vs {b}: {out[f'rel_{a}_vs_{b}']:.2e}", flush=True)
        out["speedup_fused"] = out["compiled"]["s"] / out["compiled_fused"]["s"]
        print(f"fused ops: {out['speedup_fused']:.3f}x over compiled", flush=True)
    outs.clear()
    if dev.type == "cuda":
        torch.cuda.empty_cache()


# ---- the VAE decode -------------------------------------------------------------------------------------------
def _mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def vae_part(args, res: dict) -> None:
    from pusa_engine.vae_ops import decode_latents

    dev = torch.device(args.device)
    vae = random_vae(dev, torch.bfloat16, tiny=args.tiny)
    shape = (1, 16, 3, 8, 8) if args.tiny else (1, 16, 21, 60, 104)
    z = torch.randn(shape, generator=torch.Generator().manual_seed(3)).to(dev)
    out: dict = {}
    res["vae"] = out
    with torch.no_grad():
        first, ref = timed(lambda: decode_latents(vae, z), dev)
        td, runs = median_time(lambda: decode_latents(vae, z), dev, 2, 0)
        out["shipped"] = {"first_s": first, "s": td, "runs": runs}
        print(f"VAE decode 480p 81 frames: {td:.3f} s (first call {first:.2f} s)", flush=True)
        print("== kernels of the decode", flush=True)
        out["kernels"] = kernel_table(lambda: decode_latents(vae, z), dev, args.top)
        vae.model.float()  # the float32 decode: how far each bf16 decode is from it
        truth = decode_latents(vae, z)
        vae.model.to(torch.bfloat16)
        out["shipped"]["mean_abs_uint8_vs_float32"] = _mean_abs(ref, truth)
        print(f"shipped decode against float32: mean |difference| {_mean_abs(ref, truth):.3f} uint8 levels", flush=True)

        def variant(name: str) -> None:
            f0, got = timed(lambda: decode_latents(vae, z), dev)
            tv, runs_v = median_time(lambda: decode_latents(vae, z), dev, 2, 0)
            diff = np.abs(got.astype(np.int16) - ref.astype(np.int16))
            out[name] = {"first_s": f0, "s": tv, "runs": runs_v, "speedup": td / tv, "max_abs_uint8": int(diff.max()),
                         "share_differing": float((diff > 0).mean()),
                         "mean_abs_uint8_vs_float32": _mean_abs(got, truth)}
            print(f"{name}: {tv:.3f} s ({td / tv:.2f}x; first call {f0:.1f} s); uint8 values differ by at most "
                  f"{int(diff.max())} in {float((diff > 0).mean()):.2%}; against float32: mean |difference| "
                  f"{_mean_abs(got, truth):.3f}", flush=True)

        decoder = vae.model.decoder
        plain = decoder.forward
        try:
            torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
            decoder.forward = torch.compile(plain, dynamic=False)
            variant("compiled_decoder")
            print("== kernels, compiled decoder", flush=True)
            out["kernels_compiled_decoder"] = kernel_table(lambda: decode_latents(vae, z), dev, 12)
            if not args.channels_last:
                return
            for m in vae.model.modules():
                if isinstance(m, torch.nn.Conv3d):
                    m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last_3d)
            torch._dynamo.reset()
            decoder.forward = torch.compile(plain, dynamic=False)
            variant("compiled_decoder_channels_last")
        except Exception as e:  # noqa: BLE001 - a probe reports what failed and goes on
            out["compiled_decoder_error"] = f"{type(e).__name__}: {e}"[:400]
            print(f"compiled decoder failed: {out['compiled_decoder_error']}", flush=True)
        finally:
            decoder.forward = plain


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--tiny", action="store_true", help="tiny models (a smoke test of the probe itself)")
    ap.add_argument("--attention", default="auto")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--parts", default="dit,vae")
    ap.add_argument("--channels-last", action="store_true", help="also the compiled decoder on channels-last weights")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    res: dict = {"device": torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu",
                 "torch": torch.__version__}
    for part in args.parts.split(","):
        {"dit": dit_part, "vae": vae_part}[part](args, res)
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
