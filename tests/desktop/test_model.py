"""The Qt-free data model: slots, requests, modes, restoring settings."""

from __future__ import annotations

from pusa_desktop.core.model import (
    EditorSettings,
    Job,
    Mode,
    Timeline,
    TimelineKeyframe,
    TimelineVideo,
    build_request,
    editor_state_from_request,
    snap_frame,
    video_preset,
)
from pusa_engine.request import GenerationRequest, slot_of_pixel_frame


def test_keyframes_snap_to_the_last_frame_of_their_latent_slot():
    assert snap_frame(0, 81) == 0
    assert [snap_frame(p, 81) for p in (1, 2, 3, 4)] == [4, 4, 4, 4]
    assert snap_frame(5, 81) == 8
    assert snap_frame(80, 81) == 80
    assert snap_frame(500, 81) == 80
    for p in range(81):
        assert slot_of_pixel_frame(snap_frame(p, 81)) == slot_of_pixel_frame(p)


def test_the_request_carries_settings_keyframes_and_video():
    settings = EditorSettings(prompt="a cat", width=64, height=64, frames=9, steps=3, seed=5)
    timeline = Timeline(
        keyframes=[TimelineKeyframe("b.png", 8, 0.5), TimelineKeyframe("a.png", 0, 0.2)],
    )
    request = build_request(settings, timeline)
    request.validate()
    assert [(k.image, k.frame, k.noise) for k in request.keyframes] == [("a.png", 0, 0.2), ("b.png", 8, 0.5)]
    assert [m.slot for m in request.slot_mapping()] == [0, 2]
    assert (request.width, request.frames, request.steps, request.seed) == (64, 9, 3, 5)


def test_restoring_a_request_gives_back_the_same_request():
    settings = EditorSettings(prompt="a dog", steps=7, cfg=4.5, lora_alpha=2.0, fps=25, seed=99)
    timeline = Timeline(
        keyframes=[TimelineKeyframe("x.png", 12, 0.35)], video=TimelineVideo("clip.mp4", [0, 1], [0.0, 0.3])
    )
    request = build_request(settings, timeline)
    restored_settings, restored_timeline = editor_state_from_request(request)
    again = build_request(restored_settings, restored_timeline)
    assert again.to_dict() == request.to_dict()
    assert restored_settings.new_seed_each_run is False  # the seed used is reproduced exactly


# Modes as starting layouts that never remove media: tests/desktop/test_modes.py


def test_video_presets_follow_the_spec():
    assert video_preset("extend", 81) == ([0, 1, 2, 3], [0.0, 0.3, 0.4, 0.5])
    assert video_preset("complete", 81) == ([0, 20], [0.3, 0.3])
    assert video_preset("extend", 81, 19) == ([19, 20], [0.0, 0.3])  # from a clip's start slot, up to the end


def test_jobs_describe_themselves_and_give_back_their_request():
    request = GenerationRequest("a long prompt " * 10, width=64, height=64, frames=9, seed=3)
    job = Job(request=request)
    assert job.title.endswith("...") and len(job.title) <= 60
    assert "seed 3" in job.summary
    assert job.request is request  # the engine's own type, never a dict


def test_the_mode_shown_follows_the_timeline_layout():
    from pusa_desktop.core.model import detect_mode

    assert detect_mode(Timeline()) is Mode.TEXT_TO_VIDEO
    assert detect_mode(Timeline(keyframes=[TimelineKeyframe("a.png", 0)])) is Mode.IMAGE_TO_VIDEO
    assert detect_mode(Timeline(keyframes=[TimelineKeyframe("a.png", 8)])) is Mode.MULTI_FRAMES
    assert detect_mode(Timeline(video=TimelineVideo("c.mp4"))) is Mode.VIDEO_TO_VIDEO


def test_the_playhead_maps_player_frames_to_pixel_frames():
    from pusa_desktop.core.timeline_geometry import pixel_frame_of_player_frame

    assert pixel_frame_of_player_frame(40, 81, 81) == 40  # the finished video: one to one
    assert pixel_frame_of_player_frame(0, 21, 81) == 0  # a preview has one frame per latent slot
    assert pixel_frame_of_player_frame(1, 21, 81) == 4
    assert pixel_frame_of_player_frame(20, 21, 81) == 80
