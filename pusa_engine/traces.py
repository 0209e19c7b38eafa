"""The trace a job can save beside its video: final latents, the timesteps each frame was given, and for a
model with experts which one ran each step."""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import OutputError
from .sampler import SampleResult


def save_trace(result: SampleResult, path: Path) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"latents": result.latents.float().contiguous(), "timesteps": result.timesteps.float().contiguous()}
        if result.experts is not None:  # Wan2.2: which expert ran each step (0 = high noise, 1 = low noise)
            tensors["experts"] = result.experts.to(torch.int32).contiguous()
        save_file(tensors, str(path))
    except (OSError, SafetensorError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise OutputError(f"Could not write the trace {path} ({reason}): free some space or choose another "
                          "folder") from e
