"""Every Pusa task from files on disk, through the loader, to an MP4 with the right number of frames."""

from __future__ import annotations

import json

import pytest
import torch

from pusa_engine.errors import InputMediaError, RequestError
from pusa_engine.media import read_mp4_frames
from pusa_engine.request import Keyframe, VideoCondition


def _tasks(media):
    red, green, blue, clip = (str(media / n) for n in ("red.png", "green.jpg", "blue.webp", "clip.mp4"))
    return {
        "text-to-video": dict(),
        "image-to-video": dict(keyframes=[Keyframe(red, 0, 0.2)]),
        "start-end": dict(keyframes=[Keyframe(red, 0, 0.2), Keyframe(green, 16, 0.5)]),
        "three-keyframes": dict(keyframes=[Keyframe(red, 0, 0.2), Keyframe(green, 7, 0.3), Keyframe(blue, 16, 0.4)]),
        "extension": dict(video=VideoCondition(clip, [0, 1, 2, 3], [0.0, 0.3, 0.4, 0.5])),
        "completion": dict(video=VideoCondition(clip, [0, 4], [0.3, 0.3])),
    }


@pytest.mark.parametrize("task", ["text-to-video", "image-to-video", "start-end", "three-keyframes", "extension",
                                  "completion"])
def test_task_writes_mp4_and_sidecar(engine, tiny, media_dir, tmp_path, task):
    req = tiny(steps=2, fps=25, **_tasks(media_dir)[task])
    out = tmp_path / f"{task}.mp4"
    result = engine.generate(req, out)
    frames = read_mp4_frames(out)
    assert frames.shape == (17, 48, 64, 3)
    side = json.loads((tmp_path / f"{task}.json").read_text())
    assert side["seed"] == result.seed == 7
    assert side["request"]["fps"] == 25 and side["request"]["steps"] == 2
    assert side["model_files"]["model_dir"].endswith("Wan2.1-T2V-demo")
    assert side["engine"]["pusa_engine"]
    slots = [m["slot"] for m in side["slot_mapping"]]
    assert slots == sorted(slots)
    assert not list(tmp_path.glob("*.tmp"))


def test_three_keyframes_land_on_their_slots(tiny, media_dir):
    req = tiny(**_tasks(media_dir)["three-keyframes"])
    assert [(m.slot, m.pixel_frames) for m in req.slot_mapping()] == [(0, (0, 0)), (2, (5, 8)), (4, (13, 16))]


def test_sidecar_regenerates_the_same_video(engine, tiny, media_dir, tmp_path):
    from pusa_engine.request import GenerationRequest

    first = engine.generate(tiny(seed=None, **_tasks(media_dir)["image-to-video"]), tmp_path / "a.mp4")
    again = GenerationRequest.from_dict(json.loads((tmp_path / "a.json").read_text())["request"])
    _, a, _ = engine.run(again)
    _, b, _ = engine.run(again)
    assert again.seed == first.seed
    assert torch.equal(a.latents, b.latents)


def test_png_frames_are_optional(engine, tiny, tmp_path):
    result = engine.generate(tiny(steps=1, save_png_frames=True), tmp_path / "p.mp4")
    assert len(list((tmp_path / "p").glob("*.png"))) == 17 == result.frames


def test_video_too_short_for_its_slots(engine, tiny, media_dir, tmp_path):
    from pusa_engine.media import write_mp4

    short = tmp_path / "short.mp4"
    write_mp4(read_mp4_frames(media_dir / "clip.mp4")[:5], short, 16)
    with pytest.raises(InputMediaError, match="has 5 frames"):
        engine.run(tiny(video=VideoCondition(str(short), [0, 3], [0.0, 0.3])))


def test_unreadable_keyframe_image(engine, tiny, media_dir):
    with pytest.raises(InputMediaError, match="notes.txt"):
        engine.run(tiny(keyframes=[Keyframe(str(media_dir / "notes.txt"), 0, 0.2)]))


def test_position_past_the_end_and_other_bad_settings_all_reported(tiny, media_dir):
    req = tiny(frames=18, width=50, keyframes=[Keyframe(str(media_dir / "red.png"), 40, 1.5)])
    with pytest.raises(RequestError) as err:
        req.validate()
    text = str(err.value)
    assert "4n+1" in text and "multiples of 16" in text and "past the video" in text and "noise" in text


def test_two_inputs_on_one_slot_are_refused(tiny, media_dir):
    red = str(media_dir / "red.png")
    with pytest.raises(RequestError, match="same latent slot"):
        tiny(keyframes=[Keyframe(red, 5, 0.2), Keyframe(red, 8, 0.2)]).validate()
