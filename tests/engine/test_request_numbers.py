"""Numbers a request may not hold (NaN, infinity, sizes the machine cannot run) and the --keyframe spelling."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from pusa_engine.cli import main
from pusa_engine.errors import RequestError
from pusa_engine.media import write_json_atomic
from pusa_engine.request import MAX_FRAMES, GenerationRequest, Keyframe, SizeLimit, VideoCondition

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize("field, value, words", [
    ("shift", NAN, "shift must be a finite number"),
    ("shift", INF, "shift must be a finite number"),
    ("cfg", NAN, "cfg must be a finite number"),
    ("cfg", -INF, "cfg must be a finite number"),
    ("lora_alpha", NAN, "LoRA alpha must be a finite number"),
])
def test_non_finite_setting_is_one_line(field, value, words):
    with pytest.raises(RequestError) as err:
        GenerationRequest(prompt="x", **{field: value}).validate()
    assert len(err.value.problems) == 1 and words in err.value.problems[0]


@pytest.mark.parametrize("value", [NAN, INF])
def test_non_finite_keyframe_and_video_noise_are_refused(value):
    req = GenerationRequest(prompt="x", keyframes=[Keyframe("a.png", 0, value)],
                            video=VideoCondition("c.mp4", [3], [value]))
    with pytest.raises(RequestError) as err:
        req.validate()
    expected = f"noise must be a finite number (got {value})"
    assert [p.split(":")[-1].strip() for p in err.value.problems] == [expected] * 2


def test_shift_nan_on_the_command_line_writes_nothing(tmp_path):
    out = tmp_path / "o.mp4"
    proc = subprocess.run([sys.executable, "-m", "pusa_engine", "generate", "--prompt", "x", "--shift", "nan",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr.count("\n"), "shift must be a finite number" in proc.stderr,
            list(tmp_path.iterdir())) == (1, 1, True, [])


def test_sidecar_writer_refuses_nan_instead_of_writing_invalid_json(tmp_path):
    with pytest.raises(ValueError):
        write_json_atomic({"shift": NAN}, tmp_path / "o.json")
    assert list(tmp_path.iterdir()) == []


def test_sidecar_of_a_job_is_strict_json(engine, tiny, tmp_path):
    engine.generate(tiny(steps=1), tmp_path / "s.mp4")

    def refuse(name):
        raise ValueError(name)

    assert json.loads((tmp_path / "s.json").read_text(), parse_constant=refuse)["seed"] == 7


# ---- sizes ---------------------------------------------------------------------------------------------------
def test_frames_past_the_models_positions_are_refused():
    with pytest.raises(RequestError, match=f"frames can be at most {MAX_FRAMES}"):
        GenerationRequest(prompt="x", frames=MAX_FRAMES + 4).validate()


def test_too_many_frames_for_the_memory_says_the_maximum():
    limit = SizeLimit(max_tokens=30 * 52 * 21, max_pixels=10**7, where="the GPU cuda:0 (20.0 GB free)")
    with pytest.raises(RequestError) as err:
        GenerationRequest(prompt="x", width=832, height=480, frames=161).validate(limit)
    assert err.value.problems == [
        "832x480 with 161 frames is too large for the GPU cuda:0 (20.0 GB free): it needs 63,960 latent tokens "
        "and the most is about 32,760 (at most 81 frames at this size); lower the frame count, width or height"]


def test_too_large_a_frame_for_the_memory_says_the_maximum():
    limit = SizeLimit(max_tokens=10**9, max_pixels=832 * 480, where="this computer's memory (4.0 GB free)")
    with pytest.raises(RequestError, match=r"1280x720 is too large .* at most about 399,360 pixels \(e.g. 832x464\)"):
        GenerationRequest(prompt="x", width=1280, height=720).validate(limit)


def test_engine_derives_its_limit_from_free_memory(engine, tiny):
    with pytest.raises(RequestError, match="too large for this computer's memory .* GB free"):
        engine.run(tiny(width=16384, height=16384, frames=4001))


def test_engine_limit_allows_the_usual_sizes(engine):
    GenerationRequest(prompt="x", width=832, height=480, frames=81).validate(engine.size_limit())


# ---- --keyframe with a negative frame -----------------------------------------------------------------------
def test_keyframe_value_starting_with_a_dash_reaches_the_range_check(media_dir, tmp_path, capsys):
    code = main(["generate", "--prompt", "x", "--frames", "17", "--keyframe", f"-4:{media_dir / 'red.png'}:0.2",
                 "--out", str(tmp_path / "o.mp4")])
    err = capsys.readouterr().err
    assert (code, err.count("\n"), "is at frame -4: frames count from 0 (the first frame) to 16" in err) == (1, 1, True)


def test_option_after_an_option_missing_its_value_is_not_swallowed(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--prompt", "--out", str(tmp_path / "o.mp4")])
    assert "--prompt: expected one argument" in capsys.readouterr().err
