"""The Library tab: every result on this machine, across projects. Search the prompts, filter by project,
model and date, see a result's full settings as a form; one click shows it in the player; restore it into
the editor; select two and compare them side by side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .aio import spawn
from .core.library_index import LibraryEntry, LibraryFilter, days_ago
from .core.result_settings import request_rows, result_rows
from .library import Library
from .library_form import SettingsForm
from .library_gallery import Gallery
from .library_media import FrameLoader

ALL_PROJECTS = "All projects"
ALL_MODELS = "All models"
USER_SIZED = "userSized"  # a property of the splitter: dragged by the user, or restored from the last session
FORM_LINES = 4  # the settings form keeps this many lines of text when the gallery takes its two rows
DATES = ("Any date", "Today", "Last 7 days", "Last 30 days", "Older than 30 days")


def entry_rows(entry: LibraryEntry) -> list[tuple[str, str]]:
    """The form of a library result: its settings, then where it is and how it was made."""
    extra = result_rows(entry.video, entry.seconds, entry.model, entry.project_name, entry.created, entry.plan)
    return request_rows(entry.request) + extra


def date_range(choice: str, now: float | None = None) -> tuple[float | None, float | None]:
    if choice == "Today":
        return days_ago(0, now), None
    if choice == "Last 7 days":
        return days_ago(6, now), None
    if choice == "Last 30 days":
        return days_ago(29, now), None
    if choice == "Older than 30 days":
        return None, days_ago(29, now)
    return None, None


def _combo(parent: QWidget, name: str, first: str) -> QComboBox:
    combo = QComboBox(parent)
    combo.setAccessibleName(name)
    combo.setToolTip(name)
    combo.addItem(first)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(6)
    combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return combo


class DefaultSizedSplitter(QSplitter):
    """Calls `default_sizes` after each resize until the user drags the divider or a saved layout is restored
    (the property USER_SIZED)."""

    default_sizes: Callable[[], None] | None = None

    def __init__(self, orientation: Qt.Orientation, parent: QWidget | None = None) -> None:
        super().__init__(orientation, parent)
        self.splitterMoved.connect(lambda _pos, _index: self.setProperty(USER_SIZED, True))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.default_sizes is not None and not self.property(USER_SIZED):
            self.default_sizes()


class LibraryPanel(QWidget):
    show_requested = Signal(str)  # video
    restore_requested = Signal(str)
    compare_requested = Signal(str, str)
    selection_changed = Signal()

    def __init__(self, library: Library, loader: FrameLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self._stale = True
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search prompts…")
        self.search.setAccessibleName("Search the prompts of every result")
        self.search.setClearButtonEnabled(True)
        self.project = _combo(self, "Filter by project", ALL_PROJECTS)
        self.model = _combo(self, "Filter by model", ALL_MODELS)
        self.date = _combo(self, "Filter by date", DATES[0])
        self.date.addItems(DATES[1:])
        self.count = QLabel("", self)
        self.count.setAccessibleName("Results shown")
        self.more = QToolButton(self)
        self.more.setText("⋯")
        self.more.setToolTip("Folders: scan the output folders again, or add a folder of results")
        self.more.setAccessibleName("Library folders")
        self.more.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
        self.more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.more)
        menu.addAction("Scan the folders again", lambda: spawn(self.library.refresh()))
        menu.addAction("Add a folder of results…", self._add_folder_dialog)
        self.more.setMenu(menu)
        self.gallery = Gallery(loader, self)
        self.form = SettingsForm(self, "Settings of the selected library result")
        self.form.placeholder = "Click a result to play it and see its settings; Ctrl+click a second to compare"
        self.form.set_rows([])
        self.restore = QPushButton("Restore", self)
        self.restore.setToolTip("Put this result's settings and keyframes back into the editor")
        self.compare = QPushButton("Compare", self)
        self.compare.setToolTip("Select two results (Ctrl+click), then compare them side by side")
        self.reveal = QPushButton("Show file", self)
        self.reveal.setToolTip("Open the folder holding this video")
        for button in (self.restore, self.compare, self.reveal):
            button.setAccessibleName(button.toolTip())
        self._layout()
        self.search.textChanged.connect(lambda _t: self.apply_filter())
        for combo in (self.project, self.model, self.date):
            combo.currentIndexChanged.connect(lambda _i: self.apply_filter())
        self.gallery.itemClicked.connect(lambda item: self._show(item.data(Qt.ItemDataRole.UserRole)))
        self.gallery.itemActivated.connect(lambda item: self._show(item.data(Qt.ItemDataRole.UserRole)))
        self.gallery.selection_changed.connect(self._selection_changed)
        self.restore.clicked.connect(lambda: self._emit_current(self.restore_requested))
        self.compare.clicked.connect(self._compare)
        self.reveal.clicked.connect(self._reveal)
        library.changed.connect(self.refresh)
        self.refresh()

    def _layout(self) -> None:
        filters = QGridLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.setHorizontalSpacing(4)
        filters.addWidget(self.search, 0, 0, 1, 2)
        filters.addWidget(self.date, 0, 2)
        filters.addWidget(self.project, 1, 0)
        filters.addWidget(self.model, 1, 1)
        filters.addWidget(self.count, 1, 2)
        for column in range(3):
            filters.setColumnStretch(column, 1)
        split = DefaultSizedSplitter(Qt.Orientation.Vertical, self)
        split.setObjectName("librarySplit")
        split.addWidget(self.gallery)
        split.addWidget(self.form)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        split.setSizes([580, 420])  # scaled to the panel's height; `_default_sizes` keeps two rows of thumbnails
        split.default_sizes = self._default_sizes
        self.split = split
        buttons = QHBoxLayout()
        for button in (self.restore, self.compare, self.reveal):
            buttons.addWidget(button)
        buttons.addWidget(self.more)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(filters)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)

    def _default_sizes(self) -> None:
        """Until the user drags the divider (or a saved layout is restored), the gallery gets 58 % of the height
        and at least two rows of small thumbnails while the form keeps FORM_LINES lines."""
        total = sum(self.split.sizes())
        if total <= 0:
            return
        line = self.form.fontMetrics().lineSpacing()
        form_least = FORM_LINES * line + 2 * self.form.frameWidth() + 8
        gallery = max(round(0.58 * total), min(self.gallery.two_rows_height(), total - form_least))
        if self.split.sizes()[0] != gallery:
            self.split.setSizes([gallery, total - gallery])

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(300, 300)

    # ----- filtering -----------------------------------------------------------------------------------
    def current_filter(self) -> LibraryFilter:
        since, until = date_range(self.date.currentText())
        project = self.project.currentText()
        model = self.model.currentText()
        return LibraryFilter(
            text=self.search.text(),
            project=None if self.project.currentIndex() <= 0 else project,
            model=None if self.model.currentIndex() <= 0 else model,
            since=since,
            until=until,
        )

    def refresh(self) -> None:
        """The choices of the filters follow the index; the gallery shows what passes them. While the tab is
        hidden this waits for it to show (a finished job must not rebuild a long gallery nobody sees)."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        for combo, first, names in (
            (self.project, ALL_PROJECTS, self.library.index.projects()),
            (self.model, ALL_MODELS, self.library.index.models()),
        ):
            chosen = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([first, *names])
            combo.setCurrentText(chosen if chosen in names else first)
            combo.blockSignals(False)
        self.apply_filter()

    def apply_filter(self) -> None:
        shown = self.library.index.search(self.current_filter())
        self.gallery.show_entries(shown)
        total = len(self.library.index.entries)
        scanning = " (scanning…)" if self.library.scanning else ""
        self.count.setText(f"{len(shown)} of {total}{scanning}")
        self.count.setToolTip(f"{len(shown)} of the {total} results on this computer pass the filters")

    # ----- selection -----------------------------------------------------------------------------------
    def selected_entries(self) -> list[LibraryEntry]:
        entries = (self.library.entry(v) for v in self.gallery.selected_videos())
        return [e for e in entries if e is not None]

    def selected_video(self) -> str | None:
        chosen = self.gallery.selected_videos()
        return chosen[0] if chosen else None

    def select(self, *videos: str) -> None:
        """Select these results in this order, as clicking the first and Ctrl+clicking the others does (the
        last one is current)."""
        self.gallery.clearSelection()
        for video in videos:
            item = self.gallery.item_of(video)
            if item is not None:
                self.gallery.setCurrentItem(item, QItemSelectionModel.SelectionFlag.Select)

    def _selection_changed(self) -> None:
        chosen = self.selected_entries()
        self.form.set_rows(entry_rows(chosen[0]) if chosen else [])
        self.restore.setEnabled(len(chosen) == 1)
        self.reveal.setEnabled(len(chosen) >= 1)
        self.compare.setEnabled(len(chosen) == 2)
        self.compare.setText("Compare" if len(chosen) != 2 else "Compare A/B")
        self.selection_changed.emit()

    def _show(self, video: str) -> None:
        if len(self.gallery.selectedItems()) <= 1:
            self.show_requested.emit(video)

    def _emit_current(self, signal) -> None:
        video = self.selected_video()
        if video:
            signal.emit(video)

    def _compare(self) -> None:
        chosen = self.gallery.selected_videos()  # the current one (the last clicked) first: it is B
        if len(chosen) == 2:
            self.compare_requested.emit(chosen[1], chosen[0])

    def _reveal(self) -> None:
        video = self.selected_video()
        if video:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(video).parent)))

    def _add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of results", str(Path.home()))
        if folder:
            self.library.add_folder(folder)
            spawn(self.library.refresh())
