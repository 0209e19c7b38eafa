"""Exporting a finished video: the export dialog (H.264 / H.265 MP4, WebM VP9, ProRes, PNG frames, GIF with
quality, frame rate and size), then the work on a worker thread with its progress and a Cancel button in
the status bar. The dialog starts in the folder of the last export, else the output folder."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QProgressBar, QPushButton, QWidget

from pusa_engine.errors import PusaError

from .aio import in_thread
from .core.export_formats import ExportError, ExportOptions, export_video, probe
from .core.video_io import export_gif, export_mp4, export_png_frames
from .export_dialog import ExportDialog

EXPORTERS = {"mp4": export_mp4, "gif": export_gif, "png": export_png_frames}


class ExportProgress(QWidget):
    """The status bar's export row: what is exported, how far, and Cancel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("", self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 100)
        self.bar.setFixedWidth(160)
        self.bar.setAccessibleName("Export progress")
        self.cancel = QPushButton("Cancel export", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        self.setVisible(False)


class ResultExports(QObject):
    """Exports the selected result (`selected_video`); says how it went through `say`. `finished(target,
    problem)` when an export started from the dialog ends ("" for no problem)."""

    progressed = Signal(float)
    finished = Signal(str, str)

    def __init__(self, parent: QWidget, selected_video: Callable[[], str | None], say: Callable[[str], None]) -> None:
        super().__init__(parent)
        self._parent = parent
        self._selected_video = selected_video
        self._say = say
        self._settings = getattr(parent, "app_settings", None)
        self.progress = ExportProgress(parent)
        if isinstance(parent, QMainWindow):
            parent.statusBar().addPermanentWidget(self.progress)
        self.progress.cancel.clicked.connect(self.cancel)
        self.progressed.connect(self._show_progress)  # methods: called on the GUI thread, whoever emits
        self.finished.connect(self._finished)
        self._cancel: threading.Event | None = None
        self.dialog_box: ExportDialog | None = None

    @property
    def running(self) -> bool:
        return self._cancel is not None

    def start_folder(self) -> Path:
        """Where the dialog starts: the folder of the last export, else the output folder."""
        if self._settings is None:
            return Path.home()
        last = self._settings.last_export_dir
        return Path(last) if last and Path(last).is_dir() else Path(self._settings.output_dir)

    def dialog(self, kind: str) -> ExportDialog | None:
        """The export dialog for the selected result, `kind` ("mp4", "gif" or "png") chosen first."""
        video = self._selected_video()
        if not video:
            self._say("Select a result in the History or the Library first")
            return None
        try:
            source = probe(video)
        except ExportError as error:
            self._say(f"Cannot export: {error}")
            return None
        box = ExportDialog(video, source, self.start_folder(), kind, self._parent)
        box.accepted.connect(lambda: self.start(video, box.target_path(), box.options()))
        box.open()
        self.dialog_box = box
        return box

    def start(self, video: str, target: str | Path, options: ExportOptions) -> bool:
        """Export on a worker thread; progress and Cancel show in the status bar."""
        if self.running:
            self._say("An export is running: wait for it or cancel it")
            return False
        target = Path(target)
        if self._settings is not None:
            self._settings.last_export_dir = str(target.parent)
        cancel = threading.Event()
        self._cancel = cancel
        self.progress.label.setText(f"Exporting {target.name}")
        self.progress.bar.setValue(0)
        self.progress.setVisible(True)

        def work() -> None:
            try:
                export_video(video, target, options, self.progressed.emit, cancel)
                problem = ""
            except ExportError as error:
                problem = str(error)
            except Exception as error:  # noqa: BLE001 - said in the window, never a traceback
                problem = f"{type(error).__name__}: {error}"
            try:
                self.finished.emit(str(target), problem)
            except RuntimeError:  # the window closed meanwhile
                pass

        threading.Thread(target=work, name="export", daemon=True).start()
        return True

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _show_progress(self, fraction: float) -> None:
        self.progress.bar.setValue(round(100 * fraction))

    def _finished(self, target: str, problem: str) -> None:
        self._cancel = None
        self.progress.setVisible(False)
        self._say(f"Export failed: {problem}" if problem else f"Exported {target}")

    async def export(self, video: str, kind: str, target: str) -> Path | None:
        """Export a finished video as it is (MP4: a copy), as a GIF or as PNG frames on a worker thread."""
        self._say(f"Exporting {kind.upper()}…")
        try:
            await in_thread(EXPORTERS[kind], video, target)
        except (PusaError, OSError, ValueError) as error:
            self._say(f"Export failed: {error}")
            return None
        self._say(f"Exported {target}")
        return Path(target)
