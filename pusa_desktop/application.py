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


# Qt Multimedia's chatter on the terminal, none of it a fault: the FFmpeg banner and a dump of every file
# played (info), "No HW decoder found" (info: software decoding, fine for these sizes), and "Couldn't load
# pipewire-0.3 / va library" (optional audio and VA-API libraries that are not installed). Its real warnings
# stay on; QT_LOGGING_RULES set by the user still wins.
QUIET_RULES = "qt.multimedia.*.info=false\nqt.multimedia.symbolsresolver.warning=false"


def quiet_qt_logging() -> None:
    """Before QtMultimedia loads (importing the window does): it says what it cannot find as it loads."""
    from PySide6.QtCore import QLoggingCategory

    QLoggingCategory.setFilterRules(QUIET_RULES)


def create_application(argv: Sequence[str]):
    from PySide6.QtWidgets import QApplication

    from . import native_memory

    quiet_qt_logging()
    native_memory.limit_arenas()
    app = QApplication.instance() or QApplication(list(argv))
    app.native_memory_timer = native_memory.start_trimming(app)
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
