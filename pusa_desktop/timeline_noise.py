"""The noise value on a timeline card: shown as a bar, scrubbed by dragging, typed after a double-click.

Dragging it sideways changes the value by 0.005 per pixel (0.001 with Shift), however narrow the card, so a
value is set precisely; a double-click opens a box to type one (Enter keeps it, Esc gives up); the card's
Up/Down keys step it by 0.01 (0.1 with Shift). Every change is sent as `changed`; a typed value that is not a
number from 0 to 1 is refused with one line in `refused`.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from .core.timeline_geometry import noise_text

SCRUB_PER_PIXEL = 0.005
FINE_SCRUB_PER_PIXEL = 0.001
KEY_STEP = 0.01
BIG_KEY_STEP = 0.1


def parse_noise(text: str) -> tuple[float | None, str | None]:
    """A typed noise value: (value, None), or (None, why it is refused)."""
    cleaned = text.strip().replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        return None, f"Noise must be a number from 0 to 1 (got {text.strip()!r})"
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return None, f"Noise must be a number from 0 to 1 (got {text.strip()})"
    return round(value, 3), None


def clamp_noise(value: float) -> float:
    return round(max(0.0, min(1.0, value)), 3)


class NoiseField(QWidget):
    """A bar filled to the noise value, with the value written on it."""

    changed = Signal(float)
    refused = Signal(str)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("noiseField")
        self.setFixedHeight(17)
        self.setCursor(Qt.CursorShape.SizeHorCursor)
        self.setAccessibleName("Noise")
        self.setToolTip("Noise: drag sideways to scrub (Shift: finer), double-click to type, Up/Down on the card")
        self._value = 0.0
        self._press: QPointF | None = None
        self._press_value = 0.0
        self.scrubbing = False
        self.editor: QLineEdit | None = None

    def value(self) -> float:
        return self._value

    def text(self) -> str:
        """What the field shows: 'noise 0.20', or '0.20' on a narrow card."""
        return f"noise {noise_text(self._value)}" if self.width() >= 70 else noise_text(self._value)

    def set_value(self, value: float) -> None:
        """Show a value (from the document); sends nothing."""
        if value != self._value:
            self._value = value
            self.update()

    def _send(self, value: float) -> None:
        value = clamp_noise(value)
        if value != self._value:
            self._value = value
            self.update()
            self.changed.emit(value)

    def step(self, steps: float, big: bool = False) -> None:
        self._send(self._value + steps * (BIG_KEY_STEP if big else KEY_STEP))

    # ----- scrubbing ---------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._press, self._press_value, self.scrubbing = event.position(), self._value, False
            parent = self.parentWidget()
            if parent is not None:
                parent.setFocus(Qt.FocusReason.MouseFocusReason)  # the card is selected
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._press is None:
            return
        dx = event.position().x() - self._press.x()
        if not self.scrubbing and abs(dx) < 3:
            return
        self.scrubbing = True
        fine = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self._send(self._press_value + dx * (FINE_SCRUB_PER_PIXEL if fine else SCRUB_PER_PIXEL))
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._press, self.scrubbing = None, False
        event.accept()

    # ----- typing ------------------------------------------------------------------------------------------
    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if not self.thin:
            self.start_typing()
        event.accept()

    @property
    def thin(self) -> bool:
        """On a compact card the field is a thin bar, without its value written (typed in the bar above)."""
        return self.height() < 12

    def start_typing(self) -> QLineEdit:
        """Open the box to type a value in, over the field, with the value selected."""
        if self.editor is None:
            self.editor = _ValueEditor(self)
            self.editor.returnPressed.connect(self._typed)
            self.editor.cancelled.connect(self._close_editor)
        self.editor.setGeometry(self.rect())
        self.editor.setText(noise_text(self._value))
        self.editor.selectAll()
        self.editor.show()
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)
        return self.editor

    def _typed(self) -> None:
        if self.editor is None:
            return
        value, problem = parse_noise(self.editor.text())
        self._close_editor()
        if problem:
            self.refused.emit(problem)
        elif value is not None:
            self._send(value)

    def _close_editor(self) -> None:
        if self.editor is not None and self.editor.isVisible():
            self.editor.hide()
            parent = self.parentWidget()
            if parent is not None:
                parent.setFocus(Qt.FocusReason.OtherFocusReason)

    # ----- painting ----------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QColor(90, 98, 118))
        painter.setBrush(QColor(24, 27, 33))
        painter.drawRoundedRect(rect, 3, 3)
        fill = QRectF(rect.left(), rect.top(), rect.width() * self._value, rect.height())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(59, 130, 246, 150))
        painter.drawRoundedRect(fill, 3, 3)
        if self.thin:
            painter.end()
            return
        painter.setPen(QColor(232, 234, 240))
        font = painter.font()
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.85))
        painter.setFont(font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.text())
        painter.end()


class _ValueEditor(QLineEdit):
    """The box a value is typed in: Enter (or clicking elsewhere) keeps it, Esc gives up."""

    cancelled = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            event.accept()
            return
        super().keyPressEvent(event)
        event.accept()  # Enter, arrows and the rest end here: the card would take Enter to open the box again

    def focusOutEvent(self, event) -> None:  # noqa: N802
        super().focusOutEvent(event)
        if self.isVisible():
            self.returnPressed.emit()  # clicking elsewhere keeps what was typed, as in a spin box
