"""The Wan DiT forward with one timestep per latent frame: frame f's tokens are AdaLN-modulated by the
embedding of its own t_f.

Runs on diffsynth's WanModel weights and submodules, but with our own block forward: the AdaLN
modulation is computed per latent frame ([B, F, 6, dim]) and broadcast over the tokens of each frame
by viewing them as [B, F, h*w, dim], so no per-token copy of the modulation is ever made. Rotary
embeddings are applied in float32 from tables built once per grid, and norms use the fused kernels.

Speed (all lossless; same function within bf16 rounding):
- no host syncs: every table is built once per grid and cached by the caller (devices.py);
- element-wise work in as few passes as eager PyTorch allows: fused rms_norm with its weight,
  modulation and gated residuals as one `addcmul` each, rotary as one complex multiply in float32;
- attention by the fastest exact fused kernel of this GPU and shape: cuDNN, flash or FlashAttention 4
  (attention_kernels.py);
- torch.compile of the three element-wise + matmul phases of a block (one compiled graph serves all 40
  blocks), which fuses norms, rotary, modulation and gates: on by default on GPUs where it works
  (`SpeedOptions.compile` "auto"; when, how it is cached and how threads share it: compiling.py);
- where the phases compile, the three layer norms (with their residuals, gates and modulation), q and k's
  RMS norm with rotary, and the FFN's GELU run as fused ops (fused_ops.py: inductor's own code for rows of
  5120 ran at a third of the memory bandwidth).
- optionally, lossy and off by default (`SpeedOptions.fp8`): the blocks' big linear layers in FP8 (fp8.py).

A block is split into phases (`self_attn_qkv` -> `attention` -> `block_finish`) so that the two-GPU
sequence split (devices.py) can exchange heads around the self-attention.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

import diffsynth.models.wan_video_dit as wan_video_dit
import torch
import torch.nn.functional as F
from diffsynth.models.wan_video_dit import DiTBlock, WanModel

from .attention_kernels import attention as fused_attention
from .attention_kernels import keep_off_flash_attn_4
from .fp8 import fp8_linear, fp8_mode
from .fused_ops import (
    fused_ops_usable,
    layer_norm_modulate,
    linear_gelu,
    linear_gelu_usable,
    residual_layer_norm,
    rms_norm_rotary,
)


# ---- speed options ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpeedOptions:
    """How the forward runs. Every option but `fp8` computes the same function (within bf16 rounding)."""

    compile: bool | str = "auto"  # torch.compile the block phases: True, False, or "auto" (GPUs where it works)
    attention: str = "auto"  # auto | cudnn | flash | efficient | math | fa4
    tune: bool = False  # with compile: let inductor tune its fused kernels' block sizes (slower compile)
    backend: str = "inductor"  # the torch.compile backend (tests trace with lighter ones)
    fp8: bool = False  # lossy, off by default: the blocks' big linear layers in FP8 with per-channel scales
    fused: bool | str = "auto"  # fused_ops.py's kernels: True, False, or "auto" (where the phases compile)


def _compile_setting(value: str | None) -> bool | str:
    return {"1": True, "on": True, "0": False, "off": False}.get((value or "auto").lower(), "auto")


_speed = SpeedOptions(compile=_compile_setting(os.environ.get("PUSA_COMPILE")),
                      attention=os.environ.get("PUSA_ATTENTION", "auto"),
                      tune=os.environ.get("PUSA_COMPILE_TUNE", "0") == "1",
                      fp8=os.environ.get("PUSA_FP8", "0") == "1",
                      fused=_compile_setting(os.environ.get("PUSA_FUSED_OPS")))

keep_off_flash_attn_4(wan_video_dit)


def get_speed_options() -> SpeedOptions:
    return _speed


def set_speed_options(options: SpeedOptions | None = None, **changes) -> SpeedOptions:
    """Set the process-wide default (the bench and the desktop's settings use this)."""
    global _speed
    _speed = replace(options or _speed, **changes)
    return _speed


# ---- rotary ------------------------------------------------------------------------------------------
@dataclass
class RotaryTable:
    """cos/sin per token position for the 3-D rotary embedding, [L, head_dim/2] in float32.

    `freqs` is the same table as complex64 [L, 1, head_dim/2] for the eager one-kernel multiply.
    """

    cos: torch.Tensor
    sin: torch.Tensor
    freqs: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.freqs is None:
            self.freqs = torch.complex(self.cos, self.sin).unsqueeze(1)

    def to(self, device: torch.device) -> RotaryTable:
        return RotaryTable(self.cos.to(device), self.sin.to(device), self.freqs.to(device))


def rotary_table(model: WanModel, f: int, h: int, w: int, device: torch.device,
                 rows: tuple[int, int] | None = None) -> RotaryTable:
    """The table for an f x h x w token grid, or only for token rows [r0, r1) of every frame."""
    freqs = torch.cat([
        model.freqs[0][:f].view(f, 1, 1, -1).expand(f, h, w, -1),
        model.freqs[1][:h].view(1, h, 1, -1).expand(f, h, w, -1),
        model.freqs[2][:w].view(1, 1, w, -1).expand(f, h, w, -1),
    ], dim=-1)
    if rows is not None:
        freqs = freqs[:, rows[0]:rows[1]]
    freqs = freqs.reshape(-1, freqs.shape[-1])
    return RotaryTable(freqs.real.float().contiguous().to(device), freqs.imag.float().contiguous().to(device))


def apply_rotary(x: torch.Tensor, rope: RotaryTable, num_heads: int) -> torch.Tensor:
    """x [B, L, H*D] -> rotated, as [B, L, H, D] in x's dtype (pairs are interleaved, as in Wan).

    float32 complex multiply: one upcast, one multiply, one downcast.
    """
    b, seq, _ = x.shape
    xc = torch.view_as_complex(x.float().view(b, seq, num_heads, -1, 2))
    return torch.view_as_real(xc * rope.freqs).flatten(3).to(x.dtype)


def apply_rotary_real(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, num_heads: int) -> torch.Tensor:
    """The same rotation written with real cos/sin (what torch.compile fuses into one kernel)."""
    b, seq, _ = x.shape
    xf = x.float().view(b, seq, num_heads, -1, 2)
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    real = xf[..., 0] * cos - xf[..., 1] * sin
    imag = xf[..., 0] * sin + xf[..., 1] * cos
    return torch.stack([real, imag], dim=-1).flatten(3).to(x.dtype)


# ---- small fused pieces ------------------------------------------------------------------------------
def rms_norm(norm: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """diffsynth's RMSNorm (normalise in float32, scale) as one fused kernel; one rounding instead of two."""
    return F.rms_norm(x, norm.normalized_shape, norm.weight, norm.eps)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, speed: SpeedOptions | None = None) -> torch.Tensor:
    """q, k, v [B, L, H, D] -> [B, L, H*D] with the fastest exact fused kernel (attention_kernels.py)."""
    return fused_attention(q, k, v, (speed or _speed).attention)


def block_modulation(block: DiTBlock, t_mod: torch.Tensor) -> torch.Tensor:
    """[B, F, 6, dim] -> the block's six per-frame vectors, [6, B, F, 1, dim] (broadcast over tokens)."""
    return (block.modulation.to(t_mod.dtype).unsqueeze(0) + t_mod).permute(2, 0, 1, 3).unsqueeze(3).contiguous()


# ---- the block, in phases -----------------------------------------------------------------------------
def _lin(layer: torch.nn.Linear, x: torch.Tensor, fp8: str) -> torch.Tensor:
    """A linear layer, in FP8 with per-channel scales when `fp8` names a mode (fp8.py), else as it is."""
    if not fp8:
        return layer(x)
    return fp8_linear(x, layer.weight, layer.bias, fp8)


def _qkv(block: DiTBlock, x: torch.Tensor, mod: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
         freqs: torch.Tensor | None, frames: int, fp8: str = "", fused: bool = False):
    b, seq, dim = x.shape
    attn = block.self_attn
    if fused:  # fused_ops.py: one pass over the rows for each of the two steps
        h = layer_norm_modulate(x, mod[0][:, :, 0], mod[1][:, :, 0], frames, block.norm1.eps)
        q = rms_norm_rotary(_lin(attn.q, h, fp8), attn.norm_q.weight, cos, sin, attn.norm_q.eps, attn.num_heads)
        k = rms_norm_rotary(_lin(attn.k, h, fp8), attn.norm_k.weight, cos, sin, attn.norm_k.eps, attn.num_heads)
        return q, k, _lin(attn.v, h, fp8).unflatten(2, (attn.num_heads, -1))
    shift, scale = mod[0], mod[1]
    h = torch.addcmul(shift, F.layer_norm(x, (dim,), eps=block.norm1.eps).view(b, frames, -1, dim),
                      1 + scale).view(b, seq, dim)
    q, k = rms_norm(attn.norm_q, _lin(attn.q, h, fp8)), rms_norm(attn.norm_k, _lin(attn.k, h, fp8))
    if freqs is None:
        q, k = apply_rotary_real(q, cos, sin, attn.num_heads), apply_rotary_real(k, cos, sin, attn.num_heads)
    else:
        rope = RotaryTable(cos, sin, freqs)
        q, k = apply_rotary(q, rope, attn.num_heads), apply_rotary(k, rope, attn.num_heads)
    v = _lin(attn.v, h, fp8).unflatten(2, (attn.num_heads, -1))
    return q, k, v


def _after_self_attn(block: DiTBlock, x: torch.Tensor, attn_out: torch.Tensor, mod: torch.Tensor,
                     context: torch.Tensor, frames: int, fp8: str = "", fused: bool = False):
    """x += gate * o(attn); then the cross-attention's q, k, v (k, v from the text)."""
    b, seq, dim = x.shape
    o = _lin(block.self_attn.o, attn_out, fp8)
    if fused:  # the gated residual and norm3 in one pass (fused_ops.py)
        x, h = residual_layer_norm(x, o, mod[2][:, :, 0], block.norm3.weight, block.norm3.bias, frames,
                                   block.norm3.eps, False)
    else:
        x = torch.addcmul(x.view(b, frames, -1, dim), mod[2], o.view(b, frames, -1, dim)).view(b, seq, dim)
        h = block.norm3(x)
    cross = block.cross_attn
    heads = cross.num_heads
    q = rms_norm(cross.norm_q, _lin(cross.q, h, fp8)).unflatten(2, (heads, -1))
    k = rms_norm(cross.norm_k, cross.k(context)).unflatten(2, (heads, -1))
    v = cross.v(context).unflatten(2, (heads, -1))
    return x, q, k, v


def _after_cross_attn(block: DiTBlock, x: torch.Tensor, cross_out: torch.Tensor, mod: torch.Tensor, frames: int,
                      fp8: str = "", fused: bool = False, gelu: bool = False):
    b, seq, dim = x.shape
    o = _lin(block.cross_attn.o, cross_out, fp8)
    if fused:  # the residual, norm2 and the modulation in one pass (fused_ops.py)
        x, h = residual_layer_norm(x, o, None, mod[3][:, :, 0], mod[4][:, :, 0], frames, block.norm2.eps, True)
    else:
        x = x + o
        h = torch.addcmul(mod[3], F.layer_norm(x, (dim,), eps=block.norm2.eps).view(b, frames, -1, dim),
                          1 + mod[4]).view(b, seq, dim)
    ffn = block.ffn
    if gelu:  # the GELU in the matmul's epilogue (fused_ops.linear_gelu)
        hidden = linear_gelu(h.view(b * seq, dim), ffn[0].weight, ffn[0].bias).view(b, seq, -1)
    else:
        hidden = F.gelu(_lin(ffn[0], h, fp8), approximate="tanh")
    y = _lin(ffn[2], hidden, fp8)
    return torch.addcmul(x.view(b, frames, -1, dim), mod[5], y.view(b, frames, -1, dim)).view(b, seq, dim)


def compiled_here(speed: SpeedOptions, x: torch.Tensor) -> bool:
    """Whether the phases run compiled for tensors on x's device (compiling.compile_enabled)."""
    if speed.compile is False:
        return False
    from .compiling import compile_enabled

    return compile_enabled(speed.compile, x.device)


def fused_here(speed: SpeedOptions, x: torch.Tensor, on: bool) -> bool:
    """Whether fused_ops.py's kernels run for x: "auto" where the phases run compiled (Triton works there)."""
    if speed.fused is False or (speed.fused == "auto" and not on):
        return False
    return fused_ops_usable(x)


def _phase(name: str, fn, speed: SpeedOptions, on: bool):
    if not on:
        return fn
    from .compiling import compiled_phase

    return compiled_phase(name, fn, tune=speed.tune, backend=speed.backend, fallback=speed.compile == "auto")


def self_attn_qkv(block: DiTBlock, x: torch.Tensor, mod: torch.Tensor, rope: RotaryTable, frames: int,
                  speed: SpeedOptions | None = None):
    """Phase 1: modulated norm, q/k/v projections, q/k norms and rotary -> q, k, v [B, L, H, D]."""
    speed = speed or _speed
    on = compiled_here(speed, x)
    freqs = None if on else rope.freqs  # compiled: the real formula fuses into one kernel
    fp8 = fp8_mode(speed.fp8, x.device)
    fused = fused_here(speed, x, on)
    return _phase("qkv", _qkv, speed, on)(block, x, mod, rope.cos, rope.sin, freqs, frames, fp8, fused)


def block_finish(block: DiTBlock, x: torch.Tensor, attn_out: torch.Tensor, context: torch.Tensor,
                 mod: torch.Tensor, frames: int, speed: SpeedOptions | None = None) -> torch.Tensor:
    """Phase 2: gated residual of the self-attention, cross-attention, FFN."""
    speed = speed or _speed
    on = compiled_here(speed, x)
    fp8 = fp8_mode(speed.fp8, x.device)
    fused = fused_here(speed, x, on)
    x, q, k, v = _phase("after_self", _after_self_attn, speed, on)(block, x, attn_out, mod, context, frames, fp8,
                                                                    fused)
    cross_out = attention(q, k, v, speed)
    gelu = fused and not fp8 and linear_gelu_usable(x, block.ffn[0].bias)
    return _phase("after_cross", _after_cross_attn, speed, on)(block, x, cross_out, mod, frames, fp8, fused, gelu)


def block_forward(block: DiTBlock, x: torch.Tensor, context: torch.Tensor, t_mod: torch.Tensor,
                  rope: RotaryTable, frames: int, speed: SpeedOptions | None = None) -> torch.Tensor:
    """One DiT block; t_mod is [B, F, 6, dim] and is broadcast over each frame's tokens."""
    speed = speed or _speed
    mod = block_modulation(block, t_mod)
    q, k, v = self_attn_qkv(block, x, mod, rope, frames, speed)
    return block_finish(block, x, attention(q, k, v, speed), context, mod, frames, speed)


# ---- time, patches, head -------------------------------------------------------------------------------
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

    def to(self, device: torch.device) -> TimeModulation:
        return TimeModulation(self.e.to(device), self.t_mod.to(device))


def time_modulation(model: WanModel, timesteps: torch.Tensor, dtype: torch.dtype) -> TimeModulation:
    """timesteps [B, F] (already in the compute dtype) -> per-frame embeddings."""
    b, f = timesteps.shape
    e = model.time_embedding(sinusoidal_embedding(model.freq_dim, timesteps.flatten()).to(dtype))
    t_mod = model.time_projection(e).unflatten(1, (6, model.dim))
    return TimeModulation(e.view(b, f, -1), t_mod.view(b, f, 6, model.dim))


def patch_tokens(model: WanModel, x: torch.Tensor) -> torch.Tensor:
    """Latents [B, 16, F, h, w] -> token grid [B, gf, gh, gw, dim]."""
    return model.patch_embedding(x).permute(0, 2, 3, 4, 1)


def head_forward(model: WanModel, x: torch.Tensor, e: torch.Tensor, frames: int) -> torch.Tensor:
    head = model.head
    b, seq, dim = x.shape
    shift, scale = (head.modulation.to(e.dtype).unsqueeze(0) + e.unsqueeze(2)).unsqueeze(3).unbind(2)
    h = torch.addcmul(shift, F.layer_norm(x, (dim,), eps=head.norm.eps).view(b, frames, seq // frames, dim),
                      1 + scale)
    return head.head(h.view(b, seq, dim))


def unpatchify(model: WanModel, out: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
    """Head output [B, gf*gh*gw, out*prod(patch)] -> [B, out, F, h, w]."""
    b = out.shape[0]
    gf, gh, gw = grid
    pf, ph, pw = model.patch_size
    out = out.view(b, gf, gh, gw, pf, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return out.reshape(b, -1, gf * pf, gh * ph, gw * pw)


def embed_context(model: WanModel, context: torch.Tensor) -> torch.Tensor:
    """The text embedding MLP; constant over a job, so the sampler calls it once per prompt."""
    return model.text_embedding(context)


def dit_forward(model: WanModel, x: torch.Tensor, timesteps: torch.Tensor, context_emb: torch.Tensor,
                rope: RotaryTable | None = None, *, blocks: Iterable[DiTBlock] | None = None,
                speed: SpeedOptions | None = None) -> torch.Tensor:
    """Velocity for latents x [B, 16, F, h, w] at per-frame timesteps [B, F] (compute dtype).

    `context_emb` is the output of embed_context. Returns [B, 16, F, h, w] in x's dtype.
    `blocks` replaces model.blocks (the block-streaming plan yields blocks as their weights arrive).
    """
    speed = speed or _speed
    dtype = x.dtype
    grid = patch_tokens(model, x)
    b, gf, gh, gw, dim = grid.shape
    tokens = grid.reshape(b, gf * gh * gw, dim)
    if rope is None:
        rope = rotary_table(model, gf, gh, gw, x.device)
    mod = time_modulation(model, timesteps, dtype)
    for block in (model.blocks if blocks is None else blocks):
        tokens = block_forward(block, tokens, context_emb, mod.t_mod, rope, gf, speed)
    return unpatchify(model, head_forward(model, tokens, mod.e, gf), (gf, gh, gw))


def forward_flops(tokens: int, text_tokens: int, dim: int, ffn_dim: int, layers: int) -> float:
    """Matmul + attention FLOPs of one DiT forward (2 per multiply-add), for the benchmark's floor.

    Per block: self-attention q, k, v, o (4 L d^2 MACs), cross-attention q, o on the tokens (2 L d^2)
    and k, v on the text (2 T d^2), FFN (2 L d f); attention scores and values 2 L^2 d + 2 L T d.
    480p (L 32,760): 0.785 PFLOP linear + 0.879 self-attention = 1.67 PFLOP (2 FLOPs per multiply-add).
    """
    linear = layers * 2 * (tokens * (6 * dim * dim + 2 * dim * ffn_dim) + text_tokens * 2 * dim * dim)
    attn = layers * (4 * tokens * tokens * dim + 4 * tokens * text_tokens * dim)
    return float(linear + attn)


def forward_flops_split(tokens: int, text_tokens: int, dim: int, ffn_dim: int, layers: int) -> tuple[float, float]:
    """(linear, attention) FLOPs of one forward."""
    linear = layers * 2 * (tokens * (6 * dim * dim + 2 * dim * ffn_dim) + text_tokens * 2 * dim * dim)
    return float(linear), forward_flops(tokens, text_tokens, dim, ffn_dim, layers) - float(linear)
