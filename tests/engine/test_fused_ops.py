"""fused_ops.py: the Triton kernels (run in Triton's interpreter on the CPU) and the GELU epilogue op against
the eager formulas, the DiT forward with them against without, and when the forward uses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pusa_engine import dit as D
from pusa_engine import fused_ops

ROOT = Path(__file__).resolve().parents[2]
needs_triton = pytest.mark.skipif(fused_ops.triton is None, reason="Triton is not installed")


@pytest.fixture(scope="module")
def interpreted() -> dict:
    """fused_ops_check.py in a process of its own: the interpreter must be chosen before Triton is imported."""
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, str(ROOT / "tests/engine/fused_ops_check.py")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@needs_triton
def test_rms_norm_rotary_kernel_matches_the_eager_formula(interpreted):
    assert interpreted["float32"]["rotary_shape"] == [2, 12, 4, 16]
    assert interpreted["float32"]["rotary_ulps"] <= 4  # summation order only
    # the interpreter truncates to bf16 where a GPU rounds to nearest: a few units of the last place
    assert interpreted["bfloat16"]["rotary_ulps"] <= 4


@needs_triton
def test_layer_norm_modulate_kernel_matches_the_eager_formula(interpreted):
    for dtype in ("float32", "bfloat16"):
        assert interpreted[dtype]["modulate_ulps"] <= 6
        assert interpreted[dtype]["modulate_view_ulps"] <= 6  # the block's strided view of its modulation


@needs_triton
def test_residual_layer_norm_kernel_matches_the_eager_block(interpreted):
    """x + gate * o then norm3 (weight, bias); x + o then norm2 modulated: both outputs, both dtypes."""
    for dtype in ("float32", "bfloat16"):
        assert interpreted[dtype]["residual_gated_ulps"] <= 6
        assert interpreted[dtype]["residual_modulated_ulps"] <= 6


@needs_triton
def test_dit_forward_with_the_kernels_equals_the_forward_without(interpreted):
    """Batch of two, per-frame timesteps, the token grid as the patch embedding leaves it (not contiguous)."""
    assert interpreted["dit_relative"] < 1e-5


@needs_triton
def test_sequence_split_with_the_kernels_equals_one_device(interpreted):
    """Three ranks, each with its own token rows of every frame and the rotary rows that go with them."""
    assert interpreted["sequence_split_relative"] < 1e-5


def test_linear_gelu_is_gelu_tanh_of_the_linear_layer():
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(12, 16, generator=g), torch.randn(24, 16, generator=g), torch.randn(24, generator=g)
    got = fused_ops.linear_gelu(x, w, b)
    ref = fused_ops.linear_gelu_reference(x, w, b)
    assert got.shape == (12, 24)
    assert torch.allclose(got, ref, rtol=1e-5, atol=1e-5)
    exact = torch.nn.functional.gelu(torch.nn.functional.linear(x, w, b))
    assert not torch.allclose(got, exact, rtol=1e-6, atol=1e-6)  # the tanh form, as Wan's FFN


def test_linear_gelu_traces_whole_under_torch_compile():
    """The op stays one op in a compiled graph (inductor would split a plain _addmm_activation again)."""
    seen = []

    def backend(gm, inputs):
        seen.extend(str(n.target) for n in gm.graph.nodes if n.op == "call_function")
        return gm.forward

    fn = torch.compile(lambda x, w, b: fused_ops.linear_gelu(x, w, b) * 2, backend=backend, fullgraph=True)
    g = torch.Generator().manual_seed(1)
    x, w, b = torch.randn(4, 8, generator=g), torch.randn(6, 8, generator=g), torch.randn(6, generator=g)
    assert torch.allclose(fn(x, w, b), fused_ops.linear_gelu_reference(x, w, b) * 2, atol=1e-5)
    assert any("linear_gelu" in t for t in seen)


def test_kernels_are_used_only_where_they_can_run(monkeypatch):
    x = torch.zeros(1, 4, 64)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert not fused_ops.fused_ops_usable(x)  # the CPU without the interpreter
    assert not fused_ops.linear_gelu_usable(x, torch.zeros(4))
    assert not D.fused_here(D.SpeedOptions(fused=False), x, on=True)
    assert not D.fused_here(D.SpeedOptions(fused="auto"), x, on=False)  # "auto": only where phases compile
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    if fused_ops.triton is not None:
        assert fused_ops.fused_ops_usable(x)
        assert not fused_ops.fused_ops_usable(torch.zeros(1, 4, fused_ops.ROW_LIMIT + 2))  # too wide a row
        assert not fused_ops.fused_ops_usable(x.to(torch.int32))


def test_the_environment_switch_turns_the_kernels_off():
    code = "from pusa_engine.dit import get_speed_options as g; print(g().fused)"
    env = dict(os.environ, PUSA_FUSED_OPS="0", PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.stdout.strip().splitlines()[-1] == "False"
