"""Driving the timeline as a user does: real mouse events for drags (positions from the screen, so a card that
moves under the mouse is handled as on a desktop), wheel events, and file drags with their URL order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

LEFT, NO_BUTTON = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton


def _mouse(widget: QWidget, kind: QEvent.Type, at_global: QPoint, button, buttons, modifiers) -> None:
    local = QPointF(widget.mapFromGlobal(at_global))
    QApplication.sendEvent(widget, QMouseEvent(kind, local, QPointF(at_global), button, buttons, modifiers))


def drag_card(card: QWidget, timeline: QWidget, to_x: float, shift: bool = False, steps: int = 4,
              during: Callable[[float], None] | None = None, release: bool = True) -> None:
    """Press on the card's middle, move the mouse to the timeline's `to_x` in `steps` (calling `during(x)`
    after each move with the cursor's timeline x), and release there."""
    modifiers = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    start = card.mapToParent(QPoint(card.width() // 2, 30))
    _mouse(card, QEvent.Type.MouseButtonPress, timeline.mapToGlobal(start), LEFT, LEFT, modifiers)
    for i in range(1, steps + 1):
        x = start.x() + (to_x - start.x()) * i / steps
        _mouse(card, QEvent.Type.MouseMove, timeline.mapToGlobal(QPoint(round(x), start.y())), NO_BUTTON, LEFT,
               modifiers)
        if during is not None:
            during(x)
    if release:
        release_card(card, timeline, to_x, shift)


def release_card(card: QWidget, timeline: QWidget, at_x: float, shift: bool = False) -> None:
    modifiers = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    end = timeline.mapToGlobal(QPoint(round(at_x), card.y() + 30))
    _mouse(card, QEvent.Type.MouseButtonRelease, end, LEFT, NO_BUTTON, modifiers)


def wheel(widget: QWidget, at: QPoint, notches: float, ctrl: bool = False) -> None:
    modifiers = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    event = QWheelEvent(QPointF(at), QPointF(widget.mapToGlobal(at)), QPoint(), QPoint(0, round(120 * notches)),
                        NO_BUTTON, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def drag_files_over(widget: QWidget, files: list[Path], pos: QPoint) -> None:
    """A file manager's drag entering and moving over the widget, without the drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    copy, no_mods = Qt.DropAction.CopyAction, Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(widget, QDragEnterEvent(pos, copy, mime, LEFT, no_mods))
    QApplication.sendEvent(widget, QDragMoveEvent(pos, copy, mime, LEFT, no_mods))


def scrub(widget: QWidget, dx: int, shift: bool = False) -> None:
    """Press in the middle of the widget and drag sideways by `dx` pixels."""
    modifiers = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    start = widget.mapToGlobal(QPoint(widget.width() // 2, widget.height() // 2))
    _mouse(widget, QEvent.Type.MouseButtonPress, start, LEFT, LEFT, modifiers)
    for i in range(1, 5):
        _mouse(widget, QEvent.Type.MouseMove, start + QPoint(round(dx * i / 4), 0), NO_BUTTON, LEFT, modifiers)
    _mouse(widget, QEvent.Type.MouseButtonRelease, start + QPoint(dx, 0), LEFT, NO_BUTTON, modifiers)


def band_y() -> int:
    """The height of the clip's band (under its cards) on the timeline."""
    from pusa_desktop.core.timeline_geometry import CLIP_BAND_HEIGHT, CLIP_BAND_TOP

    return CLIP_BAND_TOP + CLIP_BAND_HEIGHT // 2


def drag_band(timeline: QWidget, from_x: float, to_x: float, steps: int = 4,
              during: Callable[[float], None] | None = None, release: bool = True) -> None:
    """Hover the clip's band at `from_x`, press there, move to `to_x` in `steps` (calling `during(x)` after each
    move) and release, with QTest's real mouse events on the timeline widget."""
    from PySide6.QtTest import QTest

    y = band_y()
    QTest.mouseMove(timeline, QPoint(round(from_x), y))
    QTest.mousePress(timeline, LEFT, Qt.KeyboardModifier.NoModifier, QPoint(round(from_x), y))
    for i in range(1, steps + 1):
        x = from_x + (to_x - from_x) * i / steps
        QTest.mouseMove(timeline, QPoint(round(x), y))
        if during is not None:
            during(x)
    if release:
        QTest.mouseRelease(timeline, LEFT, Qt.KeyboardModifier.NoModifier, QPoint(round(to_x), y))
