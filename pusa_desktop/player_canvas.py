"""The player's canvas: one frame scaled to fit, a caption line, and a placeholder while there is none.

It paints the frames itself (no QVideoWidget), so the pane can be grabbed in tests and screenshots.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


class FrameCanvas(QWidget):
    """Paints one frame scaled to fit, with a caption line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("frameCanvas")
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.image: QImage | None = None
        self.caption = ""
        self.placeholder = "Drop keyframes on the timeline, write a prompt, and press Generate (Ctrl+Enter)"

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(18, 18, 20))
        if self.image is None or self.image.isNull():
            painter.setPen(QColor(160, 160, 170))
            painter.drawText(
                self.rect().adjusted(20, 20, -20, -20),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.placeholder,
            )
        else:
            area = self.rect().adjusted(4, 4, -4, -22)
            size = self.image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(area.center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self.image)
        if self.caption:
            painter.setPen(QColor(220, 220, 225))
            painter.drawText(
                self.rect().adjusted(8, 0, -8, -4),
                Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft,
                self.caption,
            )
        painter.end()
