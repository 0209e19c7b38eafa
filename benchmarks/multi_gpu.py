"""Benchmarks of the multi-device plans: one GPU against two (CFG-parallel, sequence split), and the
block-streaming plan's forward at full size."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pusa_engine.model_files import WAN_14B_CONFIG

from .common import TINY_DIT, GiB, free_memory, median_time, peak_gib, random_dit, reset_peak, sync, timed
from .suite import Bench


def two_gpu(args) -> None:
    """One GPU vs two (issue 6): the reference job's denoising on one GPU and CFG-parallel on two, and
    CFG 1 at 4 steps on one GPU and with the sequence split; latents compared with the one-GPU plan's."""
    from pusa_engine.plans import ReplicatedPlan, make_plan, replicate
    from pusa_engine.sampler import Conditioning, sample

    d0, d1 = (torch.device(d) for d in args.devices.split(","))
    args.device = str(d0)
    b = Bench(args)
    b.build()
    cuda = d0.type == "cuda"
    devs = [d0] if d1 == d0 else [d0, d1]
    prompts = b.prompts(with_negative=True)
    s = b.sizes()[0]
    shape = b.latent_shape(s)
    g = torch.Generator().manual_seed(42)
    noise = torch.randn(shape, generator=g).to(d0)
    conds = [Conditioning(0, torch.randn(1, 16, shape[3], shape[4], generator=g).to(d0), 0.2)]
    t5_gib = sum(p.numel() * p.element_size() for p in b.text_encoder.parameters()) / GiB
    copies = {}  # the DiT's copy on the second GPU, shared by the two-GPU plans below
    if d1 != d0:
        t_rep, copies[str(d1)] = timed(lambda: replicate(b.dit, d1), d1)
        gb = sum(p.numel() * p.element_size() for p in b.dit.parameters()) / 1e9
        print(f"DiT copy to {d1}: {t_rep:.2f} s ({gb / t_rep:.1f} GB/s)", flush=True)
        x = torch.randn(512 * 2**20, device=d0).to(torch.uint8)
        tb, _ = median_time(lambda: x.to(d1), d0, 5, 1)
        print(f"device-to-device copy {d0} -> {d1}: {x.numel() / tb / 1e9:.1f} GB/s", flush=True)
    td, _ = timed(lambda: __import__("pusa_engine.vae_ops", fromlist=["decode_latents"]).decode_latents(
        b.vae, noise), d0)
    out = {}
    runs = ((f"1 GPU, CFG {args.cfg}, {s.steps} steps", "gpu", args.cfg, s.steps),
            (f"2 GPUs CFG-parallel, CFG {args.cfg}, {s.steps} steps", "cfg-parallel", args.cfg, s.steps),
            ("1 GPU, CFG 1, 4 steps", "gpu", 1.0, 4), ("2 GPUs sequence split, CFG 1, 4 steps", "seq-split", 1.0, 4))
    for label, kind, cfg, steps in runs:
        plan = make_plan(kind if cuda or kind != "gpu" else "cpu", [d0] if kind == "gpu" else [d0, d1], b.dtype)
        if isinstance(plan, ReplicatedPlan):
            plan.use_replicas(b.dit, copies)
        p = prompts if cfg != 1 else type(prompts)(prompts.positive, None)
        den = plan.denoiser(b.dit, p, cfg)
        den(noise.to(b.dtype), torch.full((1, shape[2]), 999.0, device=d0, dtype=b.dtype))  # warm-up
        reset_peak(devs)
        t, res = timed(lambda den=den, steps=steps: sample(den, noise, conds, steps, 5.0, b.dtype), d0)
        sync(d1)
        peak = {k: round(v - (t5_gib if k == str(d0) else 0), 2) for k, v in peak_gib(devs).items()}
        out[label] = {"s": t, "peak_gib_without_t5": peak, "latents": res.latents}
        print(f"{label}: denoise {t:.2f} s, whole job about {t + td + b.results.get('text_s', 0):.1f} s "
              f"(decode {td:.2f} s), peak GiB per GPU without the text encoder {peak}", flush=True)
    keys = list(out)
    for a, c in ((keys[0], keys[1]), (keys[2], keys[3])):
        la, lc = out[a]["latents"], out[c]["latents"]
        err = ((la - lc).norm() / la.norm()).item()
        print(f"{c}: speedup {out[a]['s'] / out[c]['s']:.2f}x over 1 GPU; latents relative difference {err:.2e}",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "latents"}
                                               for k, v in out.items()} | {"env": b.results["env"]}, indent=1))


# ---- the block-streaming plan at full size -----------------------------------------------------------------
def one_forward_inputs(args):
    """A random-weight DiT (full size, or tiny with --tiny) and the inputs of one 480p forward at t = 980."""
    dev = torch.device(args.device)
    config = TINY_DIT if args.tiny else WAN_14B_CONFIG
    dit = random_dit(config, dev, torch.bfloat16)
    f, h, w = (21, 60, 104) if not args.tiny else (5, 6, 8)
    x = torch.randn(1, 16, f, h, w, device=dev, dtype=torch.bfloat16)
    t = torch.full((1, f), 980.0, device=dev, dtype=torch.bfloat16)
    ctx = torch.randn(1, 512, config.dim, device=dev, dtype=torch.bfloat16)
    return dev, dit, x, t, ctx


def offload(args) -> None:
    """One GPU that cannot hold the DiT: blocks in pinned CPU memory, streamed on a copy stream."""
    from pusa_engine.plans import Prompts, make_plan

    dev, dit, x, t, ctx = one_forward_inputs(args)
    resident = make_plan("gpu" if dev.type == "cuda" else "cpu", [dev], torch.bfloat16).denoiser(
        dit, Prompts(ctx, None), 1)
    t_res, _ = median_time(lambda: resident(x, t), dev, 2, 1)
    ref = resident(x, t).float()
    plan = make_plan("offload", [dev], torch.bfloat16)
    t_prep, _ = timed(lambda: plan.prepare_dit(dit), dev)
    free_memory()
    if dev.type == "cuda":
        print(f"offload: blocks moved to pinned CPU memory in {t_prep:.1f} s; GPU now holds "
              f"{torch.cuda.memory_allocated(dev) / GiB:.2f} GiB", flush=True)
    den = plan.denoiser(dit, Prompts(ctx, None), 1)
    reset_peak([dev])
    t_off, _ = median_time(lambda: den(x, t), dev, 2, 1)
    out = den(x, t).float()
    peak = peak_gib([dev])
    err = ((out - ref).norm() / ref.norm()).item()
    print(f"offload plan 480p forward: {t_off:.2f} s (resident {t_res:.2f} s), peak {peak}, "
          f"relative difference to resident {err:.1e}", flush=True)

