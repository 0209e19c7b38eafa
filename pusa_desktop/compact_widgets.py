"""Small widgets that keep the side panels short at 1280x720: a one-line label that ends in "…" (its full
text is its tooltip) and a text box that is one line high until it has the focus."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFocusEvent, QPainter, QPaintEvent, QWheelEvent
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """One line; `text()` is the whole text, the shown line ends in "…" when the label is narrower, and the
    tooltip holds the whole text then (an explicit tooltip set after the text wins)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(1)
        self.setWordWrap(False)
        self._own_tip = True  # the tooltip follows the text until one is set explicitly

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        if self._own_tip:
            super().setToolTip(text)

    def setToolTip(self, tip: str) -> None:  # noqa: N802
        self._own_tip = False
        super().setToolTip(tip)

    def is_elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.fontMetrics().horizontalAdvance(self.text()) + 2, self.fontMetrics().height() + 2)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(20, self.fontMetrics().height() + 2)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), shown)
        painter.end()


class GrowingTextEdit(QPlainTextEdit):
    """A plain-text box `lines` lines high at rest that grows to `focused_lines` while it has the focus (typing
    in it, or Tab onto it) and shrinks back after. One line does not wrap (no sliver of a second line shows)
    and lets the wheel scroll the panel. `set_lines` changes the resting height (a tall panel has room)."""

    def __init__(self, parent: QWidget | None = None, lines: int = 1, focused_lines: int = 5) -> None:
        super().__init__(parent)
        self.lines = lines
        self._focused_lines = focused_lines
        self._fit()

    def line_height(self) -> int:
        return self.fontMetrics().lineSpacing()

    def height_of(self, lines: int) -> int:
        margins = self.contentsMargins()  # the frame, and the style sheet's border and padding
        document = self.document().documentMargin()
        return round(lines * self.line_height() + 2 * document) + margins.top() + margins.bottom() + 4

    def set_lines(self, lines: int) -> None:
        if lines != self.lines:
            self.lines = lines
            self._fit()

    def _fit(self) -> None:
        lines = max(self.lines, self._focused_lines) if self.hasFocus() else self.lines
        self.setFixedHeight(self.height_of(lines))
        short = lines == 1
        off, needed = Qt.ScrollBarPolicy.ScrollBarAlwaysOff, Qt.ScrollBarPolicy.ScrollBarAsNeeded
        self.setVerticalScrollBarPolicy(off if short else needed)
        self.setHorizontalScrollBarPolicy(off)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap if short else QPlainTextEdit.LineWrapMode.WidgetWidth)
        if short:
            self.horizontalScrollBar().setValue(0)
            self.verticalScrollBar().setValue(0)

    def changeEvent(self, event) -> None:  # noqa: N802 - a new style or font changes the line height
        super().changeEvent(event)
        if event.type() in (event.Type.StyleChange, event.Type.FontChange):
            self._fit()

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusInEvent(event)
        self._fit()
        self.ensureCursorVisible()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusOutEvent(event)
        if event.reason() != Qt.FocusReason.PopupFocusReason:  # the context menu keeps it open
            self._fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if self.hasFocus() or self.lines > 1:
            super().wheelEvent(event)
        else:
            event.ignore()  # the one-line box shows its first line; the panel scrolls
