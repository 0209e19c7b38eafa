"""Frozen torch + CUDA smoke program (built by smoke.spec with build.spec's CUDA library selection).

Runs one of each CUDA path the engine uses (cuBLAS(Lt) matmul, cuDNN conv3d, SDPA attention, cuFFT,
cuSOLVER, cuSPARSE, NVRTC via the jiterator, cuRAND-backed sampling) and prints which CUDA libraries
the process loaded and from where: all of them must come from inside the bundle.
Not part of CI (CI has no GPU); run by hand on a GPU machine: see README.md beside this file.
"""

import sys

import torch
import torch.nn.functional as F


def main() -> int:
    print(f"torch {torch.__version__} cuda {torch.version.cuda} frozen={getattr(sys, 'frozen', False)}")
    if not torch.cuda.is_available():
        print("FAIL: torch.cuda.is_available() is False")
        return 1
    d = "cuda"
    print("device:", torch.cuda.get_device_name(0))
    results = {}
    a = torch.randn(1024, 1024, device=d, dtype=torch.bfloat16)
    results["matmul bf16 (cuBLASLt)"] = float((a @ a).float().abs().mean())
    x = torch.randn(1, 16, 9, 32, 32, device=d, dtype=torch.bfloat16)
    w = torch.randn(16, 16, 3, 3, 3, device=d, dtype=torch.bfloat16)
    results["conv3d bf16 (cuDNN)"] = float(F.conv3d(x, w, padding=1).float().abs().mean())
    q = torch.randn(1, 8, 256, 64, device=d, dtype=torch.bfloat16)
    results["sdpa bf16"] = float(F.scaled_dot_product_attention(q, q, q).float().abs().mean())
    results["fft (cuFFT)"] = float(torch.fft.fft(torch.randn(4096, device=d)).abs().mean())
    m = torch.randn(64, 64, device=d) + 64 * torch.eye(64, device=d)
    results["linalg.solve (cuSOLVER)"] = float(torch.linalg.solve(m, torch.ones(64, device=d)).abs().mean())
    s = torch.eye(64, device=d).to_sparse()
    results["sparse mm (cuSPARSE)"] = float(torch.sparse.mm(s, torch.ones(64, 8, device=d)).sum())
    code = "template <typename T> T twice(T x) { return x + x; }"
    twice = torch.cuda.jiterator._create_jit_fn(code)
    results["jiterator (NVRTC)"] = float(twice(torch.ones(16, device=d)).sum())
    results["multinomial"] = float(torch.multinomial(torch.ones(100, device=d), 10).float().mean())
    torch.cuda.synchronize()
    for k, v in results.items():
        print(f"  ok {k}: {v:.4f}")

    bundle = getattr(sys, "_MEIPASS", None)
    loaded = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if "/" in line else ""
            if any(n in path for n in ("libcu", "libnv", "libnccl", "libcudnn", "libtorch")):
                loaded.add(path)
    outside = sorted(p for p in loaded if bundle and not p.startswith(bundle) and "libcuda.so" not in p
                     and "libnvidia" not in p)
    for p in sorted(loaded):
        print("  loaded", p)
    if outside:
        print("FAIL: CUDA libraries loaded from outside the bundle:", outside)
        return 2
    print("gpu smoke passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
