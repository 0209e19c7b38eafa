"""Which files are images and which are videos: one list for the engine, the CLI and the desktop.

Pure Python (no OpenCV, no torch), so the window can use it without loading the media readers.
"""

from __future__ import annotations

import os
from pathlib import Path

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".mkv", ".avi")


def is_image_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_video_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def file_dialog_filter() -> str:
    """For an open-file dialog: "Images and videos (*.png ...);;All files (*)"."""
    patterns = " ".join(f"*{ext}" for ext in (*IMAGE_EXTENSIONS, *VIDEO_EXTENSIONS))
    return f"Images and videos ({patterns});;All files (*)"
