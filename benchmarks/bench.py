"""Benchmark: our engine against stock diffsynth, in one run, on the same GPU and the same weights.

    python -m benchmarks.bench                     # full-size 14B shapes, random bf16 weights, on cuda:0
    python -m benchmarks.bench --tiny --device cpu  # every code path on a tiny model (smoke test)
    python -m benchmarks.bench --loader-ram DIR     # peak RAM of loading the 14B DiT from shards in DIR

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
    ap.add_argument("--attention", default="auto", help="SDPA backend: auto | cudnn | flash | efficient | math")
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
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    if args.loader_ram:
        loader_ram(args)
        return
    if args.profile:
        profile(args)
        return
    if args.offload:
        offload(args)
        return
    if args.two_gpu:
        two_gpu(args)
        return
    Bench(args).run()


if __name__ == "__main__":
    main()
