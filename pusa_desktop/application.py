"""The QApplication of Pusa Studio: its names, style and log file (shared by the window, the self-test and
the soak run)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from . import __version__, paths


def setup_logging() -> Path:
    log_dir = paths.data_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "pusa-studio.log"
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.FileHandler(log_file, encoding="utf-8")],
    )
    return log_file


def create_application(argv: Sequence[str]):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(list(argv))
    app.setOrganizationName(paths.ORGANIZATION)
    app.setApplicationName(paths.APPLICATION)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("pusa-studio")
    apply_style(app)
    return app


def apply_style(app) -> None:
    """The app's look: Fusion plus resources/style.qss."""
    app.setStyle("Fusion")
    style = paths.resources_dir() / "style.qss"
    if style.is_file():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
