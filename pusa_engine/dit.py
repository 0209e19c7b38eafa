"""The Wan DiT forward with one timestep per latent frame (spec section 5).

Runs on diffsynth's WanModel weights and submodules, but with our own block forward: the AdaLN
modulation is computed per latent frame ([B, F, 6, dim]) and broadcast over the tokens of each frame
by viewing them as [B, F, h*w, dim], so no per-token copy of the modulation is ever made. Rotary
embeddings are applied in float32 with real cos/sin tables, and norms use the fused kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffsynth.models.wan_video_dit import DiTBlock, WanModel


@dataclass
class RotaryTable:
    """cos/sin per token position for the 3-D rotary embedding, [L, head_dim/2] in float32."""

    cos: torch.Tensor
    sin: torch.Tensor


def rotary_table(model: WanModel, f: int, h: int, w: int, device: torch.device) -> RotaryTable:
    freqs = torch.cat([
        model.freqs[0][:f].view(f, 1, 1, -1).expand(f, h, w, -1),
        model.freqs[1][:h].view(1, h, 1, -1).expand(f, h, w, -1),
        model.freqs[2][:w].view(1, 1, w, -1).expand(f, h, w, -1),
    ], dim=-1).reshape(f * h * w, -1)
    return RotaryTable(freqs.real.float().to(device), freqs.imag.float().to(device))


def apply_rotary(x: torch.Tensor, rope: RotaryTable, num_heads: int) -> torch.Tensor:
    """x [B, L, H*D] -> rotated, as [B, L, H, D] in x's dtype (pairs are interleaved, as in Wan)."""
    b, seq, _ = x.shape
    xf = x.float().view(b, seq, num_heads, -1, 2)
    cos, sin = rope.cos[None, :, None, :], rope.sin[None, :, None, :]
    real = xf[..., 0] * cos - xf[..., 1] * sin
    imag = xf[..., 0] * sin + xf[..., 1] * cos
    return torch.stack([real, imag], dim=-1).flatten(3).to(x.dtype)


def rms_norm(norm: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """diffsynth's RMSNorm: normalise in float32, cast back, then scale."""
    return F.rms_norm(x.float(), norm.normalized_shape, eps=norm.eps).to(x.dtype) * norm.weight


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """q, k, v [B, L, H, D] -> [B, L, H*D] with PyTorch's fused attention (flash / cuDNN on GPUs)."""
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2).flatten(2)


def self_attention(block: DiTBlock, x: torch.Tensor, rope: RotaryTable) -> torch.Tensor:
    attn = block.self_attn
    q = apply_rotary(rms_norm(attn.norm_q, attn.q(x)), rope, attn.num_heads)
    k = apply_rotary(rms_norm(attn.norm_k, attn.k(x)), rope, attn.num_heads)
    v = attn.v(x).unflatten(2, (attn.num_heads, -1))
    return attn.o(attention(q, k, v))


def cross_attention(block: DiTBlock, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    attn = block.cross_attn
    q = rms_norm(attn.norm_q, attn.q(x)).unflatten(2, (attn.num_heads, -1))
    k = rms_norm(attn.norm_k, attn.k(context)).unflatten(2, (attn.num_heads, -1))
    v = attn.v(context).unflatten(2, (attn.num_heads, -1))
    return attn.o(attention(q, k, v))


def block_forward(block: DiTBlock, x: torch.Tensor, context: torch.Tensor, t_mod: torch.Tensor,
                  rope: RotaryTable, frames: int) -> torch.Tensor:
    """One DiT block; t_mod is [B, F, 6, dim] and is broadcast over each frame's tokens."""
    b, seq, dim = x.shape
    mod = block.modulation.to(t_mod.dtype).unsqueeze(0) + t_mod  # [B, F, 6, dim]
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod.unsqueeze(3).unbind(2)  # [B,F,1,dim]

    def per_frame(t: torch.Tensor) -> torch.Tensor:
        return t.view(b, frames, seq // frames, dim)

    def flat(t: torch.Tensor) -> torch.Tensor:
        return t.view(b, seq, dim)

    h = flat(per_frame(block.norm1(x)) * (1 + scale_msa) + shift_msa)
    x = flat(per_frame(x) + gate_msa * per_frame(self_attention(block, h, rope)))
    x = x + cross_attention(block, block.norm3(x), context)
    h = flat(per_frame(block.norm2(x)) * (1 + scale_mlp) + shift_mlp)
    x = flat(per_frame(x) + gate_mlp * per_frame(block.ffn(h)))
    return x


def sinusoidal_embedding(dim: int, t: torch.Tensor) -> torch.Tensor:
    """Wan's timestep embedding, computed in float64 as diffsynth does, returned in t's dtype."""
    half = dim // 2
    freqs = torch.pow(10000, -torch.arange(half, dtype=torch.float64, device=t.device).div(half))
    angles = torch.outer(t.to(torch.float64), freqs)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1).to(t.dtype)


@dataclass
class TimeModulation:
    e: torch.Tensor  # [B, F, dim] for the head
    t_mod: torch.Tensor  # [B, F, 6, dim] for the blocks


def time_modulation(model: WanModel, timesteps: torch.Tensor, dtype: torch.dtype) -> TimeModulation:
    """timesteps [B, F] (already in the compute dtype) -> per-frame embeddings."""
    b, f = timesteps.shape
    e = model.time_embedding(sinusoidal_embedding(model.freq_dim, timesteps.flatten()).to(dtype))
    t_mod = model.time_projection(e).unflatten(1, (6, model.dim))
    return TimeModulation(e.view(b, f, -1), t_mod.view(b, f, 6, model.dim))


def head_forward(model: WanModel, x: torch.Tensor, e: torch.Tensor, frames: int) -> torch.Tensor:
    head = model.head
    b, seq, dim = x.shape
    shift, scale = (head.modulation.to(e.dtype).unsqueeze(0) + e.unsqueeze(2)).unsqueeze(3).unbind(2)
    h = (head.norm(x).view(b, frames, seq // frames, dim) * (1 + scale) + shift).view(b, seq, dim)
    return head.head(h)


def embed_context(model: WanModel, context: torch.Tensor) -> torch.Tensor:
    """The text embedding MLP; constant over a job, so the sampler calls it once per prompt."""
    return model.text_embedding(context)


def dit_forward(model: WanModel, x: torch.Tensor, timesteps: torch.Tensor, context_emb: torch.Tensor,
                rope: RotaryTable | None = None) -> torch.Tensor:
    """Velocity for latents x [B, 16, F, h, w] at per-frame timesteps [B, F] (compute dtype).

    `context_emb` is the output of embed_context. Returns [B, 16, F, h, w] in x's dtype.
    """
    dtype = x.dtype
    b, _, f, hh, ww = x.shape
    pf, ph, pw = model.patch_size
    tokens = model.patch_embedding(x)  # [B, dim, f, h/2, w/2]
    gf, gh, gw = tokens.shape[2:]
    tokens = tokens.flatten(2).transpose(1, 2)
    if rope is None:
        rope = rotary_table(model, gf, gh, gw, x.device)
    mod = time_modulation(model, timesteps, dtype)
    for block in model.blocks:
        tokens = block_forward(block, tokens, context_emb, mod.t_mod, rope, gf)
    out = head_forward(model, tokens, mod.e, gf)
    out = out.view(b, gf, gh, gw, pf, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return out.reshape(b, -1, gf * pf, gh * ph, gw * pw)


def forward_flops(tokens: int, text_tokens: int, dim: int, ffn_dim: int, layers: int) -> float:
    """Matmul + attention FLOPs of one DiT forward (2 per multiply-add), for the benchmark's floor."""
    linear = layers * (2 * tokens * (4 * dim * dim + 2 * dim * ffn_dim) + 2 * tokens * dim * dim
                       + 2 * text_tokens * 2 * dim * dim)
    attn = layers * (4 * tokens * tokens * dim + 4 * tokens * text_tokens * dim)
    return float(linear + attn)

