"""The optional FP8 linear path: per-channel scaling math, `_scaled_mm` against the same arithmetic in
float32 (where this torch runs it on the CPU), its distance from bf16, and that it is off by default."""

from __future__ import annotations

import pytest
import torch

from pusa_engine import dit as D
from pusa_engine import fp8 as F8
from pusa_engine.errors import RequestError
from pusa_engine.request import GenerationRequest

CPU = torch.device("cpu")


def _data(m=64, k=96, n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, k, generator=g)
    x[3] *= 50  # an outlier token: per-token scales keep the other tokens precise
    w = torch.randn(n, k, generator=g) / k ** 0.5
    w[5] *= 20  # an outlier channel
    b = torch.randn(n, generator=g)
    return x, w, b


def test_row_scales_are_amax_over_448_and_round_trip():
    x, _, _ = _data()
    q, s = F8.quantize_rows(x)
    assert q.dtype == torch.float8_e4m3fn and s.shape == (x.shape[0], 1)
    torch.testing.assert_close(s, x.abs().amax(1, keepdim=True) / 448.0)
    back = F8.dequantize_rows(q, s)
    # e4m3 keeps 3 mantissa bits: relative error of each value at most 2^-4 (normal range)
    rel = (back - x).abs() / x.abs().clamp(min=s * 2 ** -6 * 448)
    assert rel.max() <= 2 ** -4 + 1e-6
    # each row's largest value maps to 448 and comes back (to float32 rounding of the scale)
    torch.testing.assert_close(back.abs().amax(1), x.abs().amax(1), rtol=1e-6, atol=0)


def test_zero_rows_stay_zero():
    q, s = F8.quantize_rows(torch.zeros(2, 16))
    assert torch.equal(F8.dequantize_rows(q, s), torch.zeros(2, 16))


def test_scaled_mm_equals_the_float32_arithmetic():
    if not F8.fp8_supported(CPU):
        pytest.skip("this torch has no FP8 _scaled_mm on the CPU")
    x, w, b = _data()
    for dtype in (torch.float32, torch.bfloat16):
        ref = F8.reference_fp8_linear(x.to(dtype), w.to(dtype), b.to(dtype))
        got = F8.fp8_linear(x.to(dtype), w.to(dtype), b.to(dtype), "scaled_mm")
        assert got.dtype == dtype
        torch.testing.assert_close(got.float(), ref.float(), rtol=2e-2 if dtype == torch.bfloat16 else 1e-5,
                                   atol=1e-2 if dtype == torch.bfloat16 else 1e-4)


def test_fp8_stays_close_to_bf16_and_keeps_batch_shapes():
    x, w, b = _data()
    exact = x @ w.t() + b
    got = F8.fp8_linear(x.view(4, 16, -1), w, b, F8.fp8_mode(True, CPU)).reshape(exact.shape)
    err = F8.relative_difference(got, exact)
    assert 1e-4 < err < 0.06  # lossy, by a few per cent at most
    odd = F8.fp8_linear(x[:, :90], w[:, :90], None, "scaled_mm")  # K not a multiple of 16: the float32 path
    assert F8.relative_difference(odd, x[:, :90] @ w[:, :90].t()) < 0.06


def test_the_dit_forward_in_fp8_is_close_but_not_the_same(demo_model):
    from pusa_engine.loader import load_dit
    from pusa_engine.model_files import ModelFolder

    dit = load_dit(ModelFolder(demo_model[0]), torch.float32, CPU)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 16, 3, 6, 8, generator=g)
    t = torch.full((1, 3), 700.0)
    ctx = D.embed_context(dit, torch.randn(1, 9, dit.text_embedding[0].in_features, generator=g))
    with torch.no_grad():
        ref = D.dit_forward(dit, x, t, ctx, speed=D.SpeedOptions(compile=False))
        fp8 = D.dit_forward(dit, x, t, ctx, speed=D.SpeedOptions(compile=False, fp8=True))
    err = F8.relative_difference(fp8, ref)
    assert 0 < err < 0.1


def test_fp8_is_off_by_default_and_checked():
    assert GenerationRequest(prompt="x").fp8 is False and D.SpeedOptions().fp8 is False
    assert F8.fp8_mode(False, CPU) == ""
    with pytest.raises(RequestError, match="fp8 must be true or false") as e:
        GenerationRequest(prompt="x", fp8="yes").validate()
    assert "\n" not in str(e.value)


def test_a_job_asks_for_fp8_through_its_request():
    from pusa_engine.job_speed import job_speed

    base = D.SpeedOptions(compile=False)
    assert job_speed(GenerationRequest(prompt="x"), base).fp8 is False
    assert job_speed(GenerationRequest(prompt="x", fp8=True), base).fp8 is True
    assert job_speed(GenerationRequest(prompt="x"), D.SpeedOptions(fp8=True)).fp8 is True  # the process's switch
