"""The vectorized-timestep sampler, consequence by consequence, on the demo model loaded from disk."""

from __future__ import annotations

import torch
from diffsynth_reference import diffsynth_latents  # tests/engine is on the path (no package)

from pusa_engine.request import Keyframe, VideoCondition
from pusa_engine.sampler import frame_multipliers, frame_timesteps, schedule_sigmas

SPEC_KEYFRAME_T = [200, 195, 190, 184, 176, 166, 153, 136, 111, 71]
SPEC_FREE_T = [1000, 978, 952, 921, 882, 833, 769, 682, 556, 357]


def test_schedule_matches_spec_formula():
    sig = schedule_sigmas(10, 5.0)
    assert sig.dtype == torch.float32 and len(sig) == 11 and sig[-1] == 0
    s = torch.linspace(1, 0, 11)[:-1]
    torch.testing.assert_close(sig[:-1], 5 * s / (1 + 4 * s))


def test_timesteps_for_ten_steps_at_0_2(engine, tiny, media_dir):
    req = tiny(steps=10, keyframes=[Keyframe(str(media_dir / "red.png"), 0, 0.2)])
    _, result, _ = engine.run(req)
    trace = result.timesteps
    assert trace.shape == (10, req.latent_frames)
    assert torch.allclose(trace[:, 0], torch.tensor(SPEC_KEYFRAME_T, dtype=torch.float32), atol=1.0)
    for f in range(1, req.latent_frames):
        assert torch.allclose(trace[:, f], torch.tensor(SPEC_FREE_T, dtype=torch.float32), atol=1.0)


def test_bf16_timesteps_stay_within_the_rounding_rule():
    sig = schedule_sigmas(10, 5.0)
    mult = frame_multipliers(5, [])
    mult[0] = 0.2
    for i in range(10):
        exact = frame_timesteps(sig[i], mult).double()
        given = frame_timesteps(sig[i], mult).to(torch.bfloat16).double()
        assert ((given - exact).abs() <= 1 + exact / 256).all()


def test_multiplier_zero_keeps_the_keyframe_latent_bit_identical(engine, tiny, media_dir):
    req = tiny(keyframes=[Keyframe(str(media_dir / "red.png"), 8, 0.0)]).with_seed()
    conds = engine.encode_conditioning(req, lambda e: None, None)
    _, result, _ = engine.run(req)
    slot = conds[0].slot
    assert slot == 2
    assert torch.equal(result.latents[:, :, slot], conds[0].latent.cpu())
    assert (result.timesteps[:, slot] == 0).all()


def test_video_slots_at_zero_noise_stay_exact(engine, tiny, media_dir):
    req = tiny(video=VideoCondition(str(media_dir / "clip.mp4"), [0, 1], [0.0, 0.0])).with_seed()
    conds = engine.encode_conditioning(req, lambda e: None, None)
    _, result, _ = engine.run(req)
    for c in conds:
        assert torch.equal(result.latents[:, :, c.slot], c.latent.cpu())


def test_keyframe_is_noised_once_to_its_level(engine, tiny, media_dir):
    """With m > 0 the keyframe starts at (1 - m*sigma0) z + m*sigma0 eps and moves on a compressed schedule."""
    req = tiny(keyframes=[Keyframe(str(media_dir / "red.png"), 0, 0.5)], steps=1).with_seed()
    conds = engine.encode_conditioning(req, lambda e: None, None)
    _, result, _ = engine.run(req)
    assert torch.allclose(result.timesteps[0, 0], torch.tensor(500.0))
    assert not torch.equal(result.latents[:, :, 0], conds[0].latent.cpu())


def test_no_keyframes_gives_one_shared_timestep(engine, tiny):
    _, result, _ = engine.run(tiny(steps=4))
    assert (result.timesteps == result.timesteps[:, :1]).all()


def test_same_seed_same_latents_other_seed_other_latents(engine, tiny):
    _, a, _ = engine.run(tiny(seed=11))
    _, b, _ = engine.run(tiny(seed=11))
    _, c, _ = engine.run(tiny(seed=12))
    assert torch.equal(a.latents, b.latents)
    assert not torch.allclose(a.latents, c.latents)


def test_random_seed_is_drawn_and_recorded(engine, tiny):
    req, _, _ = engine.run(tiny(seed=None))
    assert req.seed is not None


def test_matches_diffsynth_wan_pipeline_text_to_video(engine, tiny):
    """A peer's implementation checks ours: diffsynth's WanVideoPipeline on the same weights and seed."""
    req = tiny(frames=9, steps=3, cfg=3.0, seed=5, lora_alpha=1.0)
    _, ours, _ = engine.run(req)

    theirs = diffsynth_latents(engine, req, engine.dit)
    assert theirs.shape == ours.latents.shape
    torch.testing.assert_close(ours.latents, theirs, rtol=0, atol=1e-5)
