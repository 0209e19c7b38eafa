"""Which of torch's CUDA libraries the frozen app ships, shared by build.spec and the GPU smoke build.

On Linux the PyPI torch wheel links CUDA from the nvidia-* wheels installed beside it
(site-packages/nvidia/<part>/lib). They are copied to the same relative place in the bundle
(_internal/nvidia/<part>/lib), so torch's RPATH ($ORIGIN/../../nvidia/...) and its preload search
over sys.path find them exactly as in a virtual environment.
"""

from __future__ import annotations

from pathlib import Path

# Folder under site-packages/nvidia -> the library files kept ("*" = every lib*.so* in it).
# Left out of nvidia/cu13/lib (never linked or loaded by torch for inference): the "alt" NVRTC build
# (libnvrtc.alt + its builtins, 110 MB), multi-GPU cuSOLVER (libcusolverMg, 100 MB), NVBLAS, cuFFTW,
# the profiler and checkpoint helpers (nvperf_host/target, pcsamplingutil, checkpoint), GPUDirect RDMA
# for cuFile, and the static archives (.a).
CUDA_LIBS: dict[str, list[str]] = {
    "cu13": [
        "libcudart.so.13",
        "libcublas.so.13",
        "libcublasLt.so.13",
        "libcufft.so.12",
        "libcurand.so.10",
        "libcusolver.so.12",  # torch.linalg on CUDA (dlopened by libtorch_cuda_linalg)
        "libcusparse.so.12",
        "libnvJitLink.so.13",  # linked by cuSPARSE
        "libnvrtc.so.13",  # torch's jiterator kernels; cuDNN's runtime-compiled engines
        "libnvrtc-builtins.so.13.0",  # dlopened by NVRTC
        "libcupti.so.13",  # linked by libtorch_cpu
        "libcufile.so.0",  # linked by libtorch_cuda
        "libnvtx3interop.so.1",
    ],
    "cudnn": ["*"],  # libcudnn.so.9 dlopens its engine/ops/graph sub-libraries at run time
    "cusparselt": ["*"],
    "nccl": ["*"],  # linked by libtorch_cuda even on one GPU
    # linked by libtorch_nvshmem; its bootstrap/transport plug-ins only serve multi-node jobs
    "nvshmem": ["libnvshmem_host.so.3"],
}


def cuda_binaries(site: Path) -> list[tuple[str, str]]:
    """(source, destination folder) pairs for PyInstaller's `binaries`; empty for a CPU-only torch."""
    found = []
    for folder, names in CUDA_LIBS.items():
        lib_dir = Path(site) / "nvidia" / folder / "lib"
        if not lib_dir.is_dir():
            continue  # a CPU-only torch, or another platform (Windows wheels carry CUDA in torch/lib)
        files = sorted(lib_dir.glob("lib*.so*")) if names == ["*"] else [lib_dir / n for n in names]
        for f in files:
            if not f.is_file():
                raise SystemExit(f"cuda_libs: expected CUDA library {f} is missing (torch/nvidia wheels changed?)")
            found.append((str(f), f"nvidia/{folder}/lib"))
    return found
