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


def test_hopper_times_flash_attn_4_in_its_own_tile_and_those_named(monkeypatch):
    monkeypatch.setattr(ak, "fa4_function", lambda: object())
    monkeypatch.delenv(ak.FA4_TILES_ENV, raising=False)
    monkeypatch.setattr(ak, "FA4_HOPPER_TILES", ((128, 176),))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    names = ak.candidates(torch.device("cuda:0"), 32760)
    assert names[:2] == ["cudnn", "flash"] and "fa4" in names
    assert [n for n in names if n.startswith("fa4-")] == [ak.fa4_tile_name(t) for t in ak.FA4_HOPPER_TILES]
    monkeypatch.setenv(ak.FA4_TILES_ENV, "128x160, 128x192,bad")
    assert [n for n in ak.candidates(torch.device("cuda:0"), 32760) if n.startswith("fa4-")] == [
        "fa4-128x160", "fa4-128x192"]
    monkeypatch.setenv(ak.FA4_TILES_ENV, "")
    assert not [n for n in ak.candidates(torch.device("cuda:0"), 32760) if n.startswith("fa4-")]
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (10, 0))  # Blackwell: its own
    monkeypatch.setenv(ak.FA4_TILES_ENV, "128x176")
    assert [n for n in ak.candidates(torch.device("cuda:0"), 32760) if n.startswith("fa4")] == ["fa4"]


def test_a_tile_name_runs_flash_attn_4_in_that_tile(monkeypatch):
    seen = {}

    def forward(q, k, v, **options):
        seen.update(options)
        return q + 1, None, None, None, None

    monkeypatch.setattr(ak, "_fa4_tiled", forward)
    monkeypatch.setattr(torch.cuda, "device", lambda device: __import__("contextlib").nullcontext())
    q = torch.zeros(1, 8, 2, 4)
    out = ak.run_kernel("fa4-128x176", q, q, q)
    assert torch.equal(out, q + 1)
    assert seen == {"causal": False, "tile_mn": (128, 176), "mma_pv_is_rs": True, "intra_wg_overlap": True}


def test_the_report_gives_each_candidates_time_fastest_first(monkeypatch):
    monkeypatch.setattr(ak, "_choice", {})
    monkeypatch.setattr(ak, "_timings", {})
    monkeypatch.setattr(ak, "candidates", lambda device, kv_len: ["slow", "fast"])
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(ak, "run_kernel", lambda name, q, k, v: __import__("time").sleep(0.02 if name == "slow" else 0))
    q = torch.zeros(1, 8, 2, 4)
    ak.fastest_kernel(q, q, q)
    (line,) = ak.kernel_report()
    assert line.startswith("cpu q[1, 8, 2, 4] k[1, 8, 2, 4]: fast (fast ")
    assert line.index("fast ") < line.index("slow ") and " ms" in line


def test_flash_attn_4_keeps_its_compiled_kernels_beside_ours(monkeypatch, tmp_path):
    monkeypatch.setenv("PUSA_COMPILE_CACHE", str(tmp_path))
    monkeypatch.delenv("FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED", raising=False)
    monkeypatch.delenv("FLASH_ATTENTION_CUTE_DSL_CACHE_DIR", raising=False)
    monkeypatch.setattr(ak, "_fa4_func", None)
    monkeypatch.setattr(ak, "_fa4_reason", None)
    monkeypatch.setitem(__import__("sys").modules, "flash_attn.cute", None)
    ak.fa4_function()
    import os

    assert os.environ["FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED"] == "1"
    assert os.environ["FLASH_ATTENTION_CUTE_DSL_CACHE_DIR"] == str(tmp_path / "flash_attn_4")
