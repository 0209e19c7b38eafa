"""How much memory a device has free: the GPU's from CUDA, this computer's from psutil or /proc (sizes the job
size limit)."""

from __future__ import annotations

import os

import torch


def free_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 16 * 2**30


def device_words(device: torch.device, free: int) -> str:
    what = f"the GPU {device}" if device.type == "cuda" else "this computer's memory"
    return f"{what} ({free / 2**30:.1f} GB free)"
