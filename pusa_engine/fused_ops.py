"""Fused operations of the DiT block that inductor's own kernels leave slow, as custom ops.

Measured on an H200 (480p, 32,760 tokens x 5120; benchmarks/fusion_probe.py), inductor's code for a block's
norms ran far below the memory bandwidth: a row of 5120 is past its limit for keeping a row in registers
(1024), so it loops over each row twice, and rotary's interleaved pairs become gathers:
- q and k's RMS norm and rotary: 1.28 ms a block, about 1.5 TB/s;
- the three layer norms with their residuals, gates and modulation: 0.6-0.96 ms each, 1.4-2.2 TB/s.
The Triton kernels here hold one row in registers (one read, one write; rotary's pairs are loaded as the row
lies in memory and split in registers): 0.45 ms for each of q and k, 0.53 ms a norm on average, and all the
element-wise work of a forward fell from 0.22 to 0.12 s. The last op puts the FFN's GELU (tanh form, as
Wan's) into the matmul's epilogue (cuBLASLt), so the 13,824-wide hidden layer is written once instead of
written, read and written again (a net 0.02 s a forward). cuBLASLt's GELU epilogue
is the tanh form, and PyTorch made every GPU path of `_addmm_activation` use it (pytorch/pytorch#104061); its
CPU path is the erf form, so the CPU runs the eager formula. (At Wan's shapes on an H200 the two forms differ
by less than bf16 rounding: 1.67e-3 from tanh, 1.68e-3 from erf; measured by benchmarks/fusion_probe.py.)

Arithmetic and rounding follow the eager block: the RMS norm rounds to bf16 before rotary; the layer norm
rounds to bf16, `1 + scale` is rounded, and `shift + norm * (1 + scale)` is rounded once. The GELU is applied
to the float32 sum before its one rounding. All of them are therefore bf16-rounding-equal to eager (tests run
the kernels in Triton's interpreter on the CPU against dit.py's own unfused formulas).

The ops are registered with `torch.library` so torch.compile keeps them whole inside a compiled phase
(`triton_op` lets inductor launch the Triton kernels itself). They are used where the phases run compiled on a
CUDA GPU (Triton is then known to work), unless `SpeedOptions.fused` is off (PUSA_FUSED_OPS=0); elsewhere
the eager formulas run.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import torch
import torch.nn.functional as F

try:
    import triton
    import triton.language as tl
except ImportError:  # the frozen app and CPU-only installs: the eager formulas run
    triton = None

ROW_LIMIT = 8192  # one program holds a row of up to this many channels in registers


def fused_ops_usable(x: torch.Tensor) -> bool:
    """Whether the Triton kernels can take x: Triton present, x on a CUDA GPU (or in Triton's interpreter),
    bf16 or fp16 or fp32, a row short enough to be held in registers."""
    if triton is None or x.shape[-1] > ROW_LIMIT:
        return False
    on_interpreter = os.environ.get("TRITON_INTERPRET") == "1"
    return (x.is_cuda or on_interpreter) and x.dtype in (torch.bfloat16, torch.float16, torch.float32)


# ---- the eager formula of the GELU op (the CPU runs it) ------------------------------------------------------
def linear_gelu_reference(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.gelu(F.linear(x, weight, bias), approximate="tanh")


# ---- the Triton kernels -----------------------------------------------------------------------------------
if triton is not None:
    @triton.jit
    def _rms_norm_rotary_kernel(x_ptr, w_ptr, cos_ptr, sin_ptr, out_ptr, seq, eps,
                                DIM: tl.constexpr, HALF_HEAD: tl.constexpr, PAIRS: tl.constexpr):
        row = tl.program_id(0)
        pos = row % seq
        i = tl.arange(0, PAIRS)
        pair = 2 * i[:, None] + tl.arange(0, 2)[None, :]  # [PAIRS, 2]: the row as it lies in memory
        live = pair < DIM
        dt = out_ptr.dtype.element_ty
        x = tl.load(x_ptr + row.to(tl.int64) * DIM + pair, mask=live, other=0.0).to(tl.float32)
        rstd = tl.rsqrt(tl.sum(tl.sum(x * x, 1), 0) / DIM + eps)
        w = tl.load(w_ptr + pair, mask=live, other=0.0).to(tl.float32)
        even, odd = tl.split((x * rstd * w).to(dt).to(tl.float32))  # rounded before rotary, as in eager
        d = pos * HALF_HEAD + i % HALF_HEAD
        c = tl.load(cos_ptr + d, mask=i < DIM // 2, other=0.0)
        s = tl.load(sin_ptr + d, mask=i < DIM // 2, other=0.0)
        out = tl.join(even * c - odd * s, even * s + odd * c)
        tl.store(out_ptr + row.to(tl.int64) * DIM + pair, out.to(dt), mask=live)

    @triton.jit
    def _residual_layer_norm_kernel(x_ptr, other_ptr, gate_ptr, a_ptr, b_ptr, x_out_ptr, h_ptr, seq, frame_rows,
                                    mod_b, mod_f, eps, DIM: tl.constexpr, BLOCK: tl.constexpr,
                                    RESIDUAL: tl.constexpr, GATED: tl.constexpr, MODULATE: tl.constexpr):
        """[x (+ gate *) other ->] LN -> (shift + norm * (1 + scale)) or (norm * weight + bias), per row."""
        row = tl.program_id(0)
        mod = (row // seq) * mod_b + ((row % seq) // frame_rows) * mod_f + tl.arange(0, BLOCK)
        i = tl.arange(0, BLOCK)
        live = i < DIM
        dt = h_ptr.dtype.element_ty
        at = row.to(tl.int64) * DIM + i
        x = tl.load(x_ptr + at, mask=live, other=0.0).to(tl.float32)
        if RESIDUAL:
            other = tl.load(other_ptr + at, mask=live, other=0.0).to(tl.float32)
            if GATED:
                other = other * tl.load(gate_ptr + mod, mask=live, other=0.0).to(tl.float32)
            x = (x + other).to(dt)  # the residual stream is rounded, as in eager
            tl.store(x_out_ptr + at, x, mask=live)
            x = x.to(tl.float32)
        mean = tl.sum(x, 0) / DIM
        centred = tl.where(live, x - mean, 0.0)
        rstd = tl.rsqrt(tl.sum(centred * centred, 0) / DIM + eps)
        if MODULATE:
            norm = (centred * rstd).to(dt).to(tl.float32)
            shift = tl.load(a_ptr + mod, mask=live, other=0.0).to(tl.float32)
            scale = (tl.load(b_ptr + mod, mask=live, other=0.0).to(tl.float32) + 1.0).to(dt).to(tl.float32)
            h = shift + norm * scale
        else:
            h = centred * rstd * tl.load(a_ptr + i, mask=live, other=0.0).to(tl.float32) \
                + tl.load(b_ptr + i, mask=live, other=0.0).to(tl.float32)
        tl.store(h_ptr + at, h.to(dt), mask=live)


def _warps(width: int) -> int:
    return 16 if width >= 4096 else 8 if width >= 1024 else 4


def _launch(kernel, grid, device: torch.device, *args, **meta):
    """Launch a Triton kernel on `device`: through `wrap_triton` so that inductor sees it inside a compiled
    phase; Triton launches on the current device, which a plan keeping blocks on two GPUs in one thread
    (the memory split) does not switch."""
    from torch.library import wrap_triton

    elsewhere = device.type == "cuda" and device.index != torch.cuda.current_device()
    with torch.cuda.device(device) if elsewhere else nullcontext():
        wrap_triton(kernel)[grid](*args, **meta)


def _rows(x: torch.Tensor) -> torch.Tensor:
    return torch.empty(x.shape, device=x.device, dtype=x.dtype)  # rows contiguous, whatever x's strides


def _layer_norm(x: torch.Tensor, other: torch.Tensor | None, gate: torch.Tensor | None, a: torch.Tensor,
                b: torch.Tensor, frames: int, eps: float, modulate: bool) -> tuple[torch.Tensor, torch.Tensor]:
    batch, seq, dim = x.shape
    x = x.contiguous()
    a, b = a.contiguous(), b.contiguous()  # shift, scale and gate: [B, F, dim] rows
    x_out, h = _rows(x), _rows(x)
    _launch(_residual_layer_norm_kernel, (batch * seq,), x.device, x, x if other is None else other.contiguous(),
            x if gate is None else gate.contiguous(), a, b, x_out, h, seq, seq // frames,
            frames * dim, dim, eps, DIM=dim, BLOCK=triton.next_power_of_2(dim),
            RESIDUAL=other is not None, GATED=gate is not None, MODULATE=modulate, num_warps=_warps(dim))
    return x_out, h


# ---- the ops --------------------------------------------------------------------------------------------------
@torch.library.triton_op("pusa::rms_norm_rotary", mutates_args=())
def rms_norm_rotary(x: torch.Tensor, weight: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, eps: float,
                    heads: int) -> torch.Tensor:
    """x [B, L, H*D] -> RMS norm with weight, then rotary; [B, L, H, D]. cos, sin [L, D/2] float32."""
    b, seq, dim = x.shape
    out = torch.empty((b, seq, heads, dim // heads), device=x.device, dtype=x.dtype)
    _launch(_rms_norm_rotary_kernel, (b * seq,), x.device, x.contiguous(), weight.contiguous(), cos.contiguous(),
            sin.contiguous(), out, seq, eps, DIM=dim, HALF_HEAD=dim // heads // 2,
            PAIRS=triton.next_power_of_2(dim // 2), num_warps=_warps(dim))
    return out


@torch.library.triton_op("pusa::layer_norm_modulate", mutates_args=())
def layer_norm_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, frames: int,
                        eps: float) -> torch.Tensor:
    """x [B, L, dim]; shift, scale [B, F, dim] -> shift + LN(x) * (1 + scale) per frame."""
    return _layer_norm(x, None, None, shift, scale, frames, eps, modulate=True)[1]


@torch.library.triton_op("pusa::residual_layer_norm", mutates_args=())
def residual_layer_norm(x: torch.Tensor, other: torch.Tensor, gate: torch.Tensor | None, a: torch.Tensor,
                        b: torch.Tensor, frames: int, eps: float, modulate: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """x' = x + gate * other (gate [B, F, dim] per frame, or none), then LN(x') modulated by shift a and scale b
    ([B, F, dim]) or with weight a and bias b ([dim]). Returns (x', the normed rows)."""
    return _layer_norm(x, other, gate, a, b, frames, eps, modulate)


@torch.library.custom_op("pusa::linear_gelu", mutates_args=())
def linear_gelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """gelu_tanh(x @ weight.T + bias) for x [N, in], the GELU in cuBLASLt's epilogue on CUDA (tanh form; the
    CPU's `_addmm_activation` takes the erf form, so the CPU runs the eager formula)."""
    if not x.is_cuda:
        return linear_gelu_reference(x, weight, bias)
    return torch._addmm_activation(bias, x, weight.t(), use_gelu=True)


@linear_gelu.register_fake
def _(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return x.new_empty(x.shape[0], weight.shape[0])


def linear_gelu_usable(x: torch.Tensor, bias: torch.Tensor | None) -> bool:
    """cuBLASLt's GELU epilogue: CUDA, 16-bit floats, a bias (Wan's FFN has one)."""
    return x.is_cuda and bias is not None and x.dtype in (torch.bfloat16, torch.float16)
