"""The VAE decode at 480p (81 frames) with cuDNN's default convolution algorithms and with its benchmark mode
(each 3D convolution shape timed once, the fastest kept), on the full-size Wan VAE of random weights.

    python -m benchmarks.decode_probe [--device cuda:0] [--json FILE]

Reports seconds (the second run of each, after a warm-up that also does benchmark mode's search) and how
far the uint8 frames of benchmark mode are from the default's. Then the decode with the MP4 encoded beside
it (as the engine writes it), the encoder at its lowered priority and at the decode's own: the decode's
seconds and when the file is ready.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .common import random_vae, sync


def _decode(vae, z: torch.Tensor, benchmark: bool) -> tuple[float, float, np.ndarray]:
    """(first call's seconds, second call's seconds, frames)."""
    from pusa_engine.vae_ops import decode_latents

    times = []
    with torch.backends.cudnn.flags(enabled=True, benchmark=benchmark):
        for _ in range(2):  # the first call warms up (benchmark mode searches its algorithms there)
            sync(z.device)
            t0 = time.perf_counter()
            frames = decode_latents(vae, z)
            sync(z.device)
            times.append(time.perf_counter() - t0)
    return times[0], times[1], frames


def decode_probe(args) -> dict:
    dev = torch.device(args.device)
    torch.set_grad_enabled(False)
    vae = random_vae(dev, torch.bfloat16, tiny=args.tiny)
    shape = (1, 16, 3, 8, 8) if args.tiny else (1, 16, 21, 60, 104)
    z = torch.randn(shape, generator=torch.Generator().manual_seed(3)).to(dev)
    first_default, t_default, f_default = _decode(vae, z, benchmark=False)
    first_bench, t_bench, f_bench = _decode(vae, z, benchmark=True)
    diff = np.abs(f_default.astype(np.int16) - f_bench.astype(np.int16))
    res = {"default_s": t_default, "benchmark_s": t_bench, "speedup": t_default / t_bench,
           "first_call_default_s": first_default, "first_call_benchmark_s": first_bench,
           "max_abs_uint8": int(diff.max()), "share_of_values_differing": float((diff > 0).mean())}
    print(f"VAE decode 480p 81 frames: default {t_default:.2f} s, cudnn benchmark {t_bench:.2f} s "
          f"({res['speedup']:.2f}x; first calls {first_default:.2f} / {first_bench:.2f} s); "
          f"frames differ by at most {res['max_abs_uint8']} "
          f"in {res['share_of_values_differing']:.1%} of values", flush=True)
    res["streamed"] = {name: _streamed(vae, z, name, extra, Path(args.out_dir)) for name, extra in ENCODES.items()}
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return res


# x264 settings tried beside the shipped command (benchmarks only): fewer frame threads, a shorter lookahead,
# slice threads (no frame latency). Each changes the file's bytes; its size is reported.
ENCODES = {"shipped": [], "threads 8": ["-threads", "8"], "rc-lookahead 20": ["-x264-params", "rc-lookahead=20"],
           "sliced threads": ["-x264-params", "sliced-threads=1"], "shipped again": []}


def _streamed(vae, z: torch.Tensor, name: str, extra: list[str], folder: Path) -> dict:
    """The engine's decode with each latent frame's pixels piped to ffmpeg as it is decoded; `extra` options
    go before the output's format."""
    from pusa_engine import media_writers, mp4_stream
    from pusa_engine.vae_ops import decode_latents

    def command(*a):
        cmd = media_writers.mp4_command(*a)
        return cmd[:-3] + extra + cmd[-3:]

    mp4_stream.mp4_command = command
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"probe-{name.replace(' ', '-')}.mp4"
    sync(z.device)
    t0 = time.perf_counter()
    with mp4_stream.Mp4Stream(out, 16) as stream:
        decode_latents(vae, z, on_frames=stream.write)
        decoded = time.perf_counter() - t0
    ready = time.perf_counter() - t0
    mp4_stream.mp4_command = media_writers.mp4_command
    print(f"decode with the MP4 streamed, {name}: decoded {decoded:.2f} s, file ready {ready:.2f} s, "
          f"{out.stat().st_size / 1e6:.2f} MB", flush=True)
    return {"decoded_s": decoded, "file_ready_s": ready, "mb": out.stat().st_size / 1e6}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m benchmarks.decode_probe")
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--json")
    ap.add_argument("--tiny", action="store_true", help="a tiny VAE (any device, seconds)")
    ap.add_argument("--out-dir", default="/tmp/decode-probe", help="where the streamed MP4s go")
    decode_probe(ap.parse_args(sys.argv[1:]))
