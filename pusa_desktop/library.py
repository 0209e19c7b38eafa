"""The Library's data on the GUI side: the index of every result on this machine (`core/library_index.py`),
kept up to date with the project's history, the output folders and the saved projects, and written to the
app's data folder on a worker thread."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from . import paths
from .aio import in_thread
from .app_settings import AppSettings
from .core.library_index import LibraryEntry, LibraryIndex, ScanResult, project_results
from .core.model import JobState
from .document import ProjectDocument

log = logging.getLogger(__name__)
UNTITLED = "Untitled project"
SAVE_DELAY_MS = 1000


def index_file() -> Path:
    return paths.data_dir() / "library" / "index.json"


class Library(QObject):
    """`changed` when entries came or went or were renamed; `message` for the status bar."""

    changed = Signal()
    message = Signal(str)

    def __init__(self, settings: AppSettings, document: ProjectDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._document = document
        self.index = LibraryIndex(index_file())
        self.load_note = self.index.load()  # said when the window shows the library
        if self.load_note:
            log.warning("%s", self.load_note)
        self._named: dict[str, str] = {}  # video -> the project name last given to it
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="library-index")
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save)
        self.scanning = False
        self.scanned = False  # at least one scan since the window opened
        document.history_changed.connect(self._follow_history)
        document.project_replaced.connect(self._follow_history)
        document.path_changed.connect(lambda _path: self._follow_history())

    # ----- the current project's results ---------------------------------------------------------------
    def project_name(self) -> str:
        path = self._document.path
        return Path(path).stem if path else UNTITLED

    def _follow_history(self) -> None:
        """Results of this project enter the index as soon as they are in the history, named after it."""
        name = self.project_name()
        changed = False
        for job in self._document.project.history:
            video = job.video_path
            if job.state is not JobState.DONE or not video or self._named.get(video) == name:
                continue
            key = str(Path(video).resolve())
            if key in self.index.entries:
                changed |= self.index.set_project(key, name)
            else:
                changed |= self.index.add_video(video, name) is not None
            self._named[video] = name
        if changed:
            self.changed.emit()
            self.save_soon()

    # ----- scanning the folders ------------------------------------------------------------------------
    def folders_to_scan(self) -> list[str]:
        """The output folder in the settings, the default one, and where this project's results are."""
        folders = [str(self._settings.output_dir), str(paths.default_output_dir()), *self._settings.library_folders]
        folders += [str(Path(j.video_path).parent) for j in self._document.project.history if j.video_path]
        return [f for f in dict.fromkeys(folders) if Path(f).is_dir()]

    async def refresh(self) -> tuple[int, int]:
        """Scan the output folders on a worker thread and take in what changed; (added, removed)."""
        if self.scanning:
            return 0, 0
        self.scanning = True
        try:
            result: ScanResult = await in_thread(self.index.scan, self.folders_to_scan())
            names = await in_thread(project_results, self._settings.recent_projects)
        finally:
            self.scanning = False
        return self.take_scan(result, names)

    def take_scan(self, result: ScanResult, names: dict[str, str]) -> tuple[int, int]:
        was_rebuilt = self.index.rebuilt
        added, removed = self.index.apply(result)
        self.index.name_projects(names)
        self._named.clear()
        self._follow_history()
        self.scanned = True
        if was_rebuilt:
            self.message.emit(f"The library index was rebuilt: {len(self.index.entries)} results found")
        for folder in result.unreadable:
            self.message.emit(f"The library cannot read the folder {folder}; its results are kept as they were")
        self.save_soon()
        self.changed.emit()
        return added, removed

    def add_folder(self, folder: str) -> bool:
        self._settings.add_library_folder(str(Path(folder).expanduser().resolve()))
        added = self.index.add_folder(folder)
        if added:
            self.save_soon()
        return added

    # ----- reading -------------------------------------------------------------------------------------
    def entry(self, video: str) -> LibraryEntry | None:
        return self.index.entries.get(video) or self.index.entries.get(str(Path(video).resolve()))

    # ----- writing -------------------------------------------------------------------------------------
    def save_soon(self) -> None:
        self._save_timer.start()

    def save(self) -> None:
        """Write the index on the writer thread (the JSON of a long library is made there too)."""
        self._save_timer.stop()
        snapshot = LibraryIndex(self.index.path)
        snapshot.entries, snapshot.folders = dict(self.index.entries), list(self.index.folders)
        try:
            self._writer.submit(self._write, snapshot)
        except RuntimeError:  # shut down
            pass

    @staticmethod
    def _write(snapshot: LibraryIndex) -> None:
        try:
            snapshot.save()
        except OSError as error:
            log.warning("could not write the library index %s: %s", snapshot.path, error)

    def flush(self) -> None:
        """Write what is pending and wait for it (closing the window)."""
        if self._save_timer.isActive():
            self.save()
        self._writer.shutdown(wait=True)
