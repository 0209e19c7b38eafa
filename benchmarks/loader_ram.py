"""Peak RAM of loading the 14B DiT from shards: random shards in the official layout, loaded in a child."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from pusa_engine.model_files import WAN_14B_CONFIG, DiTConfig
from pusa_engine.networks import build_dit
from pusa_engine.official_layout import write_config, write_dit_shards

from .common import TINY_DIT, timed


def write_random_shards(root: Path, config: DiTConfig, dtype: torch.dtype, n_shards: int, device: torch.device) -> int:
    """Random weights in the official layout (config.json, index, n shards), one shard in RAM at a time."""
    root.mkdir(parents=True, exist_ok=True)
    write_config(root, config)
    shapes = {k: tuple(v.shape) for k, v in build_dit(config, "meta").state_dict().items()}
    g = torch.Generator(device).manual_seed(0)
    return write_dit_shards(root, shapes, lambda k: torch.randn(shapes[k], generator=g, device=device, dtype=dtype),
                            n_shards, dtype)


_LOAD_CHILD = r"""
import resource, sys, time, json, torch, psutil, threading
from pathlib import Path
from pusa_engine.loader import load_dit
from pusa_engine.model_files import ModelFolder
dev = torch.device(sys.argv[2])
if dev.type == "cuda":
    torch.zeros(1, device=dev)
proc = psutil.Process()
base = proc.memory_info().rss
peak = [base]
stop = False
def watch():
    while not stop:
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.02)
th = threading.Thread(target=watch, daemon=True); th.start()
t0 = time.perf_counter()
m = load_dit(ModelFolder(Path(sys.argv[1])), torch.bfloat16, dev)
if dev.type == "cuda":
    torch.cuda.synchronize()
t = time.perf_counter() - t0
stop = True; th.join()
params = sum(p.numel() for p in m.parameters())
print(json.dumps({"device": str(dev), "seconds": t, "params": params, "rss_base_gib": base / 2**30,
                  "rss_peak_gib": max(peak[0], proc.memory_info().rss) / 2**30,
                  "ru_maxrss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "rss_end_gib": proc.memory_info().rss / 2**30}))
"""


def loader_ram(args) -> None:
    root = Path(args.loader_ram)
    config = TINY_DIT if args.tiny else WAN_14B_CONFIG
    if args.loader_config == "mid":
        config = DiTConfig(dim=2048, ffn_dim=5504, freq_dim=256, in_dim=16, out_dim=16, num_heads=16, num_layers=8,
                           eps=1e-6)
    dtype = torch.float32 if args.loader_fp32 else torch.bfloat16
    gen_dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not (root / "config.json").exists():
        t, total = timed(lambda: write_random_shards(root, config, dtype, 6, gen_dev), gen_dev)
        print(f"wrote {total / 1e9:.1f} GB of {str(dtype)} shards in {t:.0f} s", flush=True)
    targets = ["cpu"] + (["cuda:0"] if torch.cuda.is_available() else [])
    for target in targets:
        r = subprocess.run([sys.executable, "-c", _LOAD_CHILD, str(root), target], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                                                             os.environ.get("PYTHONPATH", "")])})
        if r.returncode:
            print(r.stderr[-3000:])
            continue
        res = json.loads(r.stdout.strip().splitlines()[-1])
        grow = res["rss_peak_gib"] - res["rss_base_gib"]
        print(f"load_dit -> {target}: {res['seconds']:.1f} s, {res['params'] / 1e9:.2f} B params; RSS base "
              f"{res['rss_base_gib']:.2f} GiB, peak {res['rss_peak_gib']:.2f} GiB (+{grow:.2f}), end "
              f"{res['rss_end_gib']:.2f}; ru_maxrss {res['ru_maxrss_gib']:.2f} GiB; growth per parameter "
              f"{grow * 2**30 / res['params']:.2f} bytes", flush=True)

