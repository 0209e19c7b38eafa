"""vae_speed.py: the decoder with compiled norms and channels-last convolutions decodes what the plain one does,
and is changed only where torch.compile works."""

from __future__ import annotations

import numpy as np
import torch
from diffsynth.models.wan_video_vae import RMS_norm

from pusa_engine.networks import VAEDims, build_vae_network, wan_vae_with_network
from pusa_engine.vae_ops import decode_latents
from pusa_engine.vae_speed import _rms_norm, speed_up_decoder


def _tiny_vae():
    torch.manual_seed(0)
    vae = wan_vae_with_network(build_vae_network(VAEDims(dim=8, num_res_blocks=1), "cpu"))
    with torch.no_grad():
        for p in vae.model.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # gammas away from one: every norm matters
    return vae.eval().requires_grad_(False)


def test_the_norm_formula_is_diffsynths():
    norm = RMS_norm(6, images=False)
    with torch.no_grad():
        norm.gamma.add_(torch.randn_like(norm.gamma))
    x = torch.randn(1, 6, 2, 3, 4)
    assert torch.allclose(_rms_norm(x, norm.gamma, None, norm.scale, True), norm(x), atol=1e-6)
    with_bias = RMS_norm(6, channel_first=False, bias=True)
    with torch.no_grad():
        with_bias.bias.add_(0.5)
    y = torch.randn(4, 6)
    assert torch.allclose(_rms_norm(y, with_bias.gamma, with_bias.bias, with_bias.scale, False), with_bias(y),
                          atol=1e-6)


def test_auto_leaves_a_cpu_decoder_as_it_is():
    vae = _tiny_vae()
    assert speed_up_decoder(vae, "auto") is False
    assert all("forward" not in vars(m) for m in vae.model.decoder.modules() if isinstance(m, RMS_norm))
    assert speed_up_decoder(vae, True) is False  # decided once per VAE object


def test_the_sped_up_decoder_decodes_the_same_frames():
    z = torch.randn(1, 16, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    plain = decode_latents(_tiny_vae(), z)
    fast_vae = _tiny_vae()
    assert speed_up_decoder(fast_vae, True) is True  # forced: compiled on the CPU too
    convs = [m for m in fast_vae.model.decoder.modules() if isinstance(m, torch.nn.Conv3d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last_3d) for c in convs)
    fast = decode_latents(fast_vae, z)
    assert fast.shape == plain.shape == (9, 64, 64, 3)
    diff = np.abs(fast.astype(np.int16) - plain.astype(np.int16))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01  # float32: the same up to rounding
