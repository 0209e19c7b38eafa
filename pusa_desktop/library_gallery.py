"""The Library's gallery: a grid of result thumbnails that play while the mouse is over them."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from .core.library_index import LibraryEntry
from .images import frame_to_qimage
from .library_media import THUMB_SIZE, Decoded, FrameLoader

ICON = QSize(128, 72)
SMALL_ICON = QSize(96, 54)  # while the gallery is too short for two rows of the large thumbnails
HOVER_MS = 80  # about 12 frames a second: the thumbnail's frames are picked evenly over the video
VIDEO_ROLE = Qt.ItemDataRole.UserRole


def _blank_icon() -> QIcon:
    pixmap = QPixmap(ICON)
    pixmap.fill(QColor(40, 40, 46))
    return QIcon(pixmap)


class Gallery(QListWidget):
    """One item per result (its video path in VIDEO_ROLE). Thumbnails are decoded on a worker thread; the
    hovered item cycles through a few frames of its video. `hovered_frames` counts frames shown (tests)."""

    selection_changed = Signal()

    def __init__(self, loader: FrameLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Results in the library")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.compact = True
        self.set_compact(False)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setMouseTracking(True)
        self.viewport().installEventFilter(self)
        self._loader = loader
        self._loader.loaded.connect(self._loaded)
        self._blank = _blank_icon()
        self._icons: dict[str, QIcon] = {}  # video -> its still thumbnail
        self._hover_item: QListWidgetItem | None = None
        self._hover: Decoded | None = None
        self._hover_index = 0
        self.hovered_frames = 0
        self._timer = QTimer(self)
        self._timer.setInterval(HOVER_MS)
        self._timer.timeout.connect(self._advance)
        self.itemEntered.connect(self._start_hover)
        self.itemSelectionChanged.connect(self.selection_changed)

    # ----- size ----------------------------------------------------------------------------------------
    def large_grid(self) -> QSize:
        return QSize(ICON.width() + 12, ICON.height() + 2 * self.fontMetrics().lineSpacing() + 8)

    def set_compact(self, compact: bool) -> None:
        """Small thumbnails with a one-line caption (compact), or large ones with two lines."""
        icon = SMALL_ICON if compact else ICON
        lines = 1 if compact else 2
        spacing = 5 if compact else 8
        least = icon.width() + 12
        room = self.width() - 2 * self.frameWidth() - self.verticalScrollBar().sizeHint().width() - 4  # bar or not
        width = max(least, room // max(1, room // least))  # the columns share the width: no empty strip
        grid = QSize(width, icon.height() + lines * self.fontMetrics().lineSpacing() + spacing)
        if compact == self.compact and grid == self.gridSize():
            return
        self.compact = compact
        self.setIconSize(icon)
        self.setWordWrap(not compact)  # one line ends in "…"
        self.setGridSize(grid)
        for i in range(self.count()):
            self.item(i).setSizeHint(grid)

    def two_rows_height(self) -> int:
        """The height that shows two whole rows of the small thumbnails."""
        small = SMALL_ICON.height() + self.fontMetrics().lineSpacing() + 5
        return 2 * small + 2 * self.frameWidth() + 2

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.set_compact(self.viewport().height() < 2 * self.large_grid().height() + 4)

    # ----- contents ------------------------------------------------------------------------------------
    def show_entries(self, entries: list[LibraryEntry]) -> None:
        """Show these results (newest first), keeping the selection where it still shows."""
        selected = set(self.selected_videos())
        self._stop_hover()
        self.blockSignals(True)
        self.clear()
        for entry in entries:
            item = QListWidgetItem(self._icons.get(entry.video, self._blank), entry.title)
            item.setData(VIDEO_ROLE, entry.video)
            item.setToolTip(f"{entry.prompt}\n{entry.summary}\n{entry.project_name} · {entry.model}")
            item.setSizeHint(self.gridSize())
            self.addItem(item)
            if entry.video not in self._icons:
                self._loader.thumbnail(entry.video)
            if entry.video in selected:
                item.setSelected(True)
        self.blockSignals(False)
        self.selection_changed.emit()

    def videos(self) -> list[str]:
        return [self.item(i).data(VIDEO_ROLE) for i in range(self.count())]

    def selected_videos(self) -> list[str]:
        """The selected results, the current one first."""
        current = self.currentItem()
        chosen = [i.data(VIDEO_ROLE) for i in self.selectedItems()]
        if current is not None and current.isSelected():
            chosen.remove(current.data(VIDEO_ROLE))
            chosen.insert(0, current.data(VIDEO_ROLE))
        return chosen

    def item_of(self, video: str) -> QListWidgetItem | None:
        for i in range(self.count()):
            if self.item(i).data(VIDEO_ROLE) == video:
                return self.item(i)
        return None

    def has_thumbnail(self, video: str) -> bool:
        return video in self._icons

    # ----- decoded frames ------------------------------------------------------------------------------
    def _loaded(self, key: str, value: object) -> None:
        kind, _, video = key.partition(":")
        if kind == "thumb":
            icon = QIcon(QPixmap.fromImage(frame_to_qimage(value))) if value is not None else self._blank
            self._icons[video] = icon
            item = self.item_of(video)
            if item is not None and item is not self._hover_item:
                item.setIcon(icon)
        elif kind == "hover" and isinstance(value, Decoded):
            if self._hover_item is not None and self._hover_item.data(VIDEO_ROLE) == video:
                self._hover, self._hover_index = value, 0
                self._timer.start()
                self._advance()

    # ----- hover playback ------------------------------------------------------------------------------
    def _start_hover(self, item: QListWidgetItem) -> None:
        if item is self._hover_item:
            return
        self._stop_hover()
        self._hover_item = item
        self._loader.hover(item.data(VIDEO_ROLE))

    def _advance(self) -> None:
        item, hover = self._hover_item, self._hover
        if item is None or hover is None or not len(hover.frames):
            self._timer.stop()
            return
        frame = hover.frames[self._hover_index % len(hover.frames)]
        item.setIcon(QIcon(QPixmap.fromImage(frame_to_qimage(frame))))
        self._hover_index += 1
        self.hovered_frames += 1

    def _stop_hover(self) -> None:
        self._timer.stop()
        item, self._hover_item, self._hover = self._hover_item, None, None
        if item is not None:
            try:
                item.setIcon(self._icons.get(item.data(VIDEO_ROLE), self._blank))
            except RuntimeError:  # the item was cleared with the list
                pass

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.viewport() and event.type() == QEvent.Type.Leave:
            self._stop_hover()
        elif watched is self.viewport() and event.type() == QEvent.Type.MouseMove:
            if self.itemAt(event.position().toPoint()) is None:
                self._stop_hover()
        return super().eventFilter(watched, event)


__all__ = ["ICON", "SMALL_ICON", "THUMB_SIZE", "Gallery"]
