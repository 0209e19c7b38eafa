"""Progress, previews and cancel, as a UI sees them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pusa_engine.errors import JobCancelled
from pusa_engine.events import CancelToken, Phase, PhaseProgress, StepProgress
from pusa_engine.request import Keyframe


def test_one_step_event_per_step_with_preview(engine, tiny, media_dir, tmp_path):
    events = []
    engine.generate(tiny(steps=4, keyframes=[Keyframe(str(media_dir / "red.png"), 0, 0.2)]), tmp_path / "x.mp4",
                    on_event=events.append)
    steps = [e for e in events if isinstance(e, StepProgress)]
    assert [s.step for s in steps] == [1, 2, 3, 4] and all(s.total == 4 for s in steps)
    for s in steps:
        assert s.preview.dtype == np.uint8 and s.preview.shape == (5, 6, 8, 3)
        assert len(s.timesteps) == 5 and s.seconds_this_step >= 0 and s.eta_seconds >= 0
    decoding = [e for e in events if isinstance(e, PhaseProgress) and e.phase is Phase.DECODING]
    assert steps[-1].eta_seconds == decoding[0].eta_seconds > 0  # after the last step, the decode is left
    phases = [e.phase for e in events if isinstance(e, PhaseProgress)]
    for phase in (Phase.ENCODING_TEXT, Phase.ENCODING_FRAMES, Phase.DECODING, Phase.WRITING):
        assert phase in phases
    assert phases.index(Phase.ENCODING_TEXT) < phases.index(Phase.DECODING) < phases.index(Phase.WRITING)


def test_preview_projection_is_fitted_on_the_vae(engine):
    """On images it was not fitted on, the latent->RGB map beats each image's own mean colour."""
    from pusa_engine.vae_ops import encode_video

    coarse = torch.rand(4, 3, 4, 4, generator=torch.Generator().manual_seed(99)) * 2 - 1
    images = torch.nn.functional.interpolate(coarse, size=(128, 128), mode="bicubic").clamp(-1, 1)
    for image in images:
        preview = engine.preview(encode_video(engine.vae, image[None, :, None]))[0]
        predicted = torch.from_numpy(preview).float() / 127.5 - 1
        target = torch.nn.functional.avg_pool2d(image[None], 8)[0].permute(1, 2, 0)
        assert ((predicted - target) ** 2).mean() < ((target - target.mean((0, 1))) ** 2).mean()


def test_cancel_stops_within_one_step(engine, tiny, tmp_path):
    token = CancelToken()
    seen = []

    def on_event(e):
        if isinstance(e, StepProgress):
            seen.append(e.step)
            if e.step == 2:
                token.cancel()

    with pytest.raises(JobCancelled):
        engine.generate(tiny(steps=10), tmp_path / "c.mp4", on_event=on_event, cancel=token)
    assert seen == [1, 2]
    assert not (tmp_path / "c.mp4").exists()


def test_cancel_during_decode(engine, tiny, tmp_path):
    token = CancelToken()
    decoded = []

    def on_event(e):
        if isinstance(e, PhaseProgress) and e.phase == Phase.DECODING and e.done:
            decoded.append(e.done)
            token.cancel()

    with pytest.raises(JobCancelled):
        engine.generate(tiny(steps=1), tmp_path / "d.mp4", on_event=on_event, cancel=token)
    assert decoded == [1]


def test_text_embeddings_are_cached_by_prompt(engine, tiny):
    engine.run(tiny(prompt="a unique prompt for caching", steps=1))
    cached = engine._prompt_cache["a unique prompt for caching"]
    engine.run(tiny(prompt="a unique prompt for caching", steps=1))
    assert engine._prompt_cache["a unique prompt for caching"] is cached
