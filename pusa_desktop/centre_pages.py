"""The window's centre: the player, or in its place the welcome page (first start) or an A/B comparison.

The welcome page gives way to the player as soon as anything plays or runs; a comparison stays until the
user closes it or asks for a video in the player (a click in the History or the Library), so a job that
starts or ends meanwhile never takes it away.
"""

from __future__ import annotations

from PySide6.QtWidgets import QStackedWidget, QWidget


class CentrePages(QStackedWidget):
    def __init__(self, player: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("centrePages")
        self.player = player
        self.welcome: QWidget | None = None
        self.compare: QWidget | None = None
        self.addWidget(player)

    def add_page(self, name: str, page: QWidget) -> None:
        """`name`: "welcome" or "compare"."""
        setattr(self, name, page)
        self.addWidget(page)

    @property
    def showing(self) -> str:
        current = self.currentWidget()
        if current is self.welcome:
            return "welcome"
        return "compare" if current is self.compare else "player"

    def show_player(self, asked_by_user: bool = True) -> None:
        """Back to the player: always from the welcome page, from a comparison only when the user asked."""
        if self.showing == "welcome" or asked_by_user:
            self.setCurrentWidget(self.player)

    def show_page(self, name: str) -> None:
        page = getattr(self, name)
        if page is not None:
            self.setCurrentWidget(page)
