"""Reading conditioning images/videos and writing results (MP4, GIF, PNG frames, JSON).

No torch here on purpose: the desktop uses this module for previews and export without loading the engine.
Every writer is atomic: it writes a temporary file next to the target and renames it with os.replace, so a
crash or a full disk never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import cv2
import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputMediaError
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


# Writing lives in media_writers.py; its functions are part of this module's interface.
from .media_writers import _short, write_gif, write_json_atomic, write_mp4, write_png_frames  # noqa: E402, F401
