"""Project files for the window: new, open, save, recent, autosave and crash recovery.

Autosave: every change raises the document's revision; a timer looks at it four times a second and, at
most once a second while edits go on, hands a snapshot (plain data, media by path, each job converted
once and cached) to a writer thread that makes the JSON and writes it. Edits are on disk within about
1.3 s and the window never waits for the disk or the encoder. A finished job is written at once.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as future_wait
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from pusa_engine.atomic_files import remove_stale_temps

from . import paths
from .app_settings import AppSettings
from .core.model import Job, JobState, fresh_project
from .core.persistence import PROJECT_SUFFIX, ProjectFileError, load_project, project_to_dict, save_project
from .core.project_reader import read_project
from .core.recovery import settle_interrupted_jobs
from .core.session_store import Autosave, InstanceSession, OrphanedSession, orphaned_sessions
from .document import ProjectDocument

log = logging.getLogger(__name__)
T = TypeVar("T")
AUTOSAVE_POLL_MS = 250
AUTOSAVE_EVERY_S = 1.0  # while edits go on: on disk within about 1.3 s of any change
PROJECT_FILTER = f"Pusa Studio project (*{PROJECT_SUFFIX})"


def run_beside_the_window(function: Callable[..., T], *args: object) -> T:
    """Run a blocking file operation on a worker thread while the window keeps painting and answering.

    The caller gets the result (or the exception) as if it had run the function itself. The wait between two
    rounds of events is 5 ms, so a timer or a repaint is never held back longer than that (at 30 ms, the
    hour-long soak's explicit saves were among its slowest event-loop moments)."""
    with ThreadPoolExecutor(1, thread_name_prefix="pusa-files") as pool:
        future = pool.submit(function, *args)
        while not future.done():
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
            future_wait([future], timeout=0.005)
        return future.result()


def _disk_problem(error: OSError) -> str:
    import errno

    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "the disk is full"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is not writable"
    return error.strerror or str(error)


class ProjectFiles(QObject):
    """Owns the instance's session folder and everything that reads or writes project files."""

    message = Signal(str)
    problems_found = Signal(str, list)  # title, lines: shown in the window as one message
    autosave_problem = Signal(str)  # "" once autosave works again
    _written = Signal(int, bool, str)  # revision, dirty, problem ("" on success); from the writer thread

    def __init__(
        self,
        document: ProjectDocument,
        app_settings: AppSettings,
        window: QWidget,
        busy: Callable[[], bool],
        interactive: bool = True,
    ) -> None:
        super().__init__(window)
        self._document, self._settings, self._window = document, app_settings, window
        self._busy, self._interactive = busy, interactive
        self.session = InstanceSession.start(paths.sessions_dir())
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="pusa-autosave")
        self._in_flight: Future | None = None
        self._saved_state: tuple[int, bool] | None = None
        self._problem = ""
        self._closed = False
        self._busy_with_files = False  # opening or saving a project runs beside the window
        self._plain_jobs: dict[str, tuple[tuple, dict]] = {}
        self._last_write = 0.0
        self._written.connect(self._on_written)
        self._timer = QTimer(self)
        self._timer.setInterval(AUTOSAVE_POLL_MS)
        self._timer.timeout.connect(self.autosave)
        self._timer.start()
        document.history_changed.connect(lambda: self.autosave(now=True))  # a finished job is written at once

    # ----- autosave --------------------------------------------------------------------------------
    def _plain_job(self, job: Job) -> dict:
        """A job as plain data, made again only when the job changed."""
        key = (job.state, id(job.request), id(job.result), job.thumbnail, job.output, tuple(job.problems))
        cached = self._plain_jobs.get(job.id)
        if cached is None or cached[0] != key:
            cached = self._plain_jobs[job.id] = (key, job.to_plain())
        return cached[1]

    def _snapshot(self) -> Autosave:
        """On the GUI thread: plain data, new for the editor, cached per job (never changed afterwards)."""
        project = self._document.project
        live = {job.id for job in [*project.queue, *project.history]}
        self._plain_jobs = {i: v for i, v in self._plain_jobs.items() if i in live}
        path = self._document.path
        return Autosave(project_to_dict(project, self._plain_job), str(path) if path else None,
                        path.stem if path else "Untitled", self._document.dirty, time.time())

    @Slot()
    def autosave(self, now: bool = False) -> bool:
        """Hand a snapshot to the writer when something changed since the last one, at most once a second
        while edits go on (`now`: at once, as for a finished job). True when one went."""
        state = (self._document.revision, self._document.dirty)
        if self._closed or state == self._saved_state or (self._in_flight is not None and not self._in_flight.done()):
            return False
        if not now and time.monotonic() - self._last_write < AUTOSAVE_EVERY_S:
            return False
        self._saved_state, self._last_write = state, time.monotonic()
        self._in_flight = self._writer.submit(self._write, state, self._snapshot())
        return True

    def _write(self, state: tuple[int, bool], snapshot: Autosave) -> None:
        """On the writer thread: JSON and the disk."""
        try:
            self.session.write_autosave(snapshot.to_json())
            problem = ""
        except (TypeError, ValueError) as error:  # a value JSON cannot hold: a bug, never a lost window
            log.error("autosave snapshot failed: %s", error)
            problem = f"Autosave failed: {error}. Save your work elsewhere (File > Save As)."
        except OSError as error:
            log.warning("autosave to %s failed: %s", self.session.folder, error)
            problem = f"Autosave failed: {_disk_problem(error)}. Save your work elsewhere (File > Save As)."
        self._written.emit(state[0], state[1], problem)

    @Slot(int, bool, str)
    def _on_written(self, revision: int, dirty: bool, problem: str) -> None:
        if problem:
            log.warning("%s", problem)
            self._saved_state = None  # try again at the next tick
        if problem != self._problem:
            self._problem = problem
            self.autosave_problem.emit(problem)

    def flush(self, timeout: float = 10.0) -> None:
        """Write what is not on disk yet and wait for it (tests, quitting)."""
        if self._in_flight is not None:
            self._in_flight.result(timeout)
        if self.autosave(now=True) and self._in_flight is not None:
            self._in_flight.result(timeout)

    def close(self) -> None:
        """A clean exit: wait for the writer, then remove this session's recovery data."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self._writer.shutdown(wait=True)
        self.session.end()

    # ----- recovery --------------------------------------------------------------------------------
    def sweep_interrupted_writes(self) -> None:
        """Remove temporary files that writes of dead processes left in the folders we write to."""
        folders = {Path(self._settings.output_dir), paths.default_projects_dir()}
        folders |= {Path(p).parent for p in self._settings.recent_projects}
        unpacked = paths.cache_dir() / "project-assets"
        folders |= {p for p in unpacked.iterdir() if p.is_dir()} if unpacked.is_dir() else set()
        for folder in folders:
            for path in remove_stale_temps(folder):
                log.info("removed an interrupted write: %s", path)

    def crashed_sessions(self) -> list[OrphanedSession]:
        """Sessions of instances that died with unsaved work, locked by us; the rest are cleaned away."""
        worth: list[OrphanedSession] = []
        for orphan in orphaned_sessions(paths.sessions_dir(), current=self.session):
            if orphan.problem:
                self.message.emit(f"Could not recover an earlier session: {orphan.problem}")
                orphan.release()
            elif orphan.autosave is not None and orphan.autosave.dirty:
                worth.append(orphan)
            else:
                orphan.discard()
        return worth

    def offer_recovery(self) -> bool:
        """At start: offer the newest crashed session's work; keep older ones for the next start."""
        orphans = self.crashed_sessions()
        if not orphans:
            return False
        newest, rest = orphans[0], orphans[1:]
        for orphan in rest:
            orphan.release()
        if self._interactive:
            saved = time.strftime("%H:%M:%S", time.localtime(newest.autosave.saved_at))
            answer = QMessageBox.question(
                self._window, "Recover your work?",
                f"Pusa Studio did not close properly. Open “{newest.autosave.title}” as it was at {saved}?\n"
                "No discards that copy.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                newest.discard()
                return False
        return self.recover(newest)

    def recover(self, orphan: OrphanedSession) -> bool:
        """Open a crashed session's work (with its file path and title) and take its recovery data over."""
        autosave = orphan.autosave
        assert autosave is not None
        finished = settle_interrupted_jobs(autosave.project)
        try:
            project, problems = read_project(autosave.project)
        except ProjectFileError as error:
            self.message.emit(f"Could not recover the earlier session: {error}")
            orphan.release()
            return False
        for problem in problems:
            log.warning("recovering: %s", problem)
        path = Path(autosave.project_path) if autosave.project_path else None
        self._document.replace_project(project, path)
        self._document.mark_dirty(True)
        self.flush()  # ours holds it now
        orphan.discard()
        note = f"; {len(finished)} job(s) had finished meanwhile" if finished else ""
        self.message.emit(f"Recovered “{autosave.title}” as it was when Pusa Studio stopped{note}")
        return True

    # ----- new, open, save -------------------------------------------------------------------------
    def confirm_discard(self) -> bool:
        if not self._document.dirty or not self._interactive:
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(self._window, "Unsaved changes", "Save the changes to this project first?",
                                      buttons.Save | buttons.Discard | buttons.Cancel)
        if answer == buttons.Save:
            return self.save_dialog()
        return answer == buttons.Discard

    def new_project(self, demo_model: bool) -> bool:
        if self._busy():
            self.message.emit("Wait for the running job or cancel it before starting a new project")
            return False
        if not self.confirm_discard():
            return False
        self._document.replace_project(fresh_project(demo_model=demo_model), None)
        return True

    def open_dialog(self) -> bool:
        if not self.confirm_discard():
            return False
        path, _ = QFileDialog.getOpenFileName(self._window, "Open project", str(paths.default_projects_dir()),
                                              PROJECT_FILTER)
        return bool(path) and self.open(path)

    def open(self, path: str | Path, remember_path: bool = True) -> bool:
        if self._busy_with_files:
            return False
        if self._busy():
            self.message.emit("Wait for the running job or cancel it before opening a project")
            return False
        path = Path(path)
        key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
        try:
            self._busy_with_files = True
            self.message.emit(f"Opening {path.name}…")
            project, problems = run_beside_the_window(load_project, path, paths.project_assets_dir(key))
        except ProjectFileError as error:
            self.message.emit(f"Cannot open {path.name}: {error}")
            return False
        finally:
            self._busy_with_files = False
        self._document.replace_project(project, path if remember_path else None)
        if remember_path:
            self._settings.add_recent_project(str(path))
        waiting = sum(1 for job in project.queue if job.state is JobState.QUEUED)
        note = f"; {waiting} queued job(s) wait for Run queue" if waiting else ""
        self.message.emit(f"Opened {path.name}{note}")
        if problems:
            self.problems_found.emit(f"Opened {path.name} with changes", problems)
        return True

    def save_dialog(self, save_as: bool = False) -> bool:
        path = self._document.path
        if save_as or path is None:
            chosen, _ = QFileDialog.getSaveFileName(
                self._window, "Save project", str(paths.default_projects_dir() / "Untitled.pusa"), PROJECT_FILTER
            )
            if not chosen:
                return False
            path = Path(chosen if chosen.endswith(PROJECT_SUFFIX) else chosen + PROJECT_SUFFIX)
        return self.save(path)

    def save(self, path: str | Path) -> bool:
        if self._busy_with_files:
            return False
        path = Path(path)
        revision = self._document.revision
        try:
            self._busy_with_files = True
            missing = run_beside_the_window(save_project, copy.deepcopy(self._document.project), path)
        except OSError as error:
            self.message.emit(f"Could not save {path}: {_disk_problem(error)}")
            return False
        finally:
            self._busy_with_files = False
        self._document.set_path(path)
        if self._document.revision == revision:  # no edit while it was written
            self._document.mark_dirty(False)
        self._settings.add_recent_project(str(path))
        note = f" ({len(missing)} media file(s) were missing and not copied)" if missing else ""
        self.message.emit(f"Saved {path.name}{note}")
        return True
