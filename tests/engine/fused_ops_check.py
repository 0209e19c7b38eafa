"""Run in a subprocess with TRITON_INTERPRET=1 (test_fused_ops.py): the Triton kernels on the CPU, in Triton's
interpreter, against the eager formulas. Prints one JSON line of measured differences."""

from __future__ import annotations

import json
import sys
import threading

import torch
import torch.nn.functional as F

from pusa_engine import fused_ops
from pusa_engine.dit import apply_rotary_real


# ---- the eager formulas of the unfused block (dit.py) -------------------------------------------------------
def rms_norm_rotary_reference(x, weight, cos, sin, eps, heads):
    return apply_rotary_real(F.rms_norm(x, (x.shape[-1],), weight, eps), cos, sin, heads)


def layer_norm_modulate_reference(x, shift, scale, frames, eps):
    b, seq, dim = x.shape
    norm = F.layer_norm(x, (dim,), eps=eps).view(b, frames, -1, dim)
    return torch.addcmul(shift.unsqueeze(2), norm, 1 + scale.unsqueeze(2)).view(b, seq, dim)


def residual_layer_norm_reference(x, other, gate, a, b, frames, eps, modulate):
    batch, seq, dim = x.shape
    if gate is None:
        x = x + other
    else:
        x = torch.addcmul(x.view(batch, frames, -1, dim), gate.unsqueeze(2), other.view(batch, frames, -1, dim))
        x = x.view(batch, seq, dim)
    if modulate:
        return x, layer_norm_modulate_reference(x, a, b, frames, eps)
    return x, F.layer_norm(x, (dim,), a, b, eps)


def differences(dtype: torch.dtype) -> dict:
    g = torch.Generator().manual_seed(0)
    b, frames, hw, heads, head_dim = 2, 3, 4, 4, 16
    seq, dim = frames * hw, heads * head_dim
    x = (torch.randn(b, seq, dim, generator=g) * 3 + 0.5).to(dtype)
    weight = (torch.rand(dim, generator=g) + 0.5).to(dtype)
    angles = torch.rand(seq, head_dim // 2, generator=g) * 6.28
    cos, sin = angles.cos(), angles.sin()
    shift = torch.randn(b, frames, dim, generator=g).to(dtype)
    scale = (torch.randn(b, frames, dim, generator=g) * 0.1).to(dtype)
    ulp = torch.finfo(dtype).eps

    def err(got: torch.Tensor, ref: torch.Tensor) -> float:
        return ((got.float() - ref.float()).abs() / ref.float().abs().clamp_min(1.0)).max().item() / ulp

    rot = fused_ops.rms_norm_rotary(x, weight, cos, sin, 1e-6, heads)
    rot_ref = rms_norm_rotary_reference(x, weight, cos, sin, 1e-6, heads)
    mod = fused_ops.layer_norm_modulate(x, shift, scale, frames, 1e-6)
    mod_ref = layer_norm_modulate_reference(x, shift, scale, frames, 1e-6)
    # the modulation as the block hands it over: a strided view of [6, B, F, 1, dim]
    six = torch.randn(6, b, frames, 1, dim, generator=g).to(dtype)
    mod_view = fused_ops.layer_norm_modulate(x, six[0, :, :, 0], six[1, :, :, 0], frames, 1e-6)
    mod_view_ref = layer_norm_modulate_reference(x, six[0, :, :, 0], six[1, :, :, 0], frames, 1e-6)
    other = torch.randn(b, seq, dim, generator=g).to(dtype)
    gate = torch.randn(b, frames, dim, generator=g).to(dtype)
    norm_w, norm_b = (torch.rand(dim, generator=g) + 0.5).to(dtype), torch.randn(dim, generator=g).to(dtype)
    gated = fused_ops.residual_layer_norm(x, other, gate, norm_w, norm_b, frames, 1e-6, False)
    gated_ref = residual_layer_norm_reference(x, other, gate, norm_w, norm_b, frames, 1e-6, False)
    plain = fused_ops.residual_layer_norm(x, other, None, shift, scale, frames, 1e-6, True)
    plain_ref = residual_layer_norm_reference(x, other, None, shift, scale, frames, 1e-6, True)
    return {"residual_gated_ulps": max(err(gated[0], gated_ref[0]), err(gated[1], gated_ref[1])),
            "residual_modulated_ulps": max(err(plain[0], plain_ref[0]), err(plain[1], plain_ref[1])),
            "rotary_shape": list(rot.shape), "rotary_ulps": err(rot, rot_ref), "modulate_ulps": err(mod, mod_ref),
            "modulate_view_ulps": err(mod_view, mod_view_ref),
            "rotary_equal_share": (rot == rot_ref).float().mean().item(),
            "modulate_equal_share": (mod == mod_ref).float().mean().item()}


def dit_difference() -> tuple[float, float]:
    """A small DiT's forward (float32, per-frame timesteps, batch of two) with the kernels against without; and
    the sequence split over three CPU "devices" (uneven token rows, each rank its own rotary rows) with them
    against one device without them."""
    from pusa_engine import dit as D
    from pusa_engine import plans as P
    from pusa_engine.model_files import DiTConfig
    from pusa_engine.networks import build_dit

    torch.manual_seed(0)
    model = build_dit(DiTConfig(dim=96, ffn_dim=160, freq_dim=256, in_dim=16, out_dim=16, num_heads=3, num_layers=2,
                                eps=1e-6, text_dim=24), device="cpu")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        x = torch.randn(2, 16, 3, 6, 8)
        t = torch.tensor([[150.0, 900.0, 420.0], [10.0, 500.0, 999.0]])
        ctx = D.embed_context(model, torch.randn(2, 7, 24))
        plain = D.dit_forward(model, x, t, ctx, speed=D.SpeedOptions(compile=False, fused=False))
        fused = D.dit_forward(model, x, t, ctx, speed=D.SpeedOptions(compile=False, fused=True))
        cpu = torch.device("cpu")
        prompts = P.Prompts(ctx[:1], ctx[1:])
        one = P.make_plan("cpu", [cpu]).denoiser(model, prompts, 3.0)(x[:1], t[:1])
        split = P.make_plan("seq-split", [cpu] * 3)
        split.speed = D.SpeedOptions(compile=False, fused=True)
        three = split.denoiser(model, prompts, 3.0)(x[:1], t[:1])
    return ((fused - plain).norm() / plain.norm()).item(), ((three - one).norm() / one.norm()).item()


def _one_launch_at_a_time() -> None:
    """Triton's interpreter is not thread-safe (it swaps module state while a kernel runs); on a GPU each thread
    launches compiled kernels. The sequence split launches from one thread per rank, so here one at a time."""
    lock = threading.Lock()
    launch = fused_ops._launch

    def serialised(*args, **meta):
        with lock:
            launch(*args, **meta)

    fused_ops._launch = serialised


if __name__ == "__main__":
    _one_launch_at_a_time()
    result = {str(d).removeprefix("torch."): differences(d) for d in (torch.bfloat16, torch.float32)}
    result["dit_relative"], result["sequence_split_relative"] = dit_difference()
    print(json.dumps(result))
    sys.exit(0)
