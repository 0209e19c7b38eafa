"""The queue (reorder, edit, remove, retry) and the history (thumbnails, settings, restore, open)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from . import paths
from .core.model import Job, JobState
from .core.result_settings import Row, as_text, request_rows, result_rows
from .document import ProjectDocument
from .library_form import SettingsForm

STATE_MARKS = {
    JobState.QUEUED: "waiting",
    JobState.RUNNING: "running",
    JobState.FAILED: "FAILED",
    JobState.CANCELLED: "cancelled",
    JobState.DONE: "done",
}


def _own_thumbnail(path: str | None) -> bool:
    """Only thumbnails this app wrote are shown: a project file could name any picture on the disk."""
    if not path:
        return False
    file = Path(path)
    return file.parent.resolve() == paths.thumbnails_dir().resolve() and file.is_file()


def _button(parent: QWidget, text: str, tip: str) -> QPushButton:
    button = QPushButton(text, parent)
    button.setToolTip(tip)
    button.setAccessibleName(tip)
    return button


class _JobList(QWidget):
    """A panel listing jobs in `self.list`, each item carrying its job id."""

    list: QListWidget

    def job_ids(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def selected_job(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None


class QueuePanel(_JobList):
    """Jobs waiting or running. Reorder with the buttons (or Ctrl+Up/Down); failed jobs can be retried."""

    retry_requested = Signal(str)
    remove_requested = Signal(str)
    run_requested = Signal()
    edit_requested = Signal(str)

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self.list = QListWidget(self)
        self.list.setAccessibleName("Job queue")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setWordWrap(True)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.viewport().setAcceptDrops(True)
        self.list.setToolTip("Drag jobs to change the order they run in")
        self.list.model().rowsMoved.connect(lambda *_: QTimer.singleShot(0, self._apply_dragged_order))
        self.up = _button(self, "Up", "Run the selected job earlier (Ctrl+Up)")
        self.down = _button(self, "Down", "Run the selected job later (Ctrl+Down)")
        self.edit = _button(self, "Edit", "Take the selected job back into the editor")
        self.retry = _button(self, "Retry", "Queue the failed or cancelled job again")
        self.remove = _button(self, "Remove", "Remove the selected job (cancels it if it runs)")
        self.run = _button(self, "Run queue", "Start the next waiting job when the engine is free")
        self.run.clicked.connect(self.run_requested)
        self.up.setShortcut("Ctrl+Up")
        self.down.setShortcut("Ctrl+Down")
        self.up.clicked.connect(lambda: self._move(-1))
        self.down.clicked.connect(lambda: self._move(+1))
        self.edit.clicked.connect(lambda: self._emit_selected(self.edit_requested))
        self.retry.clicked.connect(lambda: self._emit_selected(self.retry_requested))
        self.remove.clicked.connect(lambda: self._emit_selected(self.remove_requested))
        buttons = QHBoxLayout()
        for b in (self.up, self.down, self.edit, self.retry, self.remove):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.run)
        document.queue_changed.connect(self.refresh)
        document.project_replaced.connect(self.refresh)
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        self.refresh()

    def select(self, job_id: str) -> None:
        ids = self.job_ids()
        if job_id in ids:
            self.list.setCurrentRow(ids.index(job_id))

    def refresh(self) -> None:
        selected = self.selected_job()
        self.list.clear()
        for job in self._document.project.queue:
            on = f" on {job.worker}" if job.worker and job.state is JobState.RUNNING else ""  # a cluster worker
            item = QListWidgetItem(f"[{STATE_MARKS[job.state]}{on}] {job.title}\n{job.summary}")
            item.setData(Qt.ItemDataRole.UserRole, job.id)
            tip = job.summary + ("\n\n" + "\n".join(job.problems) if job.problems else "")
            item.setToolTip(tip)
            self.list.addItem(item)
        if selected:
            self.select(selected)
        self._update_buttons()

    def _update_buttons(self) -> None:
        job_id = self.selected_job()
        job = self._document.project.job(job_id) if job_id else None
        for b in (self.up, self.down, self.remove):
            b.setEnabled(job is not None)
        self.edit.setEnabled(job is not None and job.state is not JobState.RUNNING)
        self.retry.setEnabled(job is not None and job.state in (JobState.FAILED, JobState.CANCELLED))

    def _apply_dragged_order(self) -> None:
        selected = self.selected_job()
        self._document.reorder_queue(self.job_ids())
        if selected:
            self.select(selected)

    def _move(self, delta: int) -> None:
        job_id = self.selected_job()
        if job_id is None:
            return
        index = self.job_ids().index(job_id)
        self._document.move_job(job_id, index + delta)
        self.select(job_id)

    def _emit_selected(self, signal) -> None:
        job_id = self.selected_job()
        if job_id:
            signal.emit(job_id)


def job_rows(job: Job) -> list[Row]:
    """A history entry's settings as a readable form, then its file and timing."""
    seconds = job.result.seconds if job.result is not None else None
    return request_rows(job.request.to_dict()) + result_rows(job.video_path, seconds)


class HistoryPanel(_JobList):
    """Every result with a thumbnail and its full settings as a form. Clicking an entry plays it; restore,
    export, open its folder, remove."""

    restore_requested = Signal(str)
    play_requested = Signal(str)

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._refreshing = False
        self.list = QListWidget(self)
        self.list.setAccessibleName("History of results")
        self.list.setIconSize(QSize(72, 72))
        self.list.setWordWrap(True)
        self.list.itemClicked.connect(lambda item: self.play_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.list.itemActivated.connect(lambda item: self.play_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.restore = _button(self, "Restore", "Put this result's settings back into the editor")
        self.play = _button(self, "Play", "Play this result")
        self.reveal = _button(self, "Show file", "Open the folder holding this video")
        self.remove = _button(self, "Remove", "Remove from the history (the video file stays)")
        self.export = _button(self, "Export", "Export this result as MP4, WebM, ProRes, GIF or PNG frames")
        self.restore.clicked.connect(lambda: self._emit_selected(self.restore_requested))
        self.play.clicked.connect(lambda: self._emit_selected(self.play_requested))
        self.reveal.clicked.connect(self._reveal)
        self.remove.clicked.connect(self._remove)
        buttons = QGridLayout()  # two rows: every label whole in a 330-pixel panel
        buttons.setHorizontalSpacing(4)
        buttons.setVerticalSpacing(4)
        for i, b in enumerate((self.restore, self.play, self.export, self.reveal, self.remove)):
            buttons.addWidget(b, i // 3, i % 3)
        self.details = SettingsForm(self)
        self.details.placeholder = "Click a result to play it and see its settings"
        self.details.set_rows([])
        self.list.currentRowChanged.connect(lambda _row: self._current_changed())
        self.split = QSplitter(Qt.Orientation.Vertical, self)
        self.split.setObjectName("historySplit")
        self.split.addWidget(self.list)
        self.split.addWidget(self.details)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self.split.setChildrenCollapsible(False)
        self.split.setSizes([560, 440])  # scaled to the panel's height
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.split, 1)
        layout.addLayout(buttons)
        self._made: dict[str, tuple[QIcon, str]] = {}  # job id -> icon and settings text
        document.history_changed.connect(self.refresh)
        document.project_replaced.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the list; each entry's icon and settings text are made once (a finished job must not
        decode every thumbnail of the history again on the GUI thread)."""
        self._refreshing = True
        self.list.clear()
        history = self._document.project.history
        self._made = {job.id: self._made[job.id] for job in history if job.id in self._made}
        for job in history:
            if job.id not in self._made:
                icon = QIcon(QPixmap(job.thumbnail)) if _own_thumbnail(job.thumbnail) else QIcon()
                self._made[job.id] = (icon, self.settings_text(job))
            icon, tip = self._made[job.id]
            timing = f", {job.result.seconds:.1f} s" if job.result is not None else ""
            item = QListWidgetItem(icon, f"{job.title}\n{job.summary}{timing}")
            item.setData(Qt.ItemDataRole.UserRole, job.id)
            item.setToolTip(tip)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        self._refreshing = False
        self._show_details()

    def _current_changed(self) -> None:
        """The user moved to another entry (arrow keys): show its settings and play it."""
        if self._refreshing:
            return
        self._show_details()
        job_id = self.selected_job()
        if job_id and self.list.hasFocus():
            self.play_requested.emit(job_id)

    def _show_details(self) -> None:
        job_id = self.selected_job()
        self.details.set_rows(job_rows(self._document.project.job(job_id)) if job_id else [])

    @staticmethod
    def settings_text(job: Job) -> str:
        return as_text(job_rows(job))

    def _emit_selected(self, signal) -> None:
        job_id = self.selected_job()
        if job_id:
            signal.emit(job_id)

    def _reveal(self) -> None:
        job_id = self.selected_job()
        if job_id:
            video = self._document.project.job(job_id).video_path
            if video:
                QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(video).parent)))

    def _remove(self) -> None:
        job_id = self.selected_job()
        if job_id:
            self._document.remove_job(job_id)
