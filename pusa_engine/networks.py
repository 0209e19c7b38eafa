"""Build diffsynth's Wan networks at any size, from config.json or from the shapes in a weight file.

Built on the meta device they cost nothing, which is how the validator knows the keys and shapes a
folder must hold, and how the loader streams weights straight into the target dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffsynth.models.wan_video_dit import WanModel, precompute_freqs_cis_3d
from diffsynth.models.wan_video_text_encoder import WanTextEncoder
from diffsynth.models.wan_video_vae import VideoVAE_, WanVideoVAE
from torch.overrides import TorchFunctionMode

from .file_headers import Shapes
from .model_files import DiTConfig

VAE_DIM_MULT = (1, 2, 4, 4)
VAE_Z_DIM = 16


def build_dit(config: DiTConfig, device: str | torch.device = "meta") -> WanModel:
    with torch.device(device):
        model = WanModel(**config.wan_model_kwargs())
    # WanModel precomputes its rotary tables in __init__; on meta they would be empty.
    model.freqs = precompute_freqs_cis_3d(config.head_dim)
    return model.eval().requires_grad_(False)


def expected_shapes(model: torch.nn.Module) -> Shapes:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def linear_shapes(model: torch.nn.Module) -> dict[str, tuple[int, int]]:
    return {n: tuple(m.weight.shape) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}


@dataclass(frozen=True)
class T5Dims:
    vocab: int
    dim: int
    dim_attn: int
    dim_ffn: int
    num_heads: int
    num_layers: int
    num_buckets: int

    @classmethod
    def from_shapes(cls, shapes: Shapes) -> T5Dims:
        vocab, dim = shapes["token_embedding.weight"]
        buckets, heads = shapes["blocks.0.pos_embedding.embedding.weight"]
        layers = 1 + max(int(k.split(".")[1]) for k in shapes if k.startswith("blocks."))
        return cls(vocab=vocab, dim=dim, dim_attn=shapes["blocks.0.attn.q.weight"][0],
                   dim_ffn=shapes["blocks.0.ffn.fc1.weight"][0], num_heads=heads, num_layers=layers,
                   num_buckets=buckets)


def build_text_encoder(dims: T5Dims, device: str | torch.device = "meta") -> WanTextEncoder:
    with torch.device(device):
        model = WanTextEncoder(vocab=dims.vocab, dim=dims.dim, dim_attn=dims.dim_attn, dim_ffn=dims.dim_ffn,
                               num_heads=dims.num_heads, num_layers=dims.num_layers,
                               num_buckets=dims.num_buckets, shared_pos=False, dropout=0.0)
    return model.eval().requires_grad_(False)


@dataclass(frozen=True)
class VAEDims:
    dim: int
    num_res_blocks: int

    @classmethod
    def from_shapes(cls, shapes: Shapes) -> VAEDims:
        dim = shapes["encoder.conv1.weight"][0]
        n_down = len({k.split(".")[2] for k in shapes if k.startswith("encoder.downsamples.")})
        # 4 levels of num_res_blocks residual blocks, with a resample between levels
        return cls(dim=dim, num_res_blocks=(n_down - (len(VAE_DIM_MULT) - 1)) // len(VAE_DIM_MULT))


def build_vae_network(dims: VAEDims, device: str | torch.device = "meta") -> VideoVAE_:
    with torch.device(device):
        net = VideoVAE_(dim=dims.dim, z_dim=VAE_Z_DIM, dim_mult=list(VAE_DIM_MULT), num_res_blocks=dims.num_res_blocks)
    return net.eval().requires_grad_(False)


class _ParametersOnMeta(TorchFunctionMode):
    """Creates module parameters (torch.empty) on meta, leaves constants made by torch.tensor real."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.empty and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def wan_vae_with_network(net: VideoVAE_) -> WanVideoVAE:
    """diffsynth's WanVideoVAE (its latent mean/std and tiling) wrapped around a network of any size.

    WanVideoVAE builds the full-size network in __init__; building that on meta keeps the latent
    statistics it defines while costing nothing.
    """
    with _ParametersOnMeta():
        vae = WanVideoVAE(z_dim=VAE_Z_DIM)
    vae.model = net
    return vae
