"""A result's settings as a readable form (label: value rows), shared by the History and the Library."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QScrollArea, QWidget

from .core.result_settings import Row, as_text


def breakable(text: str) -> str:
    """Long paths wrap at their separators (a zero-width space after each) instead of widening the panel."""
    words = text.split(" ")
    return " ".join("".join(f"{c}\u200b" if c in "/\\_-." else c for c in w) if len(w) > 30 else w for w in words)


LINK = "color: #6ea8ff;"  # readable on the dark panels
SHORT = {"Negative prompt": 70}  # characters of a long value shown until "more" is clicked (others: LONG)
LONG = 200


def shortened(value: str, full: bool, limit: int = LONG) -> str:
    """Rich text: the value, or its first `limit` characters and a "more" link; a shown long one ends in
    "less"."""
    if len(value) <= limit + 20:
        return _html(value)
    if full:
        return f'{_html(value)} <a href="less" style="{LINK}">less</a>'
    cut = value[:limit].rsplit(" ", 1)[0] if " " in value[:limit] else value[:limit]
    return f'{_html(cut)}… <a href="more" style="{LINK}">more</a>'


def _html(text: str) -> str:
    return html.escape(breakable(text)).replace("\n", "<br>")


class SettingsForm(QScrollArea):
    """Rows of selectable, wrapping text; scrolls when the panel is short. A long value shows its start and a
    "more" link, so the short settings below it stay in view."""

    def __init__(self, parent: QWidget | None = None, name: str = "Settings of the selected result") -> None:
        super().__init__(parent)
        self.setAccessibleName(name)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._body = QWidget(self)
        self._form = QFormLayout(self._body)
        self._form.setContentsMargins(6, 4, 6, 4)
        self._form.setHorizontalSpacing(10)
        self._form.setVerticalSpacing(3)
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.setWidget(self._body)
        self._rows: list[Row] = []
        self.placeholder = "Select a result to see its settings"
        self.set_rows([])

    @property
    def rows(self) -> list[Row]:
        return list(self._rows)

    def text(self) -> str:
        return as_text(self._rows)

    def set_rows(self, rows: list[Row]) -> None:
        self._rows = list(rows)
        while self._form.rowCount():
            self._form.removeRow(0)
        if not rows:
            empty = QLabel(self.placeholder, self._body)
            empty.setObjectName("formPlaceholder")
            empty.setWordWrap(True)
            self._form.addRow(empty)
            return
        for label, value in rows:
            name = QLabel(label, self._body)
            name.setObjectName("formLabel")
            limit = SHORT.get(label, LONG)
            field = QLabel(shortened(value, False, limit), self._body)
            field.setTextFormat(Qt.TextFormat.RichText)
            field.setWordWrap(True)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.LinksAccessibleByMouse
                                          | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
            field.linkActivated.connect(
                lambda link, f=field, v=value, n=limit: f.setText(shortened(v, link == "more", n)))
            field.setToolTip(value if len(value) > 60 else "")
            field.setAccessibleName(label)
            self._form.addRow(name, field)
