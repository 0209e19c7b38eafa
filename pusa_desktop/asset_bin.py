"""The asset bin: images and videos of this session, dragged from here onto the timeline."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from .clip_frames import ClipFrameCache
from .core.media_checks import image_file_problem, video_frames_readable
from .images import is_image_file, is_video_file, thumbnail_of_file


class AssetBin(QListWidget):
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None, clips: ClipFrameCache | None = None) -> None:
        super().__init__(parent)
        self.clips = clips or ClipFrameCache(self)  # a video's icon is its first frame, read off the GUI thread
        self.clips.ready.connect(self._clip_read)
        self.setObjectName("assetBin")
        self.setAccessibleName("Asset bin")
        self.setToolTip("Images and videos to use: drag them onto the timeline. Drop files here to add them.")
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(64, 64))
        self.setGridSize(QSize(84, 96))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setWordWrap(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)  # drops land on the viewport; the scroll area ignores them
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)

    def paths(self) -> list[str]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def add_files(self, files: list[str]) -> int:
        """Add images and videos that decode (a video's first frame); says in one message what was refused."""
        added = 0
        refused: list[str] = []
        for path in files:
            if path in self.paths():
                continue
            if not (is_image_file(path) or is_video_file(path)):
                refused.append(f"{Path(path).name} is not an image or a video")
                continue
            problem = image_file_problem(path) if is_image_file(path) else video_frames_readable(path, 1)[1]
            if problem:
                refused.append(problem)
                continue
            item = QListWidgetItem(Path(path).name)
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            if is_image_file(path):
                item.setIcon(QIcon(thumbnail_of_file(path, 64)))
            self.addItem(item)
            if is_video_file(path) and self.clips.get(path) is not None:  # else the icon comes with `ready`
                self._clip_read(path)
            added += 1
        if refused:
            self.message.emit("Not added: " + "; ".join(refused) + ".")
        return added

    def _clip_read(self, path: str) -> None:
        clip = self.clips.get(path)
        first = clip.thumbnail(0) if clip is not None else None
        for i in range(self.count()):
            if self.item(i).data(Qt.ItemDataRole.UserRole) == path and first is not None:
                self.item(i).setIcon(QIcon(QPixmap.fromImage(first)))

    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:  # noqa: N802 - Qt's name
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(item.data(Qt.ItemDataRole.UserRole)) for item in items])
        return mime

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return ["text/uri-list"]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.source() is not self and event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.source() is not self and event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        if event.source() is self:
            event.ignore()
            return
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if self.add_files(files):
            event.acceptProposedAction()
