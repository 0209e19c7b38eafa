"""Exporting a finished video the way users expect: H.264 or H.265 MP4, WebM VP9, ProRes MOV, PNG frames or
a GIF, with a quality, a frame rate and a size. No Qt here.

The bundled ffmpeg (imageio-ffmpeg) transcodes the result MP4 directly and reports its progress
(`-progress`), so a long export can show how far it is and be cancelled. Every export is written to a
temporary beside the target and renamed into place when it succeeded: a cancelled or failed export
leaves nothing behind.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pusa_engine.atomic_files import temp_path_for


class ExportError(Exception):
    """The export could not be made; the message says why, in one line."""


@dataclass(frozen=True)
class ExportFormat:
    key: str
    label: str
    suffix: str  # "" for a folder of frames
    encoder: str  # the ffmpeg encoder it needs
    container: str  # ffmpeg's -f
    quality: tuple[int, int, int] | None = None  # (best, worst, default) CRF; None: no quality choice
    quality_name: str = "CRF"
    even_size: bool = True  # 4:2:0 / 4:2:2 chroma: width and height rounded to even numbers


PRORES_PROFILES = ("Proxy", "LT", "422", "422 HQ")
FORMATS: dict[str, ExportFormat] = {f.key: f for f in (
    ExportFormat("h264", "H.264 MP4 (plays everywhere)", ".mp4", "libx264", "mp4", (0, 51, 18)),
    ExportFormat("h265", "H.265 / HEVC MP4 (smaller files)", ".mp4", "libx265", "mp4", (0, 51, 22)),
    ExportFormat("vp9", "WebM VP9 (for the web)", ".webm", "libvpx-vp9", "webm", (0, 63, 31)),
    ExportFormat("prores", "ProRes MOV (for editing)", ".mov", "prores_ks", "mov", (0, 3, 3), "Profile"),
    ExportFormat("png", "PNG frames (a folder)", "", "png", "image2", None, even_size=False),
    ExportFormat("gif", "GIF (animated)", ".gif", "gif", "gif", None, even_size=False),
)}


@dataclass(frozen=True)
class ExportOptions:
    """What to export. `quality`: the CRF (lower is better) or the ProRes profile (0 Proxy .. 3 HQ), None for
    the format's default; `fps`: None keeps the video's rate; `scale`: of the video's size; `width`: an exact
    width instead (the height follows the aspect ratio), for a GIF most of all."""

    format: str = "h264"
    quality: int | None = None
    fps: float | None = None
    scale: float = 1.0
    width: int | None = None

    @property
    def spec(self) -> ExportFormat:
        return FORMATS[self.format]

    def problems(self) -> list[str]:
        out = []
        if self.format not in FORMATS:
            return [f"unknown export format {self.format!r}"]
        low_high = self.spec.quality
        if self.quality is not None and low_high and not low_high[0] <= self.quality <= low_high[1]:
            out.append(f"{self.spec.quality_name} must be from {low_high[0]} to {low_high[1]}")
        if self.fps is not None and not (math.isfinite(self.fps) and 1 <= self.fps <= 120):
            out.append("the frame rate must be from 1 to 120")
        if not (math.isfinite(self.scale) and 0.05 <= self.scale <= 4):
            out.append("the scale must be from 5 % to 400 %")
        if self.width is not None and not 16 <= self.width <= 7680:
            out.append("the width must be from 16 to 7680 pixels")
        return out


@dataclass(frozen=True)
class SourceVideo:
    width: int
    height: int
    fps: float
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@lru_cache(maxsize=4)
def available_encoders(exe: str | None = None) -> frozenset[str]:
    """The video encoders the bundled ffmpeg has (read once from `ffmpeg -encoders`)."""
    try:
        out = subprocess.run([exe or ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return frozenset()
    names = [line.split()[1] for line in out.splitlines() if len(line.split()) > 1 and line.split()[0][:1] == "V"]
    return frozenset(names)


def missing_encoder(key: str, encoders: frozenset[str] | None = None) -> str | None:
    """Why a format cannot be exported on this machine, or None."""
    spec = FORMATS[key]
    encoders = available_encoders() if encoders is None else encoders
    return None if spec.encoder in encoders else f"the bundled ffmpeg has no {spec.encoder} encoder"


def probe(video: str | Path) -> SourceVideo:
    import cv2

    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise ExportError(f"{video} cannot be read as a video")
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 16.0)
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        capture.release()
    if min(size) <= 0:
        raise ExportError(f"{video} has no video frames")
    return SourceVideo(size[0], size[1], fps, frames)


def output_size(options: ExportOptions, source: SourceVideo) -> tuple[int, int]:
    """The exported frame size: `width` if given, else the scale; even numbers where the codec needs them."""
    scale = options.width / source.width if options.width else options.scale
    width, height = max(2, round(source.width * scale)), max(2, round(source.height * scale))
    if options.spec.even_size:
        width, height = width + width % 2, height + height % 2
    return width, height


def output_frames(options: ExportOptions, source: SourceVideo) -> int:
    fps = options.fps or source.fps
    return max(1, math.ceil(source.seconds * fps - 1e-6)) if options.fps else max(1, source.frames)


def ffmpeg_command(exe: str, video: str | Path, target: str | Path, options: ExportOptions,
                   source: SourceVideo) -> list[str]:
    """The ffmpeg command writing `target` (a file, or for PNG frames a folder that exists)."""
    spec = options.spec
    width, height = output_size(options, source)
    filters = [f"fps={options.fps:g}"] if options.fps else []
    filters.append(f"scale={width}:{height}:flags=lanczos")
    quality = options.quality if options.quality is not None else (spec.quality[2] if spec.quality else None)
    codec: list[str]
    if spec.key == "h264":
        codec = ["-c:v", "libx264", "-preset", "medium", "-crf", str(quality), "-pix_fmt", "yuv420p",
                 "-movflags", "+faststart"]
    elif spec.key == "h265":
        codec = ["-c:v", "libx265", "-preset", "medium", "-crf", str(quality), "-pix_fmt", "yuv420p", "-tag:v",
                 "hvc1", "-x265-params", "log-level=error", "-movflags", "+faststart"]
    elif spec.key == "vp9":
        codec = ["-c:v", "libvpx-vp9", "-crf", str(quality), "-b:v", "0", "-pix_fmt", "yuv420p", "-row-mt", "1",
                 "-deadline", "good", "-cpu-used", "4"]
    elif spec.key == "prores":
        codec = ["-c:v", "prores_ks", "-profile:v", str(quality), "-pix_fmt", "yuv422p10le", "-vendor", "apl0"]
    elif spec.key == "png":
        codec = ["-c:v", "png", "-start_number", "0"]
        target = Path(target) / "frame_%05d.png"
    else:  # a GIF with one palette made for the whole clip
        filters[-1] += ",split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=sierra2_4a"
        codec = ["-loop", "0"]
    colour = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"] if spec.even_size else []
    return [exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(video), "-an",
            "-vf", ",".join(filters), *codec, *colour, "-progress", "pipe:1", "-nostats",
            "-f", spec.container, str(target)]


Progress = Callable[[float], None]  # the fraction done, 0..1


def export_video(video: str | Path, target: str | Path, options: ExportOptions, progress: Progress | None = None,
                 cancel: threading.Event | None = None) -> Path:
    """Export `video` to `target` (a file; for PNG frames the folder to create). Blocking: call it on a worker
    thread. Raises ExportError (one line) on failure, and when cancelled, leaving no partial output."""
    problems = options.problems()
    if problems:
        raise ExportError("; ".join(problems))
    target = Path(target)
    if not target.parent.is_dir():
        raise ExportError(f"the folder {target.parent} does not exist")
    if options.format == "png" and target.exists():
        raise ExportError(f"{target} exists already: choose another folder name")
    why = missing_encoder(options.format)
    if why:
        raise ExportError(f"{options.spec.label} cannot be exported: {why}")
    source = probe(video)
    total = output_frames(options, source)
    tmp = temp_path_for(target)
    folder = options.format == "png"
    try:
        if folder:
            tmp.mkdir()
        _run(ffmpeg_command(ffmpeg_exe(), video, tmp, options, source), total, progress, cancel)
        os.replace(tmp, target)
    except OSError as error:
        raise ExportError(f"could not write {target}: {error.strerror or error}") from error
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink(missing_ok=True)
    if progress is not None:
        progress(1.0)
    return target


def _run(cmd: list[str], total: int, progress: Progress | None, cancel: threading.Event | None) -> None:
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL,
                                creationflags=flags, text=True)
        assert proc.stdout is not None
        watcher = threading.Thread(target=_stop_when_cancelled, args=(proc, cancel), daemon=True)
        watcher.start()
        try:
            for line in proc.stdout:
                key, _, value = line.strip().partition("=")
                if key == "frame" and value.isdigit() and progress is not None:
                    progress(min(0.99, int(value) / total))
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        errors.seek(0)
        log = errors.read().decode("utf-8", "replace").strip().splitlines()
    if cancel is not None and cancel.is_set():
        raise ExportError("the export was cancelled")
    if code != 0:
        raise ExportError(f"ffmpeg failed ({log[-1][:200] if log else f'exit code {code}'})")


def _stop_when_cancelled(proc: subprocess.Popen, cancel: threading.Event | None) -> None:
    while cancel is not None and proc.poll() is None:
        if cancel.wait(0.1):
            proc.kill()
            return
