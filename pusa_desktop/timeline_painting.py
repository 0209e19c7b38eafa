"""What the timeline paints under its cards, as plain functions of a QPainter and the geometry.

The numbers (where a frame, a slot or a card sits) come from `core/timeline_geometry.py`; these functions
turn them into the ruler, the latent slots (shaded by the noise level each slot was given at the current
step while a job runs), the clip's orange strips and caption, the mode's dashed guides, the empty-timeline
hint, the selected card's outline, the drop target (the slots a dragged card or dropped files would take:
blue when free, red when not, numbered in the drag's order for several files), the clip's band with its
grips (where the mouse trims and moves the clip) and the playhead. `paint_timeline` calls them in this order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen

from pusa_engine.request import latent_frames

from .core.model import TimelineVideo
from .core.modes import Guide, mode_guides
from .core.timeline_geometry import (
    CARD_HEIGHT,
    CARD_TOP,
    CLIP_BAND_HEIGHT,
    CLIP_BAND_TOP,
    CLIP_STRIP_HEIGHT,
    HANDLE_WIDTH,
    MARGIN,
    RULER_HEIGHT,
    SLOT_BAND_HEIGHT,
    TimelineGeometry,
    clip_caption,
)

if TYPE_CHECKING:
    from .timeline import TimelineWidget

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
    """The clip's slots: an orange strip under each slot band."""
    for slot in video.slots:
        rect = slot_rect(grid, slot)
        painter.fillRect(rect.left(), rect.bottom() + 1, rect.width(), CLIP_STRIP_HEIGHT, CLIP_COLOUR)


def paint_clip_band(painter: QPainter, grid: TimelineGeometry, band: tuple[int, int], caption: str,
                    hot: str | None, ok: bool = True, target: tuple[int, int] | None = None) -> None:
    """The clip's band under its cards, a grip at each end (`hot`: the end or body under the mouse or dragged,
    lit), its caption inside or, where the band is too short, beside it; red while it cannot land. While it is
    dragged, `target` (where it lands, snapped to the slots) is a dashed outline."""
    if target is not None and target != band:
        painter.setPen(QPen(QColor(120, 170, 255), 1, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRect(target[0], CLIP_BAND_TOP - 1, target[1] - target[0], CLIP_BAND_HEIGHT + 1), 3, 3)
    left, right = band
    rect = QRect(left, CLIP_BAND_TOP, max(1, right - left), CLIP_BAND_HEIGHT)
    colour = CLIP_COLOUR if ok else QColor(230, 80, 80)
    fill = QColor(colour)
    fill.setAlpha(110 if hot == "body" else 70)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(colour, 1))
    painter.setBrush(fill)
    painter.drawRoundedRect(rect.adjusted(0, 0, -1, -1), 3, 3)
    for side in ("left", "right"):
        grip = QRect(left if side == "left" else right - HANDLE_WIDTH, CLIP_BAND_TOP, HANDLE_WIDTH, CLIP_BAND_HEIGHT)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 222, 180) if hot == side else colour)
        painter.drawRoundedRect(grip.intersected(rect), 2, 2)
        painter.setPen(QColor(60, 40, 20))
        for dx in (3, 5):
            painter.drawLine(grip.left() + dx, grip.top() + 4, grip.left() + dx, grip.bottom() - 4)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    text_width = painter.fontMetrics().horizontalAdvance(caption) + 4
    inside = rect.adjusted(HANDLE_WIDTH + 4, 0, -HANDLE_WIDTH - 4, 0)
    beside = QRect(right + 6, CLIP_BAND_TOP, max(0, grid.width - right - 6), CLIP_BAND_HEIGHT)
    where, align = inside, Qt.AlignmentFlag.AlignLeft
    if text_width > inside.width() and text_width <= beside.width() - MARGIN:
        where = beside
    elif text_width > inside.width() and text_width <= left - 6:
        where, align = QRect(0, CLIP_BAND_TOP, left - 6, CLIP_BAND_HEIGHT), Qt.AlignmentFlag.AlignRight
    elif text_width > inside.width():
        where = beside if beside.width() > inside.width() else inside
        caption = painter.fontMetrics().elidedText(caption, Qt.TextElideMode.ElideRight, where.width() - MARGIN)
    painter.setPen(QColor(250, 226, 196) if ok else QColor(255, 170, 170))
    painter.drawText(where, align | Qt.AlignmentFlag.AlignVCenter, caption)


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


def paint_timeline(painter: QPainter, view: TimelineWidget) -> None:
    """Everything under the cards, in order: background, slots, the clip's strips, the mode's guides (or the
    empty hint), the ruler, the selected card's outline, the drop target, the clip's band, the playhead."""
    grid, palette, timeline = view.grid, view.palette(), view.document.timeline
    paint_background(painter, view.rect(), palette, view.font())
    paint_slots(painter, grid, view.timesteps)
    if timeline.video is not None:
        paint_clip(painter, grid, timeline.video)
    guides = mode_guides(timeline, grid.frames)
    paint_guides(painter, grid, guides)
    if not timeline.keyframes and timeline.video is None and not guides:
        paint_empty_hint(painter, grid)
    paint_ruler(painter, grid, palette.text().color())
    selected = view.selected_card()
    if selected is not None and not selected.dragging and selected.isVisible():
        paint_selection(painter, selected.geometry())
    preview = view.interaction.preview
    if preview is not None:
        paint_drop_target(painter, grid, preview.slots, preview.ok, preview.label, preview.numbered)
    band, drag = view.band.band(), view.band.drag
    if timeline.video is not None and band is not None:
        shown = drag.target if drag is not None and drag.target is not None else timeline.video
        ok = drag is None or drag.problem is None
        target = grid.clip_band(drag.target) if drag is not None and drag.target is not None else None
        paint_clip_band(painter, grid, band, clip_caption(shown), drag.part if drag else view.band.hovered, ok, target)
    if view.playhead_frame is not None:
        paint_playhead(painter, grid, view.playhead_frame, view.height())
