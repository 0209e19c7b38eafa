"""Where a forward's time goes: kernel time by class and by kernel, eager and compiled, and SDPA layouts."""

from __future__ import annotations

import torch

from .common import median_time, sync
from .multi_gpu import one_forward_inputs


def _kernel_class(name: str) -> str:
    n = name.lower()
    if any(k in n for k in ("cudnn", "flash", "fmha", "attention", "sdpa")):
        return "attention"
    if any(k in n for k in ("gemm", "nvjet", "xmma", "cutlass", "cublas", "sm90_")):
        return "matmul"
    if n.startswith("triton"):
        return "fused (triton)"
    if "memcpy" in n or "copy" in n:
        return "copies"
    return "element-wise (aten)"


def kernel_times(prof, width: int = 120) -> tuple[dict[str, float], list[tuple[float, int, str, str]]]:
    """From a finished torch.profiler run: seconds by kernel class, and (seconds, calls, class, name) a kernel."""
    classes: dict[str, float] = {}
    kernels = []
    for e in prof.key_averages():
        dt = getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0)
        if e.device_type is not None and "CUDA" in str(e.device_type) and dt > 0:
            c = _kernel_class(e.key)
            classes[c] = classes.get(c, 0.0) + dt / 1e6
            kernels.append((dt / 1e6, e.count, c, e.key[:width]))
    return classes, kernels


def profile(args) -> None:
    """Kernel time of one 480p forward, eager and compiled, by class and by kernel."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    from pusa_engine.dit import SpeedOptions, set_speed_options
    from pusa_engine.plans import Prompts, make_plan

    dev, dit, x, t, ctx = one_forward_inputs(args)
    for mode in args.profile_modes.split(","):
        set_speed_options(SpeedOptions(compile=mode.startswith("compiled"), attention=args.attention,
                                       tune=mode == "compiled-tuned"))
        plan = make_plan("gpu" if dev.type == "cuda" else "cpu", [dev], torch.bfloat16)
        den = plan.denoiser(dit, Prompts(ctx, None), 1)
        tw, _ = median_time(lambda d=den: d(x, t), dev, 2, 1)
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
        with tprofile(activities=acts) as prof:
            den(x, t)
            sync(dev)
        classes, kernels = kernel_times(prof)
        tot = sum(classes.values())
        print(f"== {mode}: forward {tw:.3f} s (timed), kernels {tot:.3f} s", flush=True)
        for c, v in sorted(classes.items(), key=lambda kv: -kv[1]):
            print(f"   {c:<22} {v:7.3f} s  {v / tot:6.1%}", flush=True)
        for dt, n, c, k in sorted(kernels, reverse=True)[:args.profile_top]:
            print(f"   {dt * 1e3:9.1f} ms {n:5d}x  {c:<20} {k}", flush=True)
    # attention layouts: what our forward hands SDPA (transposed views) vs contiguous [B, H, L, D]
    if dev.type == "cuda":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        H = dit.blocks[0].self_attn.num_heads
        L, D = x.shape[2] * (x.shape[3] // 2) * (x.shape[4] // 2), dit.dim // H
        qs = [torch.randn(1, L, H, D, device=dev, dtype=torch.bfloat16) for _ in range(3)]
        views = [q.transpose(1, 2) for q in qs]
        conts = [v.contiguous() for v in views]
        ks = [torch.randn(1, 512, H, D, device=dev, dtype=torch.bfloat16).transpose(1, 2) for _ in range(2)]
        for name, be in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION),
                         ("efficient", SDPBackend.EFFICIENT_ATTENTION)):
            try:
                with sdpa_kernel([be]):
                    tm, _ = median_time(lambda: torch.nn.functional.scaled_dot_product_attention(views[0], *ks),
                                        dev, 10, 2)
                print(f"   cross-attention (512 text keys) {name:<9} {tm * 1e3:6.2f} ms/layer", flush=True)
            except RuntimeError as e:
                print(f"   cross-attention {name}: {str(e)[:80]}")
        for name, be in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)):
            for lay, (q, k, v) in (("BLHD views", views), ("BHLD contiguous", conts)):
                with sdpa_kernel([be]):
                    tm, _ = median_time(lambda q=q, k=k, v=v: torch.nn.functional.scaled_dot_product_attention(q, k, v),
                                        dev, 5, 2)
                print(f"   SDPA {name:<6} {lay:<16} {tm * 1e3:6.1f} ms/layer = {4 * L * L * H * D / tm / 1e12:.0f} "
                      f"TFLOP/s", flush=True)

