"""Benchmark: our engine against stock diffsynth, in one run, on the same GPU and the same weights.

    python -m benchmarks.bench                     # full-size 14B shapes, random bf16 weights, on cuda:0
    python -m benchmarks.bench --tiny --device cpu  # every code path on a tiny model (smoke test)
    python -m benchmarks.bench --loader-ram DIR     # peak RAM of loading the 14B DiT from shards in DIR
    python -m benchmarks.bench --user-path DIR      # the user's path: official-layout folder, Engine, two jobs
    python -m benchmarks.bench --speed-probe        # one forward eager / compiled / FP8, and FP8 GEMMs
    python -m benchmarks.bench --attention-bench    # self-attention at Wan shapes: cuDNN, flash, FlashAttention 4
    python -m benchmarks.gpu_run --out DIR          # everything above that a machine kind should run, timed
    python -m benchmarks.bench --four-step | --wan22 | --lora-alpha-change [--plan-devices cuda:0,cuda:1]

Weights are random (values do not change the cost; real weights are not needed). The reference
workload is Pusa I2V: 832x480, 81 frames, 10 steps, CFG 3, one keyframe at slot 0 with multiplier 0.2,
through our sampler and device plan; diffsynth runs its WanVideoPipeline text-to-video at the same
size, steps and CFG (its own text encoding, denoising loop, scheduler and default tiled VAE decode).
Also 720p at 1 step. Prints one table; `--json` writes every number.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/bench.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch  # noqa: E402

from benchmarks.attention import SWEEP_TILES  # noqa: E402
from benchmarks.kernel_profile import profile  # noqa: E402
from benchmarks.loader_ram import loader_ram  # noqa: E402
from benchmarks.multi_gpu import offload, two_gpu  # noqa: E402
from benchmarks.suite import Bench  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--size", choices=["480p", "720p", "both"], default="both")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--reps", type=int, default=3, help="timed forwards per variant (median)")
    ap.add_argument("--tune", action="store_true", help="compiled mode tunes inductor's kernels (slower compile)")
    ap.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                    help="auto: time eager and compiled forwards and run the jobs with the faster")
    ap.add_argument("--attention", default="auto", help="kernel: auto|cudnn|flash|efficient|math|fa4")
    ap.add_argument("--tiny", action="store_true", help="tiny model (smoke test of every code path)")
    ap.add_argument("--float32", action="store_true")
    ap.add_argument("--no-diffsynth", action="store_true")
    ap.add_argument("--no-plans", action="store_true")
    ap.add_argument("--check-frames", type=int, default=5, help="latent frames for the plan checks")
    ap.add_argument("--budget-s", type=float, default=0, help="skip remaining stages after this many seconds")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--two-gpu", action="store_true", help="one GPU vs two (issue 6)")
    ap.add_argument("--devices", default="cuda:0,cuda:1", help="the two devices of --two-gpu (cpu,cpu: smoke test)")
    ap.add_argument("--loader-ram", metavar="DIR", help="write random shards to DIR and measure load_dit's RAM")
    ap.add_argument("--loader-config", choices=["14b", "mid"], default="14b")
    ap.add_argument("--loader-fp32", action="store_true", help="write fp32 shards (as on the hub)")
    ap.add_argument("--profile", action="store_true", help="kernel-time breakdown of one 480p forward")
    ap.add_argument("--profile-modes", default="eager,compiled", help="eager, compiled, compiled-tuned")
    ap.add_argument("--profile-top", type=int, default=18)
    ap.add_argument("--offload", action="store_true", help="the block-streaming plan's forward at 480p")
    ap.add_argument("--user-path", metavar="DIR", help="write an official-layout folder of random weights to DIR, "
                    "then time Engine load and two jobs in a fresh process")
    ap.add_argument("--plan", default="auto", help="the user path's device plan")
    ap.add_argument("--jobs", type=int, default=2, help="the user path's jobs (alpha 1.4, then 1.0)")
    ap.add_argument("--lora-rank", type=int, default=512)
    ap.add_argument("--speed-probe", action="store_true", help="one 480p forward eager / compiled / FP8")
    ap.add_argument("--probe-modes", default="gemm,eager,compiled,fp8")
    ap.add_argument("--attention-bench", action="store_true", help="self-attention at Wan shapes, FA4 if present")
    ap.add_argument("--fa4-tiles", default=SWEEP_TILES,
                    help="--attention-bench: FlashAttention 4 tiles timed on Hopper beside its own")
    ap.add_argument("--four-step", action="store_true", help="four-step mode (Pusa + LightX2V LoRAs, 4 steps, CFG 1) "
                    "at 480p on --plan-devices (benchmarks/modes.py)")
    ap.add_argument("--wan22", action="store_true", help="Wan2.2-A14B, two experts, 720p 81 frames, --steps "
                    "(10), --cfg (3) on --plan-devices, experts per --experts (benchmarks/modes.py)")
    ap.add_argument("--experts", choices=["auto", "resident", "swap"], default="auto",
                    help="--wan22: both experts on each GPU, or swapped through one set of GPU weights")
    ap.add_argument("--lora-alpha-change", action="store_true", help="a LoRA alpha change on the 14B DiT with a "
                    "rank-512 LoRA, per placement (benchmarks/lora_alpha.py)")
    ap.add_argument("--plan-devices", help="devices of --four-step, --wan22, --lora-alpha-change: cuda:0 or "
                    "cuda:0,cuda:1 (default: --device)")
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    if args.loader_ram:
        loader_ram(args)
        return
    if args.user_path:
        from benchmarks.user_path import user_path

        user_path(args)
        return
    if args.speed_probe:
        from benchmarks.speed_probe import speed_probe

        speed_probe(args)
        return
    if args.attention_bench:
        from benchmarks.attention import attention_bench

        attention_bench(args)
        return
    if args.profile:
        profile(args)
        return
    if args.offload:
        offload(args)
        return
    if args.four_step or args.wan22 or args.lora_alpha_change:
        from benchmarks.lora_alpha import alpha_change
        from benchmarks.modes import four_step, wan22

        (four_step if args.four_step else wan22 if args.wan22 else alpha_change)(args)
        return
    if args.two_gpu:
        two_gpu(args)
        return
    Bench(args).run()


if __name__ == "__main__":
    main()
