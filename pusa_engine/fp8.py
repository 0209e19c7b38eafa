"""The optional FP8 linear path (lossy, off by default): y = x @ W^T + b with x and W in float8 e4m3.

Per-channel scales: every row of x (a token) and every row of W (an output channel) gets its own scale,
amax / 448, so one outlier token or channel does not cost the others their precision. The product runs in
`torch._scaled_mm` (FP8 tensor cores on Hopper: measured 1.66-1.82x over bf16 at Wan's shapes on an H200),
accumulating in float32 and writing x's dtype; the scales are applied to the float32 accumulator:

    y[m, n] = (sum_k qx[m, k] * qw[n, k]) * sx[m] * sw[n] + b[n]

The weights are quantized at every call from the current (LoRA-merged) bf16 weights: no second copy of
the model, always in step with an alpha change, for about 3 bytes of memory traffic per weight and call
(~10 ms a forward on an H200, under 1 % of it). Where `_scaled_mm` cannot run (no FP8 support on this
device or torch), the same arithmetic runs in float32 (`reference_fp8_linear`), which is what the CPU
tests check `_scaled_mm` against.
"""

from __future__ import annotations

import torch

FP8 = torch.float8_e4m3fn
FP8_MAX = float(torch.finfo(FP8).max)  # 448
_TINY = 1e-12


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x [M, K] -> (q [M, K] float8 e4m3, scale [M, 1] float32) with x ~= q * scale, |q| <= 448."""
    xf = x.float()
    scale = xf.abs().amax(dim=1, keepdim=True).clamp(min=_TINY) / FP8_MAX
    q = (xf / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8)
    return q, scale


def dequantize_rows(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale


def reference_fp8_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """The FP8 path's arithmetic in float32 (quantize both operands per row, multiply, rescale)."""
    k = x.shape[-1]
    qx, sx = quantize_rows(x.reshape(-1, k))
    qw, sw = quantize_rows(weight)
    y = (qx.float() @ qw.float().t()) * sx * sw.t()
    if bias is not None:
        y = y + bias.float()
    return y.to(x.dtype).reshape(*x.shape[:-1], weight.shape[0])


def fp8_supported(device: torch.device) -> bool:
    """Whether `_scaled_mm` runs FP8 here: NVIDIA GPUs of compute capability 8.9 (Ada) / 9.0 (Hopper) and
    up, and the CPU where this torch has it."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 9)
    if device.type != "cpu" or not hasattr(torch, "_scaled_mm"):
        return False
    if "cpu" not in _cpu_checked:
        a = torch.zeros(16, 16, dtype=FP8)
        try:
            torch._scaled_mm(a, a.t(), scale_a=torch.ones(16, 1), scale_b=torch.ones(1, 16), out_dtype=torch.bfloat16)
            _cpu_checked["cpu"] = True
        except (RuntimeError, NotImplementedError):
            _cpu_checked["cpu"] = False
    return _cpu_checked["cpu"]


_cpu_checked: dict[str, bool] = {}


def fp8_mode(enabled: bool, device: torch.device) -> str:
    """"" (off), "scaled_mm" (FP8 tensor cores) or "reference" (the same arithmetic in float32), decided
    outside compiled code so the compiled phases see a constant."""
    if not enabled:
        return ""
    return "scaled_mm" if fp8_supported(device) else "reference"


def fp8_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
               mode: str = "scaled_mm") -> torch.Tensor:
    """x [..., K] @ weight[N, K]^T + bias in FP8 with per-token and per-channel scales; x's dtype out."""
    k, n = x.shape[-1], weight.shape[0]
    if mode != "scaled_mm" or k % 16 or n % 16:
        return reference_fp8_linear(x, weight, bias)
    qx, sx = quantize_rows(x.reshape(-1, k))
    qw, sw = quantize_rows(weight)
    out_dtype = x.dtype if x.dtype in (torch.bfloat16, torch.float16, torch.float32) else torch.bfloat16
    y = torch._scaled_mm(qx, qw.t(), scale_a=sx, scale_b=sw.t(), out_dtype=out_dtype)
    if bias is not None:
        y = y + bias.to(y.dtype)
    return y.to(x.dtype).reshape(*x.shape[:-1], n)


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in float32 (what the benchmark reports for FP8 against bf16)."""
    a, b = a.float(), b.float()
    return float((a - b).norm() / b.norm().clamp(min=_TINY))
