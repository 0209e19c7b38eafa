"""Tests for pusa_engine.media: image fitting, video reading, atomic writers and their user-facing errors."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from pusa_engine import media, media_writers
from pusa_engine.errors import InputMediaError, OutputError
from pusa_engine.media import (
    fit_image,
    image_to_array,
    read_image,
    read_mp4_frames,
    read_video_frames,
    video_frame_count,
    video_info,
    write_gif,
    write_json_atomic,
    write_mp4,
    write_png_frames,
)
from pusa_engine.media_types import is_image_path, is_video_path

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (200, 150, 40), (128, 128, 128), (20, 60, 220)]


def solid_frames(t: int, h: int, w: int) -> np.ndarray:
    """T frames, each a different solid colour, with a white square in the top-left quarter."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        frames[i] = COLOURS[i % len(COLOURS)]
        frames[i, : h // 4, : w // 4] = 255
    return frames


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def write_with_codec(path: Path, frames: np.ndarray, fps: int, codec: str) -> None:
    """Write a test video in another container/codec with imageio-ffmpeg itself."""
    _, h, w, _ = frames.shape
    gen = imageio_ffmpeg.write_frames(
        str(path),
        (w, h),
        fps=fps,
        codec=codec,
        quality=None,
        macro_block_size=1,
        output_params=["-crf", "20"],
    )
    gen.send(None)
    for f in frames:
        gen.send(np.ascontiguousarray(f))
    gen.close()


# --- paths


def test_extension_checks_are_case_insensitive():
    assert is_image_path("a/b/photo.JPG") and is_image_path(Path("x.webp")) and is_image_path("x.Jpeg")
    assert not is_image_path("clip.mp4") and not is_image_path("noext")
    assert is_video_path("clip.MOV") and is_video_path(Path("c.mkv")) and is_video_path("c.webm")
    assert not is_video_path("photo.png")


# --- images


def test_read_image_png_jpeg_webp_bmp(tmp_path):
    arr = np.zeros((30, 50, 3), np.uint8)
    arr[..., 0] = 200
    for ext in (".png", ".jpg", ".webp", ".bmp"):
        p = tmp_path / f"img{ext}"
        Image.fromarray(arr).save(p)
        img = read_image(p)
        assert img.mode == "RGB" and img.size == (50, 30)
        assert abs(int(np.asarray(img)[15, 25, 0]) - 200) <= 3


def test_read_image_rgba_composited_on_black(tmp_path):
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., :3] = (255, 255, 255)
    rgba[:, :10, 3] = 255  # left half opaque white, right half fully transparent
    p = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(p)
    out = np.asarray(read_image(p))
    assert out.shape == (10, 20, 3)
    assert (out[:, :10] == 255).all() and (out[:, 10:] == 0).all()


def test_read_image_palette_with_transparency(tmp_path):
    p = tmp_path / "pal.png"
    im = Image.new("P", (8, 8), 0)
    im.putpalette([255, 0, 0] + [0, 255, 0] + [0] * 762)
    im.paste(1, (0, 0, 4, 8))
    im.info["transparency"] = 0  # index 0 (red) is transparent
    im.save(p, transparency=0)
    out = np.asarray(read_image(p))
    assert tuple(out[0, 0]) == (0, 255, 0) and tuple(out[0, 7]) == (0, 0, 0)


def test_read_image_greyscale_8_and_16_bit(tmp_path):
    p8 = tmp_path / "g8.png"
    Image.fromarray(np.full((6, 9), 100, np.uint8), "L").save(p8)
    out = np.asarray(read_image(p8))
    assert out.shape == (6, 9, 3) and (out == 100).all()

    p16 = tmp_path / "g16.png"
    Image.fromarray(np.full((6, 9), 65535, np.uint16)).save(p16)
    out16 = np.asarray(read_image(p16))
    assert out16.shape == (6, 9, 3) and (out16 == 255).all()


def test_read_image_applies_exif_rotation(tmp_path):
    p = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.new("RGB", (40, 20), (10, 20, 30)).save(p, exif=exif)
    assert read_image(p).size == (20, 40)


def test_read_image_corrupt_file(tmp_path):
    p = tmp_path / "broken_picture.png"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(InputMediaError) as ei:
        read_image(p)
    assert "broken_picture.png" in str(ei.value)


def test_read_image_truncated_png(tmp_path):
    p = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(p)
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(InputMediaError, match="cut.png"):
        read_image(p)


def test_read_image_missing_and_folder(tmp_path):
    with pytest.raises(InputMediaError) as ei:
        read_image(tmp_path / "nope.png")
    assert "nope.png" in str(ei.value) and "does not exist" in str(ei.value)
    with pytest.raises(InputMediaError, match="folder"):
        read_image(tmp_path)


def test_read_image_text_file(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("hello, not an image")
    with pytest.raises(InputMediaError, match="notes.jpg"):
        read_image(p)


def _split_image(w: int, h: int) -> Image.Image:
    """Left half red, right half blue."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, : w // 2] = (255, 0, 0)
    arr[:, w // 2 :] = (0, 0, 255)
    return Image.fromarray(arr)


@pytest.mark.parametrize("size", [(64, 48), (832, 480), (25, 41), (17, 17), (1, 1)])
@pytest.mark.parametrize("src", [(300, 100), (100, 300), (31, 17), (1000, 1000)])
@pytest.mark.parametrize("mode", ["crop", "pad"])
def test_fit_image_exact_size(src, size, mode):
    out = fit_image(_split_image(*src), size[0], size[1], mode)
    assert out.mode == "RGB" and out.size == size


def test_fit_image_pad_wide_source_puts_black_bars_top_and_bottom():
    img = Image.new("RGB", (200, 100), (255, 255, 255))
    out = np.asarray(fit_image(img, 64, 64, "pad"))
    # 2:1 content in a square: 64x32 content centred, 16 rows of black above and below
    assert (out[:15] == 0).all() and (out[-15:] == 0).all()
    assert (out[18:46] > 240).all()


def test_fit_image_pad_tall_source_puts_black_bars_left_and_right():
    img = Image.new("RGB", (50, 200), (255, 255, 255))
    out = np.asarray(fit_image(img, 80, 40, "pad"))
    # 1:4 in 80x40 -> 10x40 content centred at columns 35..44
    assert (out[:, :34] == 0).all() and (out[:, 46:] == 0).all()
    assert (out[:, 36:44] > 240).all()


def test_fit_image_crop_fills_and_cuts_sides():
    # 300x100 with three vertical thirds: red | green | blue. Crop to square keeps only the green middle.
    arr = np.zeros((100, 300, 3), np.uint8)
    arr[:, :100] = (255, 0, 0)
    arr[:, 100:200] = (0, 255, 0)
    arr[:, 200:] = (0, 0, 255)
    out = np.asarray(fit_image(Image.fromarray(arr), 50, 50, "crop"))
    assert out.shape == (50, 50, 3)
    assert (out[:, 2:-2, 1] > 240).all() and (out[:, 2:-2, 0] < 15).all() and (out[:, 2:-2, 2] < 15).all()


def test_fit_image_crop_tall_source_cuts_top_and_bottom():
    arr = np.zeros((300, 100, 3), np.uint8)
    arr[:100] = (255, 0, 0)
    arr[100:200] = (0, 255, 0)
    arr[200:] = (0, 0, 255)
    out = np.asarray(fit_image(Image.fromarray(arr), 64, 32, "crop"))  # keeps rows 125..175 of the source
    assert (out[2:-2, :, 1] > 240).all()


def test_fit_image_crop_keeps_left_right_halves_when_aspect_matches():
    out = np.asarray(fit_image(_split_image(200, 100), 64, 32, "crop"))
    assert (out[:, :30, 0] > 240).all() and (out[:, 34:, 2] > 240).all()


def test_fit_image_converts_rgba_and_rejects_bad_args():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    out = fit_image(rgba, 20, 20, "pad")
    assert out.mode == "RGB" and (np.asarray(out) == 0).all()
    with pytest.raises(ValueError):
        fit_image(rgba, 0, 20, "pad")
    with pytest.raises(ValueError):
        fit_image(rgba, 20, 20, "stretch")  # type: ignore[arg-type]


def test_image_to_array_range_and_dtype():
    arr = np.zeros((2, 3, 3), np.uint8)
    arr[0] = 255
    arr[1, 0] = 127
    out = image_to_array(Image.fromarray(arr))
    assert out.dtype == np.float32 and out.shape == (2, 3, 3)
    assert out.max() == 1.0 and out.min() == -1.0
    assert out[1, 0, 0] == pytest.approx(127 / 127.5 - 1)
    grey = image_to_array(Image.new("L", (4, 2), 255))
    assert grey.shape == (2, 4, 3) and (grey == 1.0).all()


# --- mp4


def _assert_close_colours(got: np.ndarray, want: np.ndarray, tol: float = 6.0) -> None:
    assert got.shape == want.shape
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    # per-frame mean error small, and the interior of each solid area matches closely
    assert diff.mean(axis=(1, 2, 3)).max() < tol
    t, h, w, _ = want.shape
    assert diff[:, h // 2 :, w // 2 :].max() <= 12


@pytest.mark.parametrize(("h", "w"), [(40, 24), (48, 64), (480, 832)])
def test_write_mp4_round_trip(tmp_path, h, w):
    frames = solid_frames(6, h, w)
    out = tmp_path / "result.mp4"
    write_mp4(frames, out, fps=16)
    assert out.is_file()
    assert leftovers(tmp_path, {"result.mp4"}) == []  # no temp file after success
    got = read_mp4_frames(out)
    assert got.dtype == np.uint8
    _assert_close_colours(got, frames)


def test_write_mp4_odd_size_is_padded_to_even(tmp_path):
    frames = solid_frames(3, 25, 41)
    out = tmp_path / "odd.mp4"
    write_mp4(frames, out, fps=8)
    got = read_mp4_frames(out)
    assert got.shape == (3, 26, 42, 3)
    _assert_close_colours(got[:, :25, :41], frames)


def test_write_mp4_overwrites_existing_file(tmp_path):
    out = tmp_path / "v.mp4"
    out.write_bytes(b"old")
    write_mp4(solid_frames(2, 16, 16), out, fps=16)
    assert read_mp4_frames(out).shape == (2, 16, 16, 3)


def test_write_mp4_metadata(tmp_path):
    out = tmp_path / "meta.mp4"
    write_mp4(solid_frames(9, 48, 64), out, fps=12)
    info = video_info(out)
    assert info == {"frames": 9, "fps": pytest.approx(12.0), "width": 64, "height": 48}
    assert video_frame_count(out) == 9


def test_write_mp4_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError):
        write_mp4(np.zeros((2, 8, 8, 3), np.float32), tmp_path / "x.mp4", fps=16)
    with pytest.raises(ValueError):
        write_mp4(np.zeros((2, 8, 8), np.uint8), tmp_path / "x.mp4", fps=16)
    with pytest.raises(ValueError):
        write_mp4(np.zeros((0, 8, 8, 3), np.uint8), tmp_path / "x.mp4", fps=16)
    assert list(tmp_path.iterdir()) == []


def test_write_mp4_missing_folder(tmp_path):
    target = tmp_path / "does_not_exist" / "out.mp4"
    with pytest.raises(OutputError) as ei:
        write_mp4(solid_frames(2, 16, 16), target, fps=16)
    msg = str(ei.value)
    assert str(target) in msg and "free some space or choose another output folder" in msg.lower()
    assert list(tmp_path.iterdir()) == []


def test_write_mp4_folder_is_a_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="blocker"):
        write_mp4(solid_frames(2, 16, 16), blocker / "out.mp4", fps=16)


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_write_mp4_unwritable_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(OutputError) as ei:
            write_mp4(solid_frames(2, 16, 16), folder / "out.mp4", fps=16)
        assert "free some space" in str(ei.value).lower()
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(stat.S_IRWXU)


def _fake_ffmpeg(tmp_path: Path, message: str) -> str:
    """A stand-in ffmpeg that writes half a file to its output path, complains and exits 1."""
    script = tmp_path / "fake_ffmpeg.sh"
    lines = ["#!/bin/sh", "for last; do :; done", 'head -c 1000 > "$last"', f'echo "{message}" >&2', "exit 1"]
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as fake ffmpeg")
def test_write_mp4_disk_full_removes_temp_file(tmp_path, monkeypatch):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    fake = _fake_ffmpeg(tmp_path, "av_interleaved_write_frame(): No space left on device")
    monkeypatch.setattr(media_writers, "_ffmpeg_exe", lambda: fake)
    target = out_dir / "full.mp4"
    with pytest.raises(OutputError) as ei:
        write_mp4(solid_frames(4, 32, 32), target, fps=16)
    msg = str(ei.value)
    assert str(target) in msg and "disk is full" in msg
    assert "free some space or choose another output folder" in msg.lower()
    assert list(out_dir.iterdir()) == []  # neither the final file nor the temp file


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as fake ffmpeg")
def test_write_mp4_encoder_failure_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "keep.mp4"
    write_mp4(solid_frames(2, 16, 16), target, fps=16)
    before = target.read_bytes()
    fake = _fake_ffmpeg(tmp_path, "Unknown encoder 'libx264'")
    monkeypatch.setattr(media_writers, "_ffmpeg_exe", lambda: fake)
    with pytest.raises(OutputError, match="libx264"):
        write_mp4(solid_frames(2, 16, 16), target, fps=16)
    assert target.read_bytes() == before  # the old result is untouched
    assert leftovers(tmp_path, {"keep.mp4", "fake_ffmpeg.sh"}) == []


# --- reading videos


def test_read_video_frames_mp4_and_truncation(tmp_path):
    frames = solid_frames(10, 48, 64)
    p = tmp_path / "clip.mp4"
    write_mp4(frames, p, fps=16)
    got = read_video_frames(p, max_frames=4)
    assert len(got) == 4 and all(f.mode == "RGB" and f.size == (64, 48) for f in got)
    _assert_close_colours(np.stack([np.asarray(f) for f in got]), frames[:4])
    assert len(read_video_frames(p, max_frames=100)) == 10
    with pytest.raises(ValueError):
        read_video_frames(p, max_frames=0)


CONTAINERS = [(".webm", "libvpx-vp9"), (".mov", "libx264"), (".mkv", "libx264")]


@pytest.mark.parametrize(("ext", "codec"), CONTAINERS)
def test_read_other_containers(tmp_path, ext, codec):
    frames = solid_frames(5, 48, 64)
    p = tmp_path / f"clip{ext}"
    write_with_codec(p, frames, 10, codec)
    got = read_video_frames(p, max_frames=81)
    assert len(got) == 5
    _assert_close_colours(np.stack([np.asarray(f) for f in got]), frames, tol=8.0)
    info = video_info(p)
    assert (info["width"], info["height"]) == (64, 48)
    assert info["fps"] == pytest.approx(10.0)
    assert abs(info["frames"] - 5) <= 1  # WebM/MKV carry no frame count: duration x fps


def test_read_video_falls_back_to_ffmpeg_when_cv2_cannot_open(tmp_path, monkeypatch):
    frames = solid_frames(5, 32, 48)
    p = tmp_path / "fallback.mp4"
    write_mp4(frames, p, fps=16)

    class ClosedCapture:
        def __init__(self, *_args):
            pass

        def isOpened(self):  # noqa: N802 - cv2's name
            return False

        def release(self):
            pass

    monkeypatch.setattr(media.cv2, "VideoCapture", ClosedCapture)
    got = read_video_frames(p, max_frames=3)
    assert len(got) == 3 and got[0].size == (48, 32)
    _assert_close_colours(np.stack([np.asarray(f) for f in got]), frames[:3])
    assert video_info(p) == {"frames": 5, "fps": pytest.approx(16.0), "width": 48, "height": 32}


def test_text_file_named_mp4(tmp_path):
    p = tmp_path / "readme_not_video.mp4"
    p.write_text("this is not a video\n" * 20)
    with pytest.raises(InputMediaError, match="readme_not_video.mp4"):
        read_video_frames(p, max_frames=5)
    with pytest.raises(InputMediaError, match="readme_not_video.mp4"):
        video_info(p)
    with pytest.raises(InputMediaError, match="readme_not_video.mp4"):
        read_mp4_frames(p)


def test_random_bytes_named_mov(tmp_path):
    p = tmp_path / "noise.mov"
    p.write_bytes(np.random.default_rng(2).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(InputMediaError, match="noise.mov"):
        read_video_frames(p, max_frames=5)


def test_missing_and_empty_video(tmp_path):
    with pytest.raises(InputMediaError, match="does not exist"):
        read_video_frames(tmp_path / "gone.mp4", max_frames=5)
    with pytest.raises(InputMediaError, match="gone.mp4"):
        video_frame_count(tmp_path / "gone.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputMediaError, match="empty.mp4"):
        read_video_frames(empty, max_frames=5)


# --- gif, png, json


def test_write_gif(tmp_path):
    frames = solid_frames(4, 24, 40)
    out = tmp_path / "anim.gif"
    write_gif(frames, out, fps=10)
    assert leftovers(tmp_path, {"anim.gif"}) == []
    with Image.open(out) as im:
        assert im.size == (40, 24) and im.n_frames == 4
        assert im.info["duration"] == 100 and im.info.get("loop") == 0
        for i in range(4):
            im.seek(i)
            got = np.asarray(im.convert("RGB"))
            assert np.abs(got.astype(int) - frames[i].astype(int)).max() <= 8


def test_write_gif_missing_folder(tmp_path):
    with pytest.raises(OutputError, match="nowhere"):
        write_gif(solid_frames(2, 8, 8), tmp_path / "nowhere" / "a.gif", fps=10)


def test_write_png_frames(tmp_path):
    frames = solid_frames(3, 10, 12)
    folder = tmp_path / "frames" / "run1"
    assert write_png_frames(frames, folder) == str(folder)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    for i, name in enumerate(names):
        assert (np.asarray(Image.open(folder / name)) == frames[i]).all()  # PNG is lossless


def test_write_png_frames_folder_is_a_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="blocker"):
        write_png_frames(solid_frames(1, 4, 4), blocker / "frames")


def test_write_json_atomic(tmp_path):
    p = tmp_path / "job.json"
    data = {"prompt": "a cat \u00e9", "seed": 42, "nested": {"a": [1, 2]}}
    write_json_atomic(data, p)
    assert json.loads(p.read_text(encoding="utf-8")) == data
    assert p.read_text(encoding="utf-8").startswith('{\n  "prompt"')  # indent 2
    write_json_atomic({"seed": 7}, p)
    assert json.loads(p.read_text(encoding="utf-8")) == {"seed": 7}
    assert leftovers(tmp_path, {"job.json"}) == []


def test_write_json_atomic_errors_leave_no_temp(tmp_path, monkeypatch):
    with pytest.raises(OutputError, match="free some space"):
        write_json_atomic({"a": 1}, tmp_path / "missing" / "x.json")

    p = tmp_path / "x.json"
    p.write_text('{"old": true}')

    def full_disk(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(media.os, "replace", full_disk)
    with pytest.raises(OutputError) as ei:
        write_json_atomic({"new": True}, p)
    assert "x.json" in str(ei.value) and "disk is full" in str(ei.value)
    monkeypatch.undo()
    assert json.loads(p.read_text()) == {"old": True}
    assert leftovers(tmp_path, {"x.json"}) == []


def test_write_json_not_serialisable_writes_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_json_atomic({"bad": object()}, tmp_path / "bad.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as fake ffmpeg")
def test_atomic_write_temp_names_this_process_so_a_later_start_can_sweep_it(tmp_path, monkeypatch):
    from pusa_engine.atomic_files import temp_owner

    record = tmp_path / "temp-name.txt"
    script = tmp_path / "recording_ffmpeg.sh"
    script.write_text(f'#!/bin/sh\nfor last; do :; done\necho "$last" > "{record}"\nexit 1\n')
    script.chmod(0o755)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(script))
    with pytest.raises(OutputError):
        write_mp4(solid_frames(2, 16, 16), tmp_path / "v.mp4", fps=16)
    assert temp_owner(Path(record.read_text().strip())) == os.getpid()
