"""Is a dropped file usable? Images are decoded in full with Pillow, as the engine reads them; videos are
decoded up to the frames the timeline would take, with the engine's own reader. Qt-free.

Each check answers in one short sentence that names the file, so the window can say it as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

_checked_images: dict[tuple[str, int, int], str | None] = {}  # (path, size, mtime) -> problem


def _short(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:160]


def _file_problem(path: Path) -> str | None:
    """The problems every kind of file can have: gone, a folder, empty."""
    if not path.exists():
        return f"{path.name} does not exist (moved or deleted?)"
    if not path.is_file():
        return f"{path.name} is a folder, not a file"
    if path.stat().st_size == 0:
        return f"{path.name} is empty (0 bytes)"
    return None


def image_file_problem(path: str | os.PathLike[str]) -> str | None:
    """None when the whole image decodes; otherwise why not. Remembered per file size and time."""
    p = Path(path)
    problem = _file_problem(p)
    if problem:
        return problem
    stat = p.stat()
    key = (str(p), stat.st_size, stat.st_mtime_ns)
    if key not in _checked_images:
        _checked_images[key] = _decode_problem(p)
    return _checked_images[key]


def _decode_problem(path: Path) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
    except Image.DecompressionBombError:
        return f"{path.name} is too large to open safely: scale it below about 80 megapixels"
    except (OSError, SyntaxError, ValueError, EOFError) as error:  # UnidentifiedImageError is an OSError
        return f"{path.name} is damaged or not an image ({_short(error)})"
    return None


def video_frames_readable(path: str | os.PathLike[str], wanted: int) -> tuple[int, str | None]:
    """Decode up to `wanted` frames as the engine will: (frames read, None) or (0, why the clip is unusable).

    Fewer than `wanted` frames means the clip is that short.
    """
    p = Path(path)
    problem = _file_problem(p)
    if problem:
        return 0, problem
    from pusa_engine.errors import InputMediaError
    from pusa_engine.media import read_video_frames  # OpenCV, then ffmpeg; no torch

    try:
        frames = read_video_frames(p, max(1, wanted))
    except InputMediaError as error:
        reason = "it has no frames" if "no frames" in str(error) else "the file is damaged or not a video"
        return 0, f"{p.name} cannot be read as a video: {reason}"
    except (OSError, ValueError) as error:
        return 0, f"{p.name} cannot be read as a video ({_short(error)})"
    return len(frames), None
