"""FlashAttention 4 on two GPUs from two threads, as the two-GPU plans call it: which kernel "auto" picks on
each device, and whether FA4's result on the second GPU matches cuDNN's. Needs no diffsynth.

    python -m benchmarks.fa4_devices            # --raw: FA4 called directly, without the engine's per-device cache
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import torch

from pusa_engine import attention_kernels as ak  # torch only: runs without diffsynth


def main(raw: bool) -> None:
    devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    tensors = {d: [torch.randn(1, 32760, 40, 128, device=d, dtype=torch.bfloat16,
                               generator=torch.Generator(d).manual_seed(i)) for i in range(3)] for d in devices}

    def run(device: str) -> str:
        q, k, v = tensors[device]
        if raw:
            from flash_attn.cute import flash_attn_func

            with torch.cuda.device(device):
                out = flash_attn_func(q, k, v, causal=False)
            out = out[0] if isinstance(out, tuple) else out
            name = "fa4 (raw)"
        else:
            name = ak.fastest_kernel(q, k, v)
            out = ak.run_kernel(name, q, k, v)
        ref = ak.run_kernel("cudnn", q, k, v)
        torch.cuda.synchronize(device)
        rel = float((out.float() - ref.float()).norm() / ref.float().norm())
        return f"{device}: {name}, rel diff vs cuDNN {rel:.1e}"

    for device in devices:  # one after the other first, then both at once from two threads
        print(run(device), flush=True)
    with ThreadPoolExecutor(len(devices)) as pool:
        print(list(pool.map(run, devices)), flush=True)
    print("\n".join(ak.kernel_report()), flush=True)


if __name__ == "__main__":
    main("--raw" in sys.argv)
