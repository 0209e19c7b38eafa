"""The attention kernel pick: exact on the CPU, the fastest of the kernels that run, chosen once per shape, and
FlashAttention 4 optional (its absence is a reason, never an error)."""

from __future__ import annotations

import math

import pytest
import torch

from pusa_engine import attention_kernels as ak


def _reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v per head in float64; q, k, v [B, L, H, D] -> [B, L, H*D]."""
    qh, kh, vh = (t.double().transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return (weights @ vh).transpose(1, 2).flatten(2)


def test_cpu_attention_is_softmax_attention():
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 37, 4, 16, generator=gen) for _ in range(3))
    out = ak.attention(q, k, v)
    assert out.shape == (1, 37, 64)
    torch.testing.assert_close(out.double(), _reference(q, k, v), rtol=1e-5, atol=1e-5)


def test_fa4_absent_gives_a_reason_not_an_error(monkeypatch):
    monkeypatch.setattr(ak, "_fa4_func", None)
    monkeypatch.setattr(ak, "_fa4_reason", None)
    monkeypatch.setitem(__import__("sys").modules, "flash_attn.cute", None)  # import of it fails
    assert ak.fa4_function() is None
    assert "ImportError" in (ak.fa4_unavailable() or "") or "ModuleNotFoundError" in (ak.fa4_unavailable() or "")


def test_auto_keeps_the_fastest_kernel_that_runs_and_asks_once_per_shape(monkeypatch):
    """Three kernels: one fails, one is slow, one fast -> the fast one; the second call times nothing."""
    monkeypatch.setattr(ak, "_choice", {})
    monkeypatch.setattr(ak, "candidates", lambda device, kv_len: ["broken", "slow", "fast"])
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    calls = []

    def run(name, q, k, v):
        calls.append(name)
        if name == "broken":
            raise RuntimeError("no kernel for this shape")
        if name == "slow":
            import time

            time.sleep(0.02)
        return q

    monkeypatch.setattr(ak, "run_kernel", run)
    q = torch.zeros(1, 8, 2, 4)
    assert ak.fastest_kernel(q, q, q) == "fast"
    assert calls == ["broken", "slow", *["slow"] * ak.TIMED_RUNS, "fast", *["fast"] * ak.TIMED_RUNS]
    calls.clear()
    assert ak.fastest_kernel(q, q, q) == "fast"
    assert calls == []
    assert list(ak.chosen_kernels().values()) == ["fast"]


def test_no_kernel_runs_falls_back_to_math(monkeypatch):
    monkeypatch.setattr(ak, "_choice", {})
    monkeypatch.setattr(ak, "candidates", lambda device, kv_len: ["broken"])
    monkeypatch.setattr(ak, "run_kernel", lambda *a: (_ for _ in ()).throw(RuntimeError("no")))
    q = torch.zeros(1, 8, 2, 4)
    assert ak.fastest_kernel(q, q, q) == "math"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_every_gpu_kernel_agrees_with_the_reference():
    q, k, v = (torch.randn(1, 300, 4, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    ref = _reference(q.cpu(), k.cpu(), v.cpu())
    for name in ak.candidates(q.device, k.shape[1]):
        out = ak.run_kernel(name, q, k, v).flatten(2).double().cpu()
        assert (out - ref).norm() / ref.norm() < 1e-2, name


def test_diffsynth_is_kept_off_the_flash_attn_4_package(monkeypatch):
    """FA4's `flash_attn` has no FA2 `flash_attn_func`: diffsynth must not take it for FA2 (it would fail)."""
    import sys
    import types

    wan = types.SimpleNamespace(FLASH_ATTN_2_AVAILABLE=True)
    monkeypatch.setitem(sys.modules, "flash_attn", types.ModuleType("flash_attn"))
    ak.keep_off_flash_attn_4(wan)
    assert wan.FLASH_ATTN_2_AVAILABLE is False
    fa2 = types.ModuleType("flash_attn")
    fa2.flash_attn_func = lambda *a: None
    monkeypatch.setitem(sys.modules, "flash_attn", fa2)
    wan.FLASH_ATTN_2_AVAILABLE = True
    ak.keep_off_flash_attn_4(wan)
    assert wan.FLASH_ATTN_2_AVAILABLE is True
