"""Reading conditioning images/videos and writing results (MP4, GIF, PNG frames, JSON).

No torch here on purpose: the desktop uses this module for previews and export without loading the engine.
Every writer is atomic: it writes a temporary file next to the target and renames it with os.replace, so a
crash or a full disk never leaves a half-written file under the final name.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

import cv2
import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic_files import temp_path_for
from .errors import InputMediaError, OutputError
from .request import FitMode

StrPath = str | os.PathLike[str]


_IMAGE_HINT = "Choose a PNG, JPEG, WebP or BMP image, or re-save this one in one of those formats."
_VIDEO_HINT = "Choose another video, or convert this one to MP4 (H.264)."
_OUTPUT_HINT = "free some space or choose another output folder."

# libx264 at CRF 18 is visually lossless for generated video and plays everywhere (yuv420p, BT.709 tagged).
_MP4_CRF = 18


# ----------------------------------------------------------------------------------------------------------
# Paths


def check_input_file(path: StrPath, kind: Literal["image", "video"]) -> Path:
    """The path of an image or video that exists and is a regular file; else one InputMediaError line."""
    return _existing_file(path, kind)


def _existing_file(path: StrPath, kind: Literal["image", "video"]) -> Path:
    p = Path(path)
    hint = _IMAGE_HINT if kind == "image" else _VIDEO_HINT
    if not p.exists():
        raise InputMediaError(
            f"The {kind} file {p} does not exist. Check that it was not moved or deleted and choose it again."
        )
    if p.is_dir():
        raise InputMediaError(f"{p} is a folder, not a{'n' if kind == 'image' else ''} {kind} file. {hint}")
    if not p.is_file():  # a FIFO or device: opening it could block forever
        raise InputMediaError(f"{p} is not a regular file (a pipe, socket or device). {hint}")
    return p


# ----------------------------------------------------------------------------------------------------------
# Images


def read_image(path: StrPath) -> Image.Image:
    """Open an image as RGB. EXIF rotation is applied; transparency is composited on black."""
    p = _existing_file(path, "image")
    try:
        with Image.open(p) as im:
            im.load()
            oriented = ImageOps.exif_transpose(im)
            return _to_rgb(oriented if oriented is not None else im)
    except Image.DecompressionBombError as e:
        raise InputMediaError(
            f"The image {p} is too large to open safely ({e}). Scale it down below about 80 megapixels "
            "and choose it again."
        ) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise InputMediaError(
            f"The image {p} cannot be read: the file is damaged or is not an image ({_short(e)}). "
            f"{_IMAGE_HINT}"
        ) from e


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB. Alpha goes over black; 16-bit and float greyscale are scaled, not clipped."""
    if im.mode == "RGB" and "transparency" not in im.info:
        return im.copy()
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        arr = np.asarray(im, dtype=np.float32)
        peak = float(arr.max()) if arr.size else 0.0
        if im.mode.startswith("I;16") or peak > 255.0:
            arr = arr * (255.0 / 65535.0)
        elif im.mode == "F" and peak <= 1.0:
            arr = arr * 255.0
        grey = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[..., None], 3, axis=2), "RGB")
    has_alpha = "A" in im.getbands() or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    return im.convert("RGB")


def fit_image(img: Image.Image, width: int, height: int, mode: FitMode = "crop") -> Image.Image:
    """Resize to exactly width x height RGB (Lanczos).

    crop: scale to cover the target, then cut the overflow equally on both sides.
    pad: scale to fit inside the target, then centre it on black bars.
    """
    if width < 1 or height < 1:
        raise ValueError(f"fit_image: target size must be positive, got {width}x{height}")
    if mode not in ("crop", "pad"):
        raise ValueError(f"fit_image: mode must be 'crop' or 'pad', got {mode!r}")
    if img.mode != "RGB":
        img = _to_rgb(img)
    w, h = img.size
    if (w, h) == (width, height):
        return img.copy()
    if mode == "crop":
        scale = max(width / w, height / h)
        box_w, box_h = min(w, width / scale), min(h, height / scale)
        left, top = (w - box_w) / 2, (h - box_h) / 2
        # Resampling straight from the (sub-pixel) source box avoids an intermediate image and rounding.
        return img.resize(
            (width, height),
            Image.Resampling.LANCZOS,
            box=(left, top, left + box_w, top + box_h),
            reducing_gap=3.0,
        )
    scale = min(width / w, height / h)
    new_w = min(width, max(1, round(w * scale)))
    new_h = min(height, max(1, round(h * scale)))
    resized = img.resize((new_w, new_h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    canvas.paste(resized, ((width - new_w) // 2, (height - new_h) // 2))
    return canvas


def image_to_array(img: Image.Image) -> np.ndarray:
    """float32 [H, W, 3] in [-1, 1] (x / 127.5 - 1), the range the VAE expects."""
    if img.mode != "RGB":
        img = _to_rgb(img)
    arr = np.asarray(img, dtype=np.float32)
    return (arr / np.float32(127.5) - np.float32(1.0)).astype(np.float32, copy=False)


# ----------------------------------------------------------------------------------------------------------
# Reading videos


def read_video_frames(path: StrPath, max_frames: int) -> list[Image.Image]:
    """The first (up to) max_frames frames as RGB images.

    OpenCV first; if it cannot open the file or decodes nothing, imageio-ffmpeg's reader is tried.
    """
    if max_frames < 1:
        raise ValueError(f"read_video_frames: max_frames must be >= 1, got {max_frames}")
    p = _existing_file(path, "video")
    frames = _read_frames_cv2(p, max_frames)
    if not frames:
        frames = _read_frames_ffmpeg(p, max_frames)
    if not frames:
        raise InputMediaError(f"The video {p} contains no frames. {_VIDEO_HINT}")
    return frames


def _read_frames_cv2(path: Path, max_frames: int) -> list[Image.Image]:
    cap = cv2.VideoCapture(str(path))
    frames: list[Image.Image] = []
    try:
        if not cap.isOpened():
            return frames
        while len(frames) < max_frames:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            frames.append(Image.fromarray(_cv2_to_rgb(frame), "RGB"))
    except cv2.error:
        return []
    finally:
        cap.release()
    return frames


def _cv2_to_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _read_frames_ffmpeg(path: Path, max_frames: int | None) -> list[Image.Image]:
    return [Image.fromarray(f, "RGB") for f in _ffmpeg_frames(path, max_frames)]


def _ffmpeg_frames(path: Path, max_frames: int | None) -> list[np.ndarray]:
    """Decode with imageio-ffmpeg; raises InputMediaError when ffmpeg cannot read the file."""
    try:
        gen = imageio_ffmpeg.read_frames(str(path))
    except RuntimeError as e:  # no ffmpeg binary
        raise InputMediaError(f"Cannot read the video {path}: {_short(e)}. Reinstall Pusa Studio.") from e
    frames: list[np.ndarray] = []
    try:
        meta = next(gen)
        width, height = meta["size"]
        for raw in gen:
            frames.append(np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3))
            if max_frames is not None and len(frames) >= max_frames:
                break
    except (OSError, RuntimeError, ValueError, KeyError, StopIteration) as e:
        raise InputMediaError(
            f"The video {path} cannot be read: the file is damaged or is not a video ({_short(e)}). "
            f"{_VIDEO_HINT}"
        ) from e
    finally:
        gen.close()  # stops ffmpeg when we leave early
    return frames


def video_info(path: StrPath) -> dict[str, Any]:
    """frames, fps, width, height from the container metadata (no full decode when metadata is present).

    The frame count of some containers (WebM/MKV) is an estimate from duration x fps.
    """
    p = _existing_file(path, "video")
    info = _video_info_cv2(p)
    if info is None or info["frames"] <= 0:
        fallback = _video_info_ffmpeg(p)
        if info is None:
            info = fallback
        else:
            info["frames"] = fallback["frames"]
            info["fps"] = info["fps"] or fallback["fps"]
    if info["frames"] <= 0:
        raise InputMediaError(f"The video {p} contains no frames. {_VIDEO_HINT}")
    return info


def video_frame_count(path: StrPath) -> int:
    return int(video_info(path)["frames"])


def _video_info_cv2(path: Path) -> dict[str, Any] | None:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return None
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0:
            return None
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
    except cv2.error:
        return None
    finally:
        cap.release()
    return {"frames": max(frames, 0), "fps": fps if fps > 0 else 0.0, "width": width, "height": height}


def _video_info_ffmpeg(path: Path) -> dict[str, Any]:
    try:
        gen = imageio_ffmpeg.read_frames(str(path))
        try:
            meta = next(gen)
        finally:
            gen.close()
        width, height = meta["size"]
        fps = float(meta.get("fps") or 0.0)
        duration = float(meta.get("duration") or 0.0)
        frames = round(duration * fps)
        if frames <= 0:  # no duration in the header: count by decoding (slow but exact)
            frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (OSError, RuntimeError, ValueError, KeyError, StopIteration) as e:
        raise InputMediaError(
            f"The video {path} cannot be read: the file is damaged or is not a video ({_short(e)}). "
            f"{_VIDEO_HINT}"
        ) from e
    return {"frames": int(frames), "fps": fps, "width": int(width), "height": int(height)}


def read_mp4_frames(path: StrPath) -> np.ndarray:
    """All frames of a video as uint8 [T, H, W, 3] (for tests and the player)."""
    p = _existing_file(path, "video")
    frames = _ffmpeg_frames(p, None)
    if not frames:
        raise InputMediaError(f"The video {p} contains no frames. {_VIDEO_HINT}")
    return np.stack(frames)


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


@contextmanager
def _atomic_target(path: StrPath) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success fsync it and os.replace it onto the target.

    On any failure (or cancellation) the temporary file is removed and OSErrors become OutputError.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        reason = "the folder does not exist" if not folder.exists() else "its parent is not a folder"
        raise _output_error(target, reason)
    tmp = temp_path_for(target)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
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


def write_mp4(frames: np.ndarray, path: StrPath, fps: int) -> None:
    """H.264 MP4 (libx264, CRF 18, yuv420p, BT.709 tagged, faststart), written atomically.

    yuv420p needs even sizes: an odd width or height is padded by repeating the last column/row, so the
    file is then one pixel wider/taller than the frames.
    """
    arr = _as_frames(frames)
    if fps < 1:
        raise ValueError(f"write_mp4: fps must be >= 1, got {fps}")
    target = Path(path)
    _, h, w, _ = arr.shape
    pad_h, pad_w = h % 2, w % 2
    if pad_h or pad_w:
        arr = np.pad(arr, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        h, w = h + pad_h, w + pad_w
    try:
        exe = _ffmpeg_exe()
    except RuntimeError as e:
        raise OutputError(f"Could not write {target}: ffmpeg is missing ({e}). Reinstall Pusa Studio.") from e
    with _atomic_target(target) as tmp:
        cmd = [
            exe, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(int(fps)), "-i", "pipe:0",
            "-an",
            "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
            "-c:v", "libx264", "-preset", "medium", "-crf", str(_MP4_CRF), "-pix_fmt", "yuv420p",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
            "-movflags", "+faststart",
            "-f", "mp4", str(tmp),
        ]  # fmt: skip
        _run_ffmpeg(cmd, arr, target)


def _run_ffmpeg(cmd: list[str], frames: np.ndarray, target: Path) -> None:
    """Pipe raw RGB frames into ffmpeg and check its exit code (imageio_ffmpeg.write_frames ignores it)."""
    creationflags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
    with tempfile.TemporaryFile() as errlog:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errlog, creationflags=creationflags
        )
        assert proc.stdin is not None
        try:
            try:
                for frame in frames:
                    proc.stdin.write(frame.tobytes())
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass  # ffmpeg died; its exit code and log say why
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        errlog.seek(0)
        log = errlog.read().decode("utf-8", "replace").strip()
    if code != 0:
        low = log.lower()
        if "no space left" in low or "disk quota" in low:
            reason = "the disk is full"
        elif "permission denied" in low or "read-only file system" in low:
            reason = "the folder is not writable"
        else:
            last = log.splitlines()[-1] if log else f"exit code {code}"
            reason = f"the video encoder failed ({last[-300:]})"
        raise _output_error(target, reason)


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
