"""The command line: every request field, the trace, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from pusa_engine.cli import build_parser, main, parse_keyframe, request_from_args


def test_keyframe_spelling_keeps_colons_in_paths():
    kf = parse_keyframe("12:C:/images/start.png:0.3")
    assert (kf.frame, kf.image, kf.noise) == (12, "C:/images/start.png", 0.3)


def test_every_field_reaches_the_request(tmp_path):
    args = build_parser().parse_args([
        "generate", "--prompt", "p", "--negative-prompt", "n", "--width", "64", "--height", "48", "--frames", "17",
        "--steps", "3", "--cfg", "4.5", "--shift", "3", "--seed", "9", "--fps", "25", "--lora-alpha", "2",
        "--fit", "pad", "--keyframe", "0:a.png:0.2", "--keyframe", "16:b.png:0.5", "--out", str(tmp_path / "o.mp4"),
        "--png-frames"])
    req = request_from_args(args)
    assert (req.prompt, req.negative_prompt, req.width, req.height, req.frames, req.steps, req.cfg, req.shift,
            req.seed, req.fps, req.lora_alpha, req.fit, req.save_png_frames) == (
        "p", "n", 64, 48, 17, 3, 4.5, 3.0, 9, 25, 2.0, "pad", True)
    assert [(k.frame, k.image, k.noise) for k in req.keyframes] == [(0, "a.png", 0.2), (16, "b.png", 0.5)]


def test_generate_with_video_condition_and_trace(demo_model, media_dir, tmp_path, capsys):
    model_dir, lora = demo_model
    out, trace = tmp_path / "v.mp4", tmp_path / "t.safetensors"
    code = main(["generate", "--model", str(model_dir), "--lora", str(lora), "--prompt", "waves", "--width", "64",
                 "--height", "48", "--frames", "17", "--steps", "3", "--seed", "3", "--plan", "cpu",
                 "--cond-video", str(media_dir / "clip.mp4"), "--cond-slots", "0,1,2,3",
                 "--cond-noise", "0.0,0.3,0.4,0.5", "--out", str(out), "--trace", str(trace), "--quiet"])
    assert code == 0 and out.exists() and (tmp_path / "v.json").exists()
    saved = load_file(str(trace))
    assert saved["latents"].shape == (1, 16, 5, 6, 8) and saved["latents"].dtype == torch.float32
    assert saved["timesteps"].shape == (3, 5) and saved["timesteps"].dtype == torch.float32
    assert (saved["timesteps"][:, 0] == 0).all()
    assert torch.allclose(saved["timesteps"][0, 1:4], torch.tensor([300.0, 400.0, 500.0]))


@pytest.mark.parametrize("argv, culprit", [
    (["--frames", "10"], "4n+1"),
    (["--keyframe", "0:missing.png:0.2"], "missing.png"),
    (["--keyframe", "nonsense"], "FRAME:IMAGE:NOISE"),
    (["--cond-slots", "0,1"], "--cond-video"),
    (["--steps", "many"], "--steps"),
])
def test_bad_arguments_exit_nonzero_with_one_line(argv, culprit, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pusa_engine", "generate", "--prompt", "x",
                           "--out", str(tmp_path / "o.mp4"), *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and culprit in lines[0] and "Traceback" not in proc.stderr


def test_bad_model_folder_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pusa_engine", "generate", "--prompt", "x", "--model", str(tmp_path),
                           "--out", str(tmp_path / "o.mp4"), "--frames", "9", "--width", "64", "--height", "64"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "config.json is missing" in proc.stderr


def test_make_demo_model_writes_the_released_names(tmp_path):
    assert main(["make-demo-model", str(tmp_path)]) == 0
    names = {p.name for p in (tmp_path / "Wan2.1-T2V-demo").iterdir()}
    assert {"config.json", "diffusion_pytorch_model.safetensors.index.json", "models_t5_umt5-xxl-enc-bf16.pth",
            "Wan2.1_VAE.pth", "google"} <= names
    assert (tmp_path / "pusa_v1_demo.pt").exists()
    assert main(["validate", "--model", str(tmp_path / "Wan2.1-T2V-demo"), "--lora",
                 str(tmp_path / "pusa_v1_demo.pt")]) == 0


def test_clip_placement_and_fp8_flags_reach_the_request(tmp_path):
    base = ["generate", "--prompt", "p", "--out", str(tmp_path / "o.mp4")]
    args = build_parser().parse_args(base + ["--cond-video", "clip.mp4", "--cond-slots", "2,3", "--cond-noise",
                                             "0,0.3", "--cond-start-slot", "2", "--cond-in-frame", "7", "--fp8"])
    request = request_from_args(args)
    assert (request.video.start_slot, request.video.in_frame, request.video.slots) == (2, 7, [2, 3])
    assert request.fp8 is True
    plain = request_from_args(build_parser().parse_args(base))
    assert plain.fp8 is False and plain.video is None


def test_clip_placement_flags_without_a_clip_are_one_line(tmp_path, capsys):
    code = main(["generate", "--prompt", "p", "--out", str(tmp_path / "o.mp4"), "--cond-in-frame", "3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "need --cond-video" in err[0]
