"""The fast forward computes the same function as diffsynth's, on every path (CPU, float32, demo sizes).

Paths: the eager forward (complex rotary, fused rms_norm, addcmul modulation), the real-formula rotary
that torch.compile fuses, the phase split used by the sequence-split plan, block streaming, and the FLOP
count the benchmark reports.
"""

from __future__ import annotations

import pytest
import torch

from pusa_engine import dit as D
from pusa_engine.model_files import WAN_14B_CONFIG, DiTConfig
from pusa_engine.networks import build_dit

# head_dim 32 (rotary split needs head_dim // 3 even); 3 blocks
SMALL = DiTConfig(dim=96, ffn_dim=160, freq_dim=256, in_dim=16, out_dim=16, num_heads=3, num_layers=3, eps=1e-6,
                  text_dim=24)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_dit(SMALL, device="cpu")
    # the default init leaves modulation-ish parameters tiny; make every path matter
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m


def _inputs(f=3, h=6, w=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 16, f, h, w, generator=g)
    ctx = torch.randn(1, 7, SMALL.text_dim, generator=g)
    return x, ctx


def _relerr(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_shared_timestep_matches_diffsynth_model_fn(model):
    from diffsynth.pipelines.wan_video import model_fn_wan_video

    x, ctx = _inputs()
    t = torch.tensor([731.0])
    with torch.no_grad():
        ref = model_fn_wan_video(dit=model, latents=x, timestep=t, context=ctx)
        ours = D.dit_forward(model, x, t.expand(1, x.shape[2]).contiguous(), D.embed_context(model, ctx))
    assert _relerr(ours, ref) < 1e-5


def test_per_frame_timesteps_equal_framewise_reference(model):
    """Frame f's tokens see t_f: compare with the reference's per-token modulation built by hand."""
    x, ctx = _inputs(f=3)
    t = torch.tensor([[150.0, 900.0, 420.0]])
    with torch.no_grad():
        ours = D.dit_forward(model, x, t, D.embed_context(model, ctx))
        ref = _reference_per_token(model, x, t, ctx)
    assert _relerr(ours, ref) < 1e-5


def _reference_per_token(model, x, t, ctx):
    """diffsynth's own DiTBlock.forward with a per-token [B, L, 6, dim] modulation (the slow way)."""
    from diffsynth.models.wan_video_dit import sinusoidal_embedding_1d

    f, h, w = x.shape[2], x.shape[3] // 2, x.shape[4] // 2
    per = h * w
    e = model.time_embedding(sinusoidal_embedding_1d(model.freq_dim, t.flatten()))  # [F, dim]
    t_mod = model.time_projection(e).unflatten(1, (6, model.dim))  # [F, 6, dim]
    t_tok = t_mod.repeat_interleave(per, dim=0).unsqueeze(0)  # [1, L, 6, dim]
    e_tok = e.repeat_interleave(per, dim=0).unsqueeze(0)  # [1, L, dim]
    context = model.text_embedding(ctx)
    tokens = model.patch_embedding(x).flatten(2).transpose(1, 2)
    freqs = torch.cat([
        model.freqs[0][:f].view(f, 1, 1, -1).expand(f, h, w, -1),
        model.freqs[1][:h].view(1, h, 1, -1).expand(f, h, w, -1),
        model.freqs[2][:w].view(1, 1, w, -1).expand(f, h, w, -1),
    ], dim=-1).reshape(f * h * w, 1, -1)
    for block in model.blocks:
        tokens = block(tokens, context, t_tok, freqs)
    out = model.head(tokens, e_tok)
    return model.unpatchify(out, (f, h, w))


def test_real_rotary_equals_complex_rotary(model):
    rope = D.rotary_table(model, 3, 6, 8, torch.device("cpu"))
    x = torch.randn(2, 3 * 6 * 8, SMALL.dim)
    a = D.apply_rotary(x, rope, SMALL.num_heads)
    b = D.apply_rotary_real(x, rope.cos, rope.sin, SMALL.num_heads)
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_rotary_rows_are_a_slice_of_the_full_table(model):
    full = D.rotary_table(model, 3, 6, 8, torch.device("cpu"))
    part = D.rotary_table(model, 3, 6, 8, torch.device("cpu"), rows=(2, 5))
    idx = torch.arange(3 * 6 * 8).view(3, 6, 8)[:, 2:5].reshape(-1)
    torch.testing.assert_close(part.cos, full.cos[idx])
    torch.testing.assert_close(part.sin, full.sin[idx])


def test_phase_split_equals_block_forward(model):
    """self_attn_qkv -> attention -> block_finish is exactly block_forward (the seq-split plan's pieces)."""
    x, ctx = _inputs()
    with torch.no_grad():
        grid = D.patch_tokens(model, x)
        b, gf, gh, gw, dim = grid.shape
        tok = grid.reshape(b, -1, dim)
        t = torch.tensor([[10.0, 500.0, 990.0]])
        mod = D.time_modulation(model, t, x.dtype)
        rope = D.rotary_table(model, gf, gh, gw, x.device)
        c = D.embed_context(model, ctx)
        block = model.blocks[0]
        whole = D.block_forward(block, tok, c, mod.t_mod, rope, gf)
        bm = D.block_modulation(block, mod.t_mod)
        q, k, v = D.self_attn_qkv(block, tok, bm, rope, gf)
        parts = D.block_finish(block, tok, D.attention(q, k, v), c, bm, gf)
    assert torch.equal(whole, parts)


def test_streamed_blocks_give_the_same_result(model):
    x, ctx = _inputs()
    t = torch.tensor([[300.0, 300.0, 60.0]])
    with torch.no_grad():
        c = D.embed_context(model, ctx)
        ref = D.dit_forward(model, x, t, c)
        again = D.dit_forward(model, x, t, c, blocks=iter(list(model.blocks)))
    assert torch.equal(ref, again)


def test_bf16_forward_stays_close_to_float32(model):
    x, ctx = _inputs()
    t = torch.tensor([[900.0, 900.0, 180.0]])
    m16 = build_dit(SMALL, device="cpu")
    m16.load_state_dict(model.state_dict())
    m16 = m16.to(torch.bfloat16)
    with torch.no_grad():
        ref = D.dit_forward(model, x, t, D.embed_context(model, ctx))
        out = D.dit_forward(m16, x.bfloat16(), t.bfloat16(), D.embed_context(m16, ctx.bfloat16()))
    assert torch.isfinite(out).all()
    assert _relerr(out.float(), ref) < 3e-2


def test_speed_options_are_settable_and_restorable():
    before = D.get_speed_options()
    try:
        now = D.set_speed_options(attention="math")
        assert now.attention == "math" and now.compile == before.compile
    finally:
        D.set_speed_options(before)
    assert D.get_speed_options() == before


def test_forward_flops_of_the_14b_model():
    """One 14B forward with 512 text tokens: 480p (21x30x52 tokens) 0.78 PFLOP linear + 0.88 attention =
    1.68 PFLOP; 720p (21x45x80) 6.5 PFLOP, of which self-attention is 70-74 %."""
    c = WAN_14B_CONFIG
    f480 = D.forward_flops(21 * 30 * 52, 512, c.dim, c.ffn_dim, c.num_layers)
    lin, att = D.forward_flops_split(21 * 30 * 52, 512, c.dim, c.ffn_dim, c.num_layers)
    assert abs(lin - 0.78e15) / 0.78e15 < 0.02
    assert abs(att - 0.88e15) / 0.88e15 < 0.02
    assert abs(f480 - 1.68e15) / 1.68e15 < 0.02
    f720 = D.forward_flops(21 * 45 * 80, 512, c.dim, c.ffn_dim, c.num_layers)
    assert abs(f720 - 6.5e15) / 6.5e15 < 0.02
    lin720, att720 = D.forward_flops_split(21 * 45 * 80, 512, c.dim, c.ffn_dim, c.num_layers)
    assert 0.70 < att720 / f720 < 0.74


def test_forward_flops_count_the_matmuls_of_a_block():
    """Count the multiply-adds of every Linear of a block (with the text length) and compare."""
    L, T, d, f = 40, 7, SMALL.dim, SMALL.ffn_dim
    macs = 4 * L * d * d + 2 * L * d * d + 2 * T * d * d + 2 * L * d * f
    attn = 2 * L * L * d + 2 * L * T * d
    assert D.forward_flops(L, T, d, f, 1) == 2 * (macs + attn)
