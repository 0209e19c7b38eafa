"""The MP4 encoded while the frames are made: the same file as writing them at once, nothing left behind when the
job fails or is cancelled, the encoder's failure one OutputError."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from pusa_engine import media_writers
from pusa_engine.errors import OutputError
from pusa_engine.media_writers import write_mp4
from pusa_engine.mp4_stream import ENCODER_NICENESS, Mp4Stream, lower_priority


def _frames(count: int, height: int = 48, width: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def test_chunks_make_the_same_file_as_all_frames_at_once(tmp_path):
    frames = _frames(17)
    write_mp4(frames, tmp_path / "whole.mp4", 16)
    with Mp4Stream(tmp_path / "streamed.mp4", 16) as stream:
        stream.write(frames[:1])  # the decode's chunks: 1 frame, then 4 at a time
        for i in range(1, 17, 4):
            stream.write(frames[i:i + 4])
    assert stream.frames_written == 17
    assert (tmp_path / "streamed.mp4").read_bytes() == (tmp_path / "whole.mp4").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["streamed.mp4", "whole.mp4"]


def test_odd_sizes_are_padded_like_write_mp4(tmp_path):
    frames = _frames(5, 33, 47)
    write_mp4(frames, tmp_path / "whole.mp4", 8)
    with Mp4Stream(tmp_path / "streamed.mp4", 8) as stream:
        for frame in frames:
            stream.write(frame[None])
    assert (tmp_path / "streamed.mp4").read_bytes() == (tmp_path / "whole.mp4").read_bytes()


def test_a_failed_job_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "result.mp4"
    target.write_bytes(b"the old result")
    with pytest.raises(RuntimeError, match="cancelled"):
        with Mp4Stream(target, 16) as stream:
            stream.write(_frames(9))
            raise RuntimeError("cancelled")
    assert target.read_bytes() == b"the old result"
    assert [p.name for p in tmp_path.iterdir()] == ["result.mp4"]


def test_frames_of_another_size_are_refused(tmp_path):
    stream = Mp4Stream(tmp_path / "x.mp4", 16)
    stream.write(_frames(1))
    with pytest.raises(ValueError, match="after"):
        stream.write(_frames(1, 32, 32))
    stream.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_one_output_error(tmp_path):
    with pytest.raises(OutputError, match="folder does not exist"):
        Mp4Stream(tmp_path / "missing" / "x.mp4", 16)


def test_the_encoder_failing_is_one_output_error(tmp_path, monkeypatch):
    from pusa_engine import media_writers

    script = tmp_path / "ffmpeg.sh"
    script.write_text("#!/bin/sh\ncat > /dev/null\necho 'No space left on device' >&2\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setattr(media_writers, "_ffmpeg_exe", lambda: str(script))
    (tmp_path / "out").mkdir()
    stream = Mp4Stream(tmp_path / "out" / "x.mp4", 16)
    stream.write(_frames(4))
    with pytest.raises(OutputError, match="disk is full"):
        stream.close()
    assert list((tmp_path / "out").iterdir()) == []


def test_the_engine_encodes_while_it_decodes(engine, tiny, tmp_path, monkeypatch):
    """Each latent frame's pixels reach the MP4 encoder before the next one is decoded; the file holds them all."""
    from pusa_engine import engine as engine_module
    from pusa_engine.events import Phase, PhaseProgress

    log = []

    class Recording(Mp4Stream):
        def write(self, frames):
            log.append(("frames", len(frames)))
            super().write(frames)

    def on_event(event):
        if isinstance(event, PhaseProgress) and event.phase is Phase.DECODING and event.done:
            log.append(("decoded", event.done))

    monkeypatch.setattr(engine_module, "Mp4Stream", Recording)
    result = engine.generate(tiny(steps=2), tmp_path / "v.mp4", on_event=on_event)
    assert log == [("frames", 1), ("decoded", 1)] + [e for d in range(2, 6) for e in (("frames", 4), ("decoded", d))]
    assert result.frames == 17 and (tmp_path / "v.mp4").stat().st_size > 0


def test_a_cancelled_job_leaves_no_video(engine, tiny, tmp_path):
    from pusa_engine.errors import JobCancelled
    from pusa_engine.events import CancelToken, Phase, PhaseProgress

    cancel = CancelToken()

    def on_event(event):
        if isinstance(event, PhaseProgress) and event.phase is Phase.DECODING and event.done == 2:
            cancel.cancel()

    with pytest.raises(JobCancelled):
        engine.generate(tiny(steps=2), tmp_path / "v.mp4", on_event=on_event, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for ffmpeg")
def test_the_encoder_runs_at_a_lower_priority_than_the_decode(tmp_path, monkeypatch):
    """x264's threads must not take the cores from the thread that feeds the GPU: ffmpeg starts niced."""
    report = tmp_path / "nice.txt"
    fake = tmp_path / "ffmpeg.sh"
    fake.write_text(f"#!{sys.executable}\nimport os, sys\nsys.stdin.buffer.read()\n"
                    f"open({str(report)!r}, 'w').write(str(os.nice(0)))\nopen(sys.argv[-1], 'wb').write(b'mp4')\n")
    fake.chmod(0o755)
    monkeypatch.setattr(media_writers, "_ffmpeg_exe", lambda: str(fake))
    with Mp4Stream(tmp_path / "x.mp4", 16) as stream:
        stream.write(np.zeros((2, 16, 16, 3), np.uint8))
    assert int(report.read_text()) == min(19, os.nice(0) + ENCODER_NICENESS)


def test_windows_gets_a_below_normal_priority_class(monkeypatch):
    import subprocess

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0x4000, raising=False)
    monkeypatch.setattr(subprocess, "CREATE_NO_WINDOW", 0x8000000, raising=False)
    command, flags = lower_priority(["ffmpeg", "-i", "x"])
    assert command == ["ffmpeg", "-i", "x"] and flags == 0x4000 | 0x8000000


def test_x264_looks_ahead_20_frames_so_the_file_is_ready_soon_after_the_decode(tmp_path):
    """x264 writes its settings into the stream: the 20-frame lookahead is the one used (medium's is 40)."""
    target = tmp_path / "clip.mp4"
    write_mp4(_frames(9), target, fps=16)
    data = target.read_bytes()
    assert b"rc_lookahead=20" in data and b"crf=18.0" in data
