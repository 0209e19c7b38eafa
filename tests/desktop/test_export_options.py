"""Exports as users expect them: every format with its quality, frame rate and size, checked by reading the
files back; progress and cancel; the dialog starting in the output folder and remembering the last one."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pusa_desktop.core.export_formats import (
    FORMATS,
    ExportError,
    ExportOptions,
    available_encoders,
    export_video,
    output_frames,
    probe,
)
from pusa_engine.media import write_mp4

from .results_helpers import frame_count, stream_info, write_result

SOURCE = {"frames": 33, "fps": 16, "width": 128, "height": 96}  # 2.06 s


@pytest.fixture
def source(tmp_path) -> Path:
    return write_result(tmp_path / "outputs", "clip", "a fox", **SOURCE)


def test_the_bundled_ffmpeg_has_every_encoder_the_dialog_offers():
    assert {spec.encoder for spec in FORMATS.values()} <= available_encoders()


@pytest.mark.parametrize(
    ("options", "codec", "size", "fps", "frames"),
    [
        (ExportOptions("h264", quality=30), "h264", (128, 96), 16, 33),
        (ExportOptions("h265", quality=28, fps=8), "hevc", (128, 96), 8, 17),
        (ExportOptions("vp9", scale=0.5), "vp9", (64, 48), 16, 33),
        (ExportOptions("prores", quality=1, fps=24, scale=1.5), "prores", (192, 144), 24, 50),
        (ExportOptions("h264", scale=0.75, fps=12), "h264", (96, 72), 12, 25),
    ],
)
def test_each_video_format_is_written_with_its_codec_rate_and_size(source, tmp_path, options, codec, size, fps,
                                                                     frames):
    target = tmp_path / f"out{options.spec.suffix}"
    seen: list[float] = []
    assert export_video(source, target, options, seen.append) == target
    info = stream_info(target)
    assert info["codec"] == codec, info["line"]
    assert (info["width"], info["height"]) == size and info["fps"] == fps
    assert frame_count(target) == frames == output_frames(options, probe(source))  # the progress counts these
    assert seen[-1] == 1.0 and seen == sorted(seen)  # progress only goes forward
    if options.format == "prores":
        assert "(LT)" in info["line"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporaries left


def test_quality_changes_the_size_of_the_file(tmp_path):
    noisy = tmp_path / "noisy.mp4"
    write_mp4(np.random.default_rng(0).integers(0, 255, (17, 96, 128, 3), dtype=np.uint8), noisy, 16)
    sizes = [export_video(noisy, tmp_path / f"q{crf}.mp4", ExportOptions("h264", quality=crf)).stat().st_size
             for crf in (10, 40)]
    assert sizes[0] > 2 * sizes[1]


def test_png_frames_and_a_gif_with_its_size_and_rate(source, tmp_path):
    folder = export_video(source, tmp_path / "frames", ExportOptions("png", fps=8, scale=0.5))
    files = sorted(folder.glob("*.png"))
    assert [f.name for f in files[:2]] == ["frame_00000.png", "frame_00001.png"] and len(files) == 17
    assert Image.open(files[0]).size == (64, 48)
    gif = export_video(source, tmp_path / "small.gif", ExportOptions("gif", fps=10, width=100))
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.size == (100, 75)
        assert image.n_frames == 21 and image.info["duration"] == 100  # 10 fps
    with pytest.raises(ExportError, match="exists already"):
        export_video(source, folder, ExportOptions("png"))


def test_bad_options_and_places_fail_with_one_line(source, tmp_path):
    for options, words in ((ExportOptions("h264", quality=80), "CRF must be from 0 to 51"),
                           (ExportOptions("vp9", fps=float("nan")), "frame rate"),
                           (ExportOptions("gif", width=3), "width")):
        with pytest.raises(ExportError, match=words):
            export_video(source, tmp_path / "x", options)
    with pytest.raises(ExportError, match="does not exist"):
        export_video(source, tmp_path / "no" / "such" / "x.mp4", ExportOptions())
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(ExportError, match="cannot be read"):
        export_video(tmp_path / "broken.mp4", tmp_path / "y.mp4", ExportOptions())


def test_a_cancelled_export_leaves_nothing(tmp_path):
    long = write_result(tmp_path / "outputs", "long", "a long clip", frames=241, width=640, height=480)
    cancel = threading.Event()
    seen: list[float] = []

    def progress(fraction: float) -> None:
        seen.append(fraction)
        cancel.set()  # the user presses Cancel at the first report

    with pytest.raises(ExportError, match="cancelled"):
        export_video(long, tmp_path / "slow.webm", ExportOptions("vp9", quality=4, scale=2.0), progress, cancel)
    assert seen and list(tmp_path.glob("*slow*")) == [] and list(tmp_path.glob(".*")) == []


def test_the_dialog_starts_in_the_output_folder_and_then_in_the_last_one(window, qtbot, tmp_path):
    from pusa_desktop.app_settings import AppSettings

    outputs = Path(window.app_settings.output_dir)
    video = write_result(outputs, "fox", "a fox", **SOURCE)
    window.library_action.trigger()
    from .test_library import run

    run(window.library.refresh())
    window.library_panel.select(str(video.resolve()))
    box = window.exports.dialog("gif")
    assert box is not None and box.format_key == "gif" and box.target_path() == outputs / "fox.gif"
    assert not box.scale.isVisible() and box.width_box.value() == 128
    box.set_format("vp9")
    assert box.target_path() == outputs / "fox.webm" and box.crf.value() == 31
    elsewhere = tmp_path / "exports"
    elsewhere.mkdir()
    box.target.setText(str(elsewhere / "mine.webm"))
    box.crf.setValue(40)
    box.fps.setCurrentIndex(box.fps.findData(8.0))
    box.scale.setCurrentIndex(box.scale.findData(0.5))
    assert box.options() == ExportOptions("vp9", 40, 8.0, 0.5, None)
    assert "17 frames of 64 x 48 at 8 fps" in box.summary.text()
    box.accept()  # Export: runs on a worker thread, progress in the status bar
    assert window.exports.progress.isVisible() and window.exports.running
    qtbot.waitUntil(lambda: not window.exports.running, timeout=60_000)
    assert window.last_message == f"Exported {elsewhere / 'mine.webm'}"
    assert stream_info(elsewhere / "mine.webm")["codec"] == "vp9" and not window.exports.progress.isVisible()
    assert AppSettings().last_export_dir == str(elsewhere)  # remembered for the next start too
    box = window.exports.dialog("png")
    assert box.target_path() == elsewhere / "fox-frames"
    box.reject()
    window.exports.start(str(video), tmp_path / "missing" / "x.mp4", ExportOptions())
    qtbot.waitUntil(lambda: not window.exports.running, timeout=60_000)
    assert window.last_message.startswith("Export failed:") and "does not exist" in window.last_message
