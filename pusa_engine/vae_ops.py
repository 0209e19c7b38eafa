"""VAE encode / decode chunk by chunk (progress and cancel between chunks), and the step preview.

The Wan VAE is causal in time and carries a feature cache from chunk to chunk: encoding takes frame 0
and then 4 frames at a time, decoding one latent frame at a time. Running that loop here (on
diffsynth's network) lets a job report progress and stop between chunks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from diffsynth.models.wan_video_vae import WanVideoVAE

from .dit import get_speed_options
from .events import CancelToken
from .vae_speed import decoded, speed_up_decoder

ChunkProgress = Callable[[int, int], None]


def _scale(vae: WanVideoVAE, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = vae.mean.to(like.device, like.dtype).view(1, -1, 1, 1, 1)
    inv_std = (1.0 / vae.std).to(like.device, like.dtype).view(1, -1, 1, 1, 1)
    return mean, inv_std


@torch.no_grad()
def encode_video(vae: WanVideoVAE, pixels: torch.Tensor, progress: ChunkProgress | None = None,
                 cancel: CancelToken | None = None) -> torch.Tensor:
    """pixels [1, 3, T, H, W] in [-1, 1] (T = 4n+1, on the VAE's device and dtype) -> latents float32."""
    net = vae.model
    net.clear_cache()
    frames = pixels.shape[2]
    chunks = 1 + (frames - 1) // 4
    outs = []
    for i in range(chunks):
        if cancel is not None:
            cancel.raise_if_cancelled()
        net._enc_conv_idx = [0]
        piece = pixels[:, :, :1] if i == 0 else pixels[:, :, 1 + 4 * (i - 1):1 + 4 * i]
        out, net._enc_feat_map, net._enc_conv_idx = net.encoder(
            piece, feat_cache=net._enc_feat_map, feat_idx=net._enc_conv_idx)
        outs.append(out)
        if progress:
            progress(i + 1, chunks)
    mu, _ = net.conv1(torch.cat(outs, 2)).chunk(2, dim=1)
    mean, inv_std = _scale(vae, mu)
    net.clear_cache()
    return ((mu - mean) * inv_std).float()


@torch.no_grad()
def decode_latents(vae: WanVideoVAE, latents: torch.Tensor, progress: ChunkProgress | None = None,
                   cancel: CancelToken | None = None,
                   on_frames: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
    """latents [1, 16, F, h, w] -> uint8 RGB frames [4F-3, 8h, 8w, 3]; `on_frames` gets each latent frame's
    pixel frames as soon as they are decoded (the MP4 encode runs beside the decode)."""
    net = vae.model
    param = next(net.parameters())
    speed_up_decoder(vae, get_speed_options().compile)
    z = latents.to(param.device, param.dtype)
    mean, inv_std = _scale(vae, z)
    net.clear_cache()
    x = net.conv2(z / inv_std + mean)
    frames = []
    for i in range(z.shape[2]):
        if cancel is not None:
            cancel.raise_if_cancelled()
        net._conv_idx = [0]
        out, net._feat_map, net._conv_idx = net.decoder(x[:, :, i:i + 1], feat_cache=net._feat_map,
                                                        feat_idx=net._conv_idx)
        frames.append(to_uint8(out))
        if on_frames is not None:
            on_frames(frames[-1])
        if progress:
            progress(i + 1, z.shape[2])
    net.clear_cache()
    decoded(vae, latents)
    return np.concatenate(frames, axis=0)


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """[1, 3, T, H, W] in [-1, 1] -> uint8 [T, H, W, 3] (rounded on the device, one small copy)."""
    v = ((video[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return v.permute(1, 2, 3, 0).cpu().numpy()


class LatentPreview:
    """A linear latent -> RGB map fitted on the loaded VAE itself, so previews cost one tiny matmul.

    Fitted by least squares on synthetic images (smooth colour fields) that the VAE encodes: each
    latent pixel is paired with the mean colour of the 8x8 block it came from.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        self.weight = weight  # [16, 3]
        self.bias = bias  # [3]

    @classmethod
    @torch.no_grad()
    def fit(cls, vae: WanVideoVAE, size: int = 128, images: int = 12, seed: int = 0) -> LatentPreview:
        param = next(vae.model.parameters())
        gen = torch.Generator().manual_seed(seed)
        # low-frequency colour fields: random 4x4 colour grids upsampled smoothly
        coarse = torch.rand(images, 3, 4, 4, generator=gen) * 2 - 1
        pixels = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic",
                                                 align_corners=False).clamp(-1, 1)
        lat, rgb = [], []
        for img in pixels:
            z = encode_video(vae, img[None, :, None].to(param.device, param.dtype))  # [1,16,1,s/8,s/8]
            lat.append(z[0, :, 0].flatten(1).T.cpu())
            rgb.append(torch.nn.functional.avg_pool2d(img[None], 8)[0].flatten(1).T)
        a = torch.cat(lat).double()
        a = torch.cat([a, torch.ones(a.shape[0], 1, dtype=a.dtype)], 1)
        sol = torch.linalg.lstsq(a, torch.cat(rgb).double()).solution.float()
        return cls(sol[:16], sol[16])

    @torch.no_grad()
    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        """[1, 16, F, h, w] -> uint8 [F, h, w, 3] at latent resolution."""
        w = self.weight.to(latents.device, torch.float32)
        b = self.bias.to(latents.device, torch.float32)
        rgb = torch.einsum("cfhw,cd->fhwd", latents[0].float(), w) + b
        return ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
