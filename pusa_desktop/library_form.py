"""A result's settings as a readable form (label: value rows), shared by the History and the Library."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QScrollArea, QWidget

from .core.result_settings import Row, as_text


def breakable(text: str) -> str:
    """Long paths wrap at their separators (a zero-width space after each) instead of widening the panel."""
    words = text.split(" ")
    return " ".join("".join(f"{c}\u200b" if c in "/\\_-." else c for c in w) if len(w) > 30 else w for w in words)


class SettingsForm(QScrollArea):
    """Rows of selectable, wrapping text; scrolls when the panel is short."""

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
            field = QLabel(breakable(value), self._body)
            field.setWordWrap(True)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            field.setToolTip(value if len(value) > 60 else "")
            field.setAccessibleName(label)
            self._form.addRow(name, field)
