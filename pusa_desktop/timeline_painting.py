"""What the timeline paints under its cards, as plain functions of a QPainter and the geometry.

The numbers (where a frame, a slot or a card sits) come from `core/timeline_geometry.py`; these functions
turn them into the ruler, the latent slots (shaded by the noise level each slot was given at the current
step while a job runs), the clip's orange strips and caption, the mode's dashed guides, the empty-timeline
hint, the selected card's outline, the drop target (the slots a dragged card or dropped files would take:
blue when free, red when not, numbered in the drag's order for several files) and the playhead.
`TimelineWidget.paintEvent` calls them in this order.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen

from pusa_engine.request import latent_frames

from .core.model import TimelineVideo
from .core.modes import Guide
from .core.timeline_geometry import (
    CARD_HEIGHT,
    CARD_TOP,
    CLIP_CAPTION_HEIGHT,
    CLIP_CAPTION_TOP,
    CLIP_STRIP_HEIGHT,
    MARGIN,
    RULER_HEIGHT,
    SLOT_BAND_HEIGHT,
    TimelineGeometry,
    clip_caption,
)

CLIP_COLOUR = QColor(222, 150, 70)
SLOT_SHADES = ("#2f3542", "#3d4558")  # alternate latent slots; during a run the noise level colours them
EMPTY_HINT = "Drop images here to pin frames (keyframes), or a video to extend it. Empty timeline = text-to-video."


def slot_rect(grid: TimelineGeometry, slot: int) -> QRect:
    """A latent slot's band under the ruler."""
    left, width = grid.slot_span(slot)
    return QRect(left, RULER_HEIGHT, width, SLOT_BAND_HEIGHT)


def paint_background(painter: QPainter, rect: QRect, palette: QPalette, font: QFont) -> None:
    """The widget's base colour, and the small font every label of the timeline uses."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.fillRect(rect, palette.base())
    small = QFont(font)
    small.setPointSizeF(max(6.5, small.pointSizeF() * 0.8))
    painter.setFont(small)


def paint_slots(painter: QPainter, grid: TimelineGeometry, timesteps: list[float]) -> None:
    """The numbered latent slots; while a job runs each is shaded by its timestep (light = noisy, dark = clean)."""
    for slot in range(latent_frames(grid.frames)):
        rect = slot_rect(grid, slot)
        shade = QColor(SLOT_SHADES[slot % 2])
        if slot < len(timesteps):
            level = max(0.0, min(1.0, timesteps[slot] / 1000.0))
            shade = QColor.fromHsvF(0.58, 0.55, 0.35 + 0.5 * level)
        painter.fillRect(rect, shade)
        if rect.width() >= 14:
            painter.setPen(QColor(232, 234, 240) if slot < len(timesteps) else QColor(174, 179, 192))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(slot))


def paint_clip(painter: QPainter, grid: TimelineGeometry, video: TimelineVideo) -> None:
    """The clip's slots: an orange strip under each slot band, its name under the cards."""
    for slot in video.slots:
        rect = slot_rect(grid, slot)
        painter.fillRect(rect.left(), rect.bottom() + 1, rect.width(), CLIP_STRIP_HEIGHT, CLIP_COLOUR)
    painter.setPen(CLIP_COLOUR)
    left = grid.slot_card_x(min(video.slots))
    painter.drawText(
        QRect(left, CLIP_CAPTION_TOP, grid.width - left - MARGIN, CLIP_CAPTION_HEIGHT),
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
        clip_caption(video),
    )


def paint_empty_hint(painter: QPainter, grid: TimelineGeometry) -> None:
    """What to do with an empty timeline, where the cards would be."""
    painter.setPen(QColor(150, 156, 170))
    painter.drawText(QRect(0, CARD_TOP, grid.width, CARD_HEIGHT - 20), Qt.AlignmentFlag.AlignCenter, EMPTY_HINT)


def paint_ruler(painter: QPainter, grid: TimelineGeometry, colour: QColor) -> None:
    """A tick per pixel frame, longer and numbered every `ruler_step` frames and on the last frame."""
    painter.setPen(QPen(colour))
    frames = grid.frames
    step = grid.ruler_step()
    for frame in range(frames):
        x = round(grid.x_of_frame(frame))
        major = frame % step == 0 or frame == frames - 1
        painter.drawLine(x, RULER_HEIGHT - (8 if major else 4), x, RULER_HEIGHT)
        if major and (frame == frames - 1 or frames - 1 - frame >= step * 0.6):
            painter.drawText(QRect(x - 20, 0, 40, RULER_HEIGHT - 8), Qt.AlignmentFlag.AlignCenter, str(frame))


def paint_guides(painter: QPainter, grid: TimelineGeometry, guides: list[Guide]) -> None:
    """The mode's empty slots, dashed, with what goes there ("Start image", "End", "Drop a video")."""
    for guide in guides:
        left = slot_rect(grid, guide.first).left()
        right = slot_rect(grid, guide.last).right()
        width = max(right - left, grid.card_width())
        left = max(0, min(grid.width - width - 1, left + (right - left - width) // 2))
        rect = QRect(left, CARD_TOP, width, CARD_HEIGHT)
        painter.setPen(QPen(QColor(120, 170, 255), 1, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 5, 5)
        painter.setPen(QColor(150, 190, 255))
        painter.drawText(rect.adjusted(3, 0, -3, 0), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                         guide.label)


def paint_selection(painter: QPainter, rect: QRect) -> None:
    """An outline around the selected card (the one the bar above the timeline edits)."""
    painter.setPen(QPen(QColor(59, 130, 246), 2))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect.adjusted(-3, -3, 2, 2), 6, 6)


def paint_drop_target(painter: QPainter, grid: TimelineGeometry, slots: tuple[int, ...], ok: bool, label: str,
                      numbered: bool) -> None:
    """The slots a drop or a dragged card would take, down through the cards: blue when they are free, red
    when not; numbered 1, 2, 3 in the drag's order for several files; a word on what lands there."""
    colour = QColor(80, 160, 255, 80) if ok else QColor(240, 80, 80, 90)
    for index, slot in enumerate(slots):
        rect = slot_rect(grid, slot)
        painter.fillRect(rect.adjusted(0, 0, 0, CARD_HEIGHT + 6), colour)
        if numbered:
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"#{index + 1}")
    if slots and label:  # on a tag over the ruler, above the first target slot
        first = slot_rect(grid, slots[0])
        width = painter.fontMetrics().horizontalAdvance(label) + 12
        left = max(0, min(grid.width - width, first.left() + (first.width() - width) // 2))
        tag = QRect(left, 1, width, RULER_HEIGHT - 3)
        painter.setPen(QPen(QColor(59, 130, 246) if ok else QColor(220, 70, 70), 1))
        painter.setBrush(QColor(24, 27, 33))
        painter.drawRoundedRect(tag, 4, 4)
        painter.setPen(QColor(255, 255, 255) if ok else QColor(255, 150, 150))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)


def paint_playhead(painter: QPainter, grid: TimelineGeometry, frame: int, height: int) -> None:
    """A red line through the frame the player shows (nothing when it is off the timeline)."""
    if 0 <= frame < grid.frames:
        x = round(grid.x_of_frame(frame))
        painter.setPen(QPen(QColor(230, 60, 60), 2))
        painter.drawLine(x, 0, x, height)
