"""Where results go: bad output paths are one line before any work, and a result's files are one unit."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pusa_engine.atomic_files import TEMP_MARK, is_finished_output
from pusa_engine.cli import main
from pusa_engine.errors import OutputError


def cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = main(argv)
    return code, capsys.readouterr().err.splitlines()


def generate_argv(out: Path, *extra: str) -> list[str]:
    return ["generate", "--prompt", "x", "--width", "64", "--height", "48", "--frames", "9", "--steps", "1",
            "--seed", "1", "--plan", "cpu", "--quiet", "--out", str(out), *extra]


# ---- bad output paths ---------------------------------------------------------------------------------------
def test_output_folder_under_a_regular_file(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    code, err = cli(generate_argv(tmp_path / "notes.txt" / "sub" / "o.mp4"), capsys)
    assert (code, len(err), "notes.txt is a file, not a folder" in err[0]) == (1, 1, True)


def test_folder_given_as_out(tmp_path, capsys):
    code, err = cli(generate_argv(tmp_path), capsys)
    assert (code, err) == (1, [f"pusa-engine: error: --out {tmp_path} is a folder: give a file name ending in "
                               f".mp4, e.g. {tmp_path / 'video.mp4'}"])


def test_read_only_folder(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes through folder modes; /sys refuses even root
        folder = Path("/sys")
        if not folder.is_dir():
            pytest.skip("no /sys")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    code, err = cli(generate_argv(folder / "o.mp4"), capsys)
    assert (code, len(err), f"the output folder {folder} is not writable" in err[0]) == (1, 1, True)


def test_output_folder_that_cannot_be_created(tmp_path, capsys):
    blocked = Path("/sys/pusa-studio-test") if os.geteuid() == 0 else tmp_path / "ro" / "new"
    if os.geteuid() != 0:
        blocked.parent.mkdir()
        blocked.parent.chmod(0o555)
    code, err = cli(generate_argv(blocked / "o.mp4"), capsys)
    assert (code, len(err), f"the output folder {blocked} cannot be created" in err[0]) == (1, 1, True)


def test_existing_out_is_kept_without_overwrite(tmp_path, capsys):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"an earlier video")
    code, err = cli(generate_argv(out), capsys)
    assert (code, err, out.read_bytes()) == (1, [
        f"pusa-engine: error: --out {out} already exists: add --overwrite to replace it (and o.json), "
        "or choose another name"], b"an earlier video")


def test_overwrite_replaces_the_video_and_its_sidecar(demo_model, tmp_path, capsys):
    model, lora = demo_model
    out = tmp_path / "o.mp4"
    out.write_bytes(b"an earlier video")
    (tmp_path / "o.json").write_text("{}")
    code, _ = cli(generate_argv(out, "--model", str(model), "--lora", str(lora), "--overwrite"), capsys)
    assert (code, out.read_bytes()[4:8], json.loads((tmp_path / "o.json").read_text())["seed"]) == (0, b"ftyp", 1)


def test_bad_output_path_is_one_line_in_a_real_process(tmp_path):
    (tmp_path / "f").write_text("x")
    proc = subprocess.run([sys.executable, "-m", "pusa_engine", *generate_argv(tmp_path / "f" / "o.mp4")],
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, len(proc.stderr.splitlines()), "Traceback" in proc.stderr) == (1, 1, False)


def test_api_checks_the_output_path_before_the_job(engine, tiny, tmp_path):
    (tmp_path / "f").write_text("x")
    events = []
    with pytest.raises(OutputError, match="is a file, not a folder"):
        engine.generate(tiny(), tmp_path / "f" / "o.mp4", on_event=events.append)
    assert events == []


# ---- the result's files as one unit --------------------------------------------------------------------------
def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def earlier(engine, tiny, tmp_path) -> tuple[Path, dict[str, bytes]]:
    """A finished earlier result (video, sidecar, PNG frames, trace) in its own folder, and its bytes."""
    out = tmp_path / "out" / "v.mp4"
    engine.generate(tiny(steps=1, seed=1, save_png_frames=True), out, trace_path=out.with_suffix(".safetensors"))
    return out, _snapshot(out.parent)


def _fail(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _failing_ffmpeg(tmp_path: Path) -> str:
    script = tmp_path / "ffmpeg-that-fails"
    script.write_text('#!/bin/sh\nfor last; do :; done\nhead -c 1000 > "$last"\necho "disk full" >&2\nexit 1\n')
    script.chmod(0o755)
    return str(script)


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as a failing ffmpeg")
@pytest.mark.parametrize("writer", ["video", "png frames", "trace", "sidecar"])
def test_failure_in_any_writer_keeps_the_earlier_result_whole(engine, tiny, earlier, tmp_path, monkeypatch, writer):
    import imageio_ffmpeg
    import PIL.Image
    import safetensors.torch

    out, before = earlier
    patch = {"video": (imageio_ffmpeg, "get_ffmpeg_exe", lambda: _failing_ffmpeg(tmp_path)),
             "png frames": (PIL.Image.Image, "save", _fail),
             "trace": (safetensors.torch, "save_file", _fail),
             "sidecar": (json, "dumps", _fail)}[writer]
    monkeypatch.setattr(*patch)
    with pytest.raises(OutputError) as err:
        engine.generate(tiny(steps=1, seed=2, save_png_frames=True), out, trace_path=out.with_suffix(".safetensors"))
    monkeypatch.undo()
    assert _snapshot(out.parent) == before  # every old file as it was, and no temporary left
    assert TEMP_MARK not in str(err.value) and out.parent.name in str(err.value)  # the message names real files


def test_interrupted_commit_leaves_a_video_marked_unfinished(engine, tiny, earlier, monkeypatch):
    out, before = earlier
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == out.with_suffix(".json"):
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match="incomplete"):
        engine.generate(tiny(steps=1, seed=2), out)
    monkeypatch.undo()
    leftovers = [p.name for p in out.parent.iterdir() if TEMP_MARK in p.name]
    assert (out.read_bytes() != before["v.mp4"], is_finished_output(out), leftovers) == (True, False, [])


def test_temporaries_of_a_dead_process_are_swept_at_the_next_job(engine, tiny, tmp_path):
    stale = tmp_path / f".v.mp4{TEMP_MARK}999999999-0badf00d"  # no such process id
    stale.write_bytes(b"half a video")
    engine.generate(tiny(steps=1), tmp_path / "v.mp4")
    assert not stale.exists()
