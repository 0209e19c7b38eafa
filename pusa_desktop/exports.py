"""Exporting a finished video as MP4, GIF or PNG frames: the file dialog, then the work on a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from pusa_engine.errors import PusaError

from .aio import in_thread, spawn
from .core.video_io import export_gif, export_mp4, export_png_frames

EXPORTERS = {"mp4": export_mp4, "gif": export_gif, "png": export_png_frames}


class ResultExports:
    """Exports the result selected in the History (`selected_video`); says how it went through `say`."""

    def __init__(self, parent: QWidget, selected_video: Callable[[], str | None], say: Callable[[str], None]) -> None:
        self._parent = parent
        self._selected_video = selected_video
        self._say = say

    def dialog(self, kind: str) -> None:
        """Ask where to export the selected result as `kind` ("mp4", "gif" or "png"), then export it."""
        video = self._selected_video()
        if not video:
            self._say("Select a result in the History first")
            return
        stem = Path(video).stem
        if kind == "png":
            target = QFileDialog.getExistingDirectory(self._parent, "Export PNG frames to folder")
            target = str(Path(target) / stem) if target else ""
        else:
            target, _ = QFileDialog.getSaveFileName(
                self._parent, f"Export {kind.upper()}", f"{stem}.{kind}", f"{kind.upper()} (*.{kind})"
            )
        if target:
            spawn(self.export(video, kind, target))

    async def export(self, video: str, kind: str, target: str) -> Path | None:
        """Export a finished video as MP4, GIF or PNG frames on a worker thread."""
        self._say(f"Exporting {kind.upper()}…")
        try:
            await in_thread(EXPORTERS[kind], video, target)
        except (PusaError, OSError, ValueError) as error:
            self._say(f"Export failed: {error}")
            return None
        self._say(f"Exported {target}")
        return Path(target)
