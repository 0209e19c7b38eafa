"""A clip laid from latent slot k with in point j: slot k is fed from source frame j (spec section 2: a clip's
first latent is its first frame alone, its latent i >= 1 the next 4 frames), later slots from the frames after."""

from __future__ import annotations

import json

import pytest
import torch

from pusa_engine.errors import InputMediaError, RequestError
from pusa_engine.media import read_video_frames
from pusa_engine.request import GenerationRequest, Keyframe, VideoCondition
from pusa_engine.vae_ops import encode_video


def _no_events(_event) -> None:
    pass


def _latents(engine, request: GenerationRequest) -> dict[int, torch.Tensor]:
    return {c.slot: c.latent for c in engine.encode_conditioning(request, _no_events, None)}


def test_a_clip_at_slot_k_with_in_point_j_feeds_slot_k_from_source_frame_j(engine, tiny, media_dir, tmp_path):
    clip = media_dir / "clip.mp4"  # 81 frames of random noise: every frame encodes differently
    k, j = 2, 7
    video = VideoCondition(str(clip), [2, 3, 4], [0.0, 0.3, 0.4], start_slot=k, in_frame=j)
    assert [video.source_frames(s) for s in video.slots] == [(7, 7), (8, 11), (12, 15)]
    request = tiny(video=video)
    request.validate()
    got = _latents(engine, request)
    assert sorted(got) == [2, 3, 4]

    # Source frame j on its own, placed as a keyframe image on slot k, is encoded exactly the same.
    frames = read_video_frames(clip, 20)
    for source in (j, 0, j - 1):
        frames[source].save(tmp_path / f"frame{source}.png")  # PNG: the very pixels the engine decoded
    as_image = _latents(engine, tiny(keyframes=[Keyframe(str(tmp_path / f"frame{j}.png"), 8, 0.0)]))[k]
    assert torch.allclose(got[k], as_image, atol=1e-5)
    for other in (0, j - 1):  # and it is not the clip's frame 0 (today's slot k) nor the frame before the in point
        wrong = _latents(engine, tiny(keyframes=[Keyframe(str(tmp_path / f"frame{other}.png"), 8, 0.0)]))[k]
        assert not torch.allclose(got[k], wrong, atol=1e-3)

    # Slots k+1 and k+2 take the clip's latents 1 and 2 of the clip encoded from frame j (frames j+1..j+8).
    from pusa_engine.engine import _pixels

    pixels = _pixels(frames[j:j + 9]).to(engine.plan.vae_device, engine.plan.dtype)
    expected = encode_video(engine.vae, pixels)
    for i, slot in enumerate((3, 4), start=1):
        assert torch.allclose(got[slot], expected[:, :, i].to(got[slot].device), atol=1e-5)
        assert not torch.allclose(got[slot], expected[:, :, i - 1].to(got[slot].device), atol=1e-3)


def test_the_defaults_keep_the_clip_frame_0_on_slot_0(engine, tiny, media_dir):
    clip = str(media_dir / "clip.mp4")
    plain = _latents(engine, tiny(video=VideoCondition(clip, [0, 1, 2], [0.0, 0.3, 0.4])))
    explicit = _latents(engine, tiny(video=VideoCondition(clip, [0, 1, 2], [0.0, 0.3, 0.4], start_slot=0, in_frame=0)))
    assert all(torch.equal(plain[s], explicit[s]) for s in (0, 1, 2))
    old = GenerationRequest.from_dict({"prompt": "p", "video": {"video": clip, "slots": [0, 1], "noise": [0.0, 0.3]}})
    assert (old.video.start_slot, old.video.in_frame) == (0, 0)  # sidecars written before still load


def test_the_placement_is_recorded_in_the_sidecar(engine, tiny, media_dir, tmp_path):
    video = VideoCondition(str(media_dir / "clip.mp4"), [1, 2], [0.1, 0.2], start_slot=1, in_frame=30)
    engine.generate(tiny(steps=1, video=video), tmp_path / "placed.mp4")
    side = json.loads((tmp_path / "placed.json").read_text())
    assert (side["request"]["video"]["start_slot"], side["request"]["video"]["in_frame"]) == (1, 30)
    assert [(m["slot"], m["source_frames"]) for m in side["slot_mapping"]] == [(1, [30, 30]), (2, [31, 34])]
    again = GenerationRequest.from_dict(side["request"])
    assert again.video == video


def test_bad_placements_are_refused_with_one_line_each(tiny, engine, media_dir, tmp_path):
    clip = str(media_dir / "clip.mp4")
    with pytest.raises(RequestError) as err:
        tiny(video=VideoCondition(clip, [1, 3], [0.0, 0.3], start_slot=2)).validate()
    assert "slot 1 is before the clip's start slot 2" in str(err.value)
    with pytest.raises(RequestError, match="in frame must be a whole number from 0"):
        tiny(video=VideoCondition(clip, [0], [0.0], in_frame=-3)).validate()
    with pytest.raises(RequestError, match="start slot must be a whole number from 0"):
        tiny(video=VideoCondition(clip, [0], [0.0], start_slot=1.5)).validate()
    with pytest.raises(RequestError, match="start slot 9 is past the last slot 4"):
        tiny(video=VideoCondition(clip, [9], [0.0], start_slot=9)).validate()
    with pytest.raises(InputMediaError, match="has 81 frames, but slot 1 needs frames up to 84"):
        engine.run(tiny(video=VideoCondition(clip, [0, 1], [0.0, 0.3], in_frame=80)))
