"""Image helpers on the GUI thread: numpy frames to QImages, thumbnails of files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QImageReader, QPixmap

from pusa_engine.media_types import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS and Path(path).is_file()


def is_video_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS and Path(path).is_file()


def frame_to_qimage(frame: np.ndarray) -> QImage:
    """An RGB uint8 [H, W, 3] frame as a QImage that owns its pixels."""
    frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    height, width = frame.shape[:2]
    return QImage(frame.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def thumbnail_of_file(path: str | Path, size: int = 96) -> QPixmap:
    """A thumbnail read at reduced size (fast for big photos); an empty pixmap when unreadable."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    original = reader.size()
    if original.isValid():
        reader.setScaledSize(original.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return QPixmap.fromImage(image) if not image.isNull() else QPixmap()


def save_thumbnail(frame: np.ndarray, path: str | Path, size: int = 160) -> str:
    image = frame_to_qimage(frame).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    image.save(str(path))
    return str(path)
