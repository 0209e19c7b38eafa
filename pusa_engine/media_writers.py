"""Writing videos, GIFs, PNG frames and JSON: each atomically (a temporary renamed into place), each
failure one OutputError that names the file and says what to do."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
from PIL import Image

from .atomic_files import temp_path_for
from .errors import OutputError

StrPath = str | os.PathLike[str]
_OUTPUT_HINT = "free some space or choose another output folder."
_MP4_CRF = 18  # libx264 at CRF 18 is visually lossless for generated video and plays everywhere
# x264's "medium" holds 40 frames before it encodes the first (rate control looks ahead); a clip is 81 frames,
# so half of it waited for the decode's end. 20 frames (x264's own "faster" value): the file was ready 0.3 s
# sooner on an H200 box (2.60 against 2.87-2.94 s after the decode's start), with the same size and PSNR
# (within 0.001 dB on a test clip).
_MP4_LOOKAHEAD = 20


# ----------------------------------------------------------------------------------------------------------
# Writing


def _output_error(path: Path, reason: str) -> OutputError:
    return OutputError(f"Could not write {path}: {reason}. Please {_OUTPUT_HINT}")


def _reason(err: OSError) -> str:
    code = err.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "the disk is full"
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is not writable"
    if code == errno.ENOENT:
        return "the folder does not exist"
    if code == errno.ENOTDIR:
        return "part of the folder path is a file, not a folder"
    return err.strerror or str(err)


def _check_output_folder(target: Path) -> None:
    folder = target.parent
    if not folder.is_dir():
        reason = "the folder does not exist" if not folder.exists() else "its parent is not a folder"
        raise _output_error(target, reason)


def _sync_into_place(tmp: Path, target: Path) -> None:
    """Flush the finished temporary to the disk, then rename it onto the target (OSError if either fails)."""
    fd = os.open(tmp, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)


@contextmanager
def _atomic_target(path: StrPath) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success fsync it and os.replace it onto the target.

    On any failure (or cancellation) the temporary file is removed and OSErrors become OutputError.
    """
    target = Path(path)
    _check_output_folder(target)
    tmp = temp_path_for(target)
    try:
        yield tmp
        _sync_into_place(tmp, target)
    except OSError as e:
        raise _output_error(target, _reason(e)) from e
    finally:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def _as_frames(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[3] != 3:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {arr.dtype} {list(arr.shape)}")
    if arr.shape[0] < 1 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f"frames must not be empty, got shape {list(arr.shape)}")
    return np.ascontiguousarray(arr)


def _ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _even_frames(arr: np.ndarray) -> np.ndarray:
    """yuv420p needs even sizes: an odd width or height is padded by repeating the last column/row."""
    pad_h, pad_w = arr.shape[1] % 2, arr.shape[2] % 2
    if pad_h or pad_w:
        return np.pad(arr, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return arr


def mp4_command(exe: str, width: int, height: int, fps: int, out: Path) -> list[str]:
    """ffmpeg reading raw RGB frames on stdin and writing H.264 (libx264, CRF 18, a 20-frame rate-control
    lookahead, yuv420p, BT.709, faststart)."""
    return [
        exe, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(int(fps)), "-i", "pipe:0",
        "-an",
        "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
        "-c:v", "libx264", "-preset", "medium", "-crf", str(_MP4_CRF), "-x264-params", f"rc-lookahead={_MP4_LOOKAHEAD}",
        "-pix_fmt", "yuv420p",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-movflags", "+faststart",
        "-f", "mp4", str(out),
    ]  # fmt: skip


def _ffmpeg_failure(target: Path, code: int, log: str) -> OutputError:
    low = log.lower()
    if "no space left" in low or "disk quota" in low:
        reason = "the disk is full"
    elif "permission denied" in low or "read-only file system" in low:
        reason = "the folder is not writable"
    else:
        last = log.splitlines()[-1] if log else f"exit code {code}"
        reason = f"the video encoder failed ({last[-300:]})"
    return _output_error(target, reason)


def write_mp4(frames: np.ndarray, path: StrPath, fps: int) -> None:
    """H.264 MP4 (see mp4_command), written atomically; the frames all at once (mp4_stream.Mp4Stream takes them
    as they are made). An odd width or height is padded, so the file is then one pixel wider/taller."""
    from .mp4_stream import Mp4Stream  # here: mp4_stream builds on this module

    arr = _as_frames(frames)
    if fps < 1:
        raise ValueError(f"write_mp4: fps must be >= 1, got {fps}")
    with Mp4Stream(path, fps) as stream:
        stream.write(arr)


def write_gif(frames: np.ndarray, path: StrPath, fps: int) -> None:
    """Looping GIF (one adaptive palette per frame), written atomically. GIF timing has 10 ms steps."""
    arr = _as_frames(frames)
    if fps < 1:
        raise ValueError(f"write_gif: fps must be >= 1, got {fps}")
    images = [Image.fromarray(f, "RGB") for f in arr]
    duration = max(20, round(1000 / fps))  # most viewers treat < 20 ms as 100 ms
    with _atomic_target(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)


def write_png_frames(frames: np.ndarray, folder: StrPath) -> str:
    """frame_00000.png, frame_00001.png, ... in folder (created if needed). Returns the folder."""
    arr = _as_frames(frames)
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _output_error(out, _reason(e)) from e
    for i, frame in enumerate(arr):
        with _atomic_target(out / f"frame_{i:05d}.png") as tmp:
            Image.fromarray(frame, "RGB").save(tmp, format="PNG")
    return str(out)


def write_json_atomic(data: dict[str, Any], path: StrPath) -> None:
    """JSON with indent 2, written atomically. A value that is not JSON-serialisable raises TypeError,
    NaN or infinity ValueError (the file would not be valid JSON)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    with _atomic_target(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]
