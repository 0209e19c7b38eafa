"""The VAE decode's speed where torch.compile works: each RMS norm of the decoder as one compiled kernel, and
its 3-D convolutions on channels-last weights (cuDNN's fast layout), both on our loaded VAE object only.

Measured on an H200 (480p, 81 frames; benchmarks/fusion_probe.py): the decode took 1.84 s; channels-last alone
1.66 s; the norms compiled alone 1.63 s; both **1.39 s**. diffsynth's RMS norm runs as four bf16 kernels
(the norm, a division, two products) on tensors of up to 4 x 480 x 832 x 96; compiled it reads and writes each
once and rounds once. Against a float32 decode, the result is no further off than the eager bf16 decode's
(mean |difference| in uint8 levels: 0.49 compiled, 0.69 eager, measured with the whole decoder compiled).

Each norm shape compiles once (about fifteen at a size, cached on disk with the DiT's phases); the first decode
at a new size pays that. Without a working torch.compile (CPU, the frozen app) the decoder is left as it is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffsynth.models.wan_video_vae import RMS_norm, WanVideoVAE

from .compiling import compile_enabled, compiled_phase

DECODER_OPTIMIZING = "optimizing the decoder for this size (once)"


def _rms_norm(x: torch.Tensor, gamma: torch.Tensor, bias: torch.Tensor | None, scale: float,
              channel_first: bool) -> torch.Tensor:
    """diffsynth's RMS_norm.forward, written to compile into one kernel."""
    out = F.normalize(x, dim=1 if channel_first else -1) * scale * gamma
    return out if bias is None else out + bias


def _compiled_norm(norm: RMS_norm):
    phase = compiled_phase("vae_rms_norm", _rms_norm, fallback=True)
    bias = norm.bias if isinstance(norm.bias, torch.Tensor) else None
    if bias is None and norm.bias != 0:
        return None  # a constant bias other than diffsynth's 0.: keep the module's own forward
    scale, channel_first = float(norm.scale), bool(norm.channel_first)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return phase(x, norm.gamma, bias, scale, channel_first)

    return forward


def speed_up_decoder(vae: WanVideoVAE, setting: bool | str = "auto") -> bool:
    """Compile the decoder's norms and put its convolutions on channels-last weights, once per VAE object, when
    torch.compile works on the VAE's device under `setting` (SpeedOptions.compile). Returns whether it did."""
    done = getattr(vae, "_pusa_fast_decoder", None)
    if done is not None:
        return done
    device = next(vae.model.parameters()).device
    enabled = compile_enabled(setting, device) if device.type == "cuda" else setting is True
    if enabled:
        for module in vae.model.decoder.modules():
            if isinstance(module, torch.nn.Conv3d):
                module.weight.data = module.weight.data.contiguous(memory_format=torch.channels_last_3d)
            elif isinstance(module, RMS_norm):
                forward = _compiled_norm(module)
                if forward is not None:
                    module.forward = forward
    vae._pusa_fast_decoder = enabled
    return enabled


def _size_of(latents: torch.Tensor) -> tuple[str, int, int]:
    return str(latents.device), latents.shape[3], latents.shape[4]


def decoder_compiles(vae: WanVideoVAE, latents: torch.Tensor) -> bool:
    """Whether decoding `latents` compiles the decoder's norms: sped up, and no decode at this latent size on
    this VAE object yet (the engine says "optimizing" then, and keeps that decode out of its ETA rate)."""
    return bool(getattr(vae, "_pusa_fast_decoder", False)) and _size_of(latents) not in getattr(
        vae, "_pusa_decoded_sizes", set())


def decoded(vae: WanVideoVAE, latents: torch.Tensor) -> None:
    """Record a finished decode's latent size (see decoder_compiles)."""
    if not hasattr(vae, "_pusa_decoded_sizes"):
        vae._pusa_decoded_sizes = set()
    vae._pusa_decoded_sizes.add(_size_of(latents))
