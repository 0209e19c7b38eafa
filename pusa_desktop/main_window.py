"""The main window: player in the centre, the timeline below, parameters, queue and history at the right.

This module composes the window and lays it out. Actions, menus and toolbar: a table in `window_actions.py`;
exports: `exports.py`; how jobs show: `job_view.py`; new/open/save/autosave/recovery: `project_files.py`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pusa_engine.errors import RequestError
from pusa_engine.jobs.process import EngineProcessClient
from pusa_engine.jobs.protocol import JobClient

from . import paths
from .app_settings import AppSettings, EngineConfig
from .asset_bin import AssetBin
from .centre_pages import CentrePages
from .clip_frames import ClipFrameCache
from .core.model import fresh_project
from .core.readiness import ModelFilesCheck, engine_file_check
from .core.timeline_geometry import pixel_frame_of_clip_frame, pixel_frame_of_player_frame
from .demo_banner import DemoBanner
from .document import ProjectDocument
from .engine_host import EngineHost
from .exports import ResultExports
from .generate_gate import GenerateGate
from .job_runner import JobRunner
from .job_view import JobView, JobWidgets
from .jobs_panels import HistoryPanel, QueuePanel
from .layout_memory import restore_layout, save_layout
from .library_setup import install_library, shutdown_library
from .params_panel import ParamsPanel
from .player import PlayerPane
from .progress_panel import ProgressPanel
from .project_files import ProjectFiles
from .timeline_pane import TimelinePane
from .welcome import install_welcome
from .window_actions import EXPORT_ACTIONS, build_actions, icon, open_settings, shortcuts_text

log = logging.getLogger(__name__)


def default_engine_client() -> JobClient:
    """An engine process of its own, logging beside the app's log."""
    log_dir = paths.data_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    return EngineProcessClient(str(paths.demo_model_dir()), str(log_dir / "engine-process.log"))


class MainWindow(QMainWindow):
    def __init__(
        self, settings: AppSettings | None = None, interactive: bool = True, engine_client: JobClient | None = None
    ) -> None:
        """`interactive=False` (tests, self-test) never opens a modal question. The engine runs in a process
        of its own unless another job client is given (tests run it in-process)."""
        super().__init__()
        self.interactive = interactive
        self.setObjectName("mainWindow")
        self.setWindowIcon(icon("pusa-studio"))
        self.app_settings = settings or AppSettings()
        self.document = ProjectDocument(self)
        self.host = EngineHost(engine_client or default_engine_client(), self)
        self.runner = JobRunner(self.document, self.host, self.app_settings, self)
        self.last_message = ""
        self.last_problems: list[str] = []

        self._build_widgets()
        shown_by = JobWidgets(self.player, self.progress, self.timeline, self.side_tabs, self.queue_panel,
                              self.history_panel, self.centre_pages, self.library_panel)
        self.jobs = JobView(self.document, self.host, shown_by, self.show_message, lambda: self.interactive, self)
        self.previews_received = self.jobs.previews_received  # step previews shown, per job
        self.exports = ResultExports(self, self.current_result_path, self.show_message)
        build_actions(self)
        self._connect()
        self.document.replace_project(fresh_project(self.app_settings.engine_config().uses_demo_model), None)
        self._update_title()
        self.update_banner()
        self._update_actions()
        self.files = ProjectFiles(self.document, self.app_settings, self, lambda: self.host.busy, interactive)
        self.files.message.connect(self.show_message)
        self.files.autosave_problem.connect(self._show_autosave_problem)
        self.files.problems_found.connect(self.show_problems)
        self.resize(1280, 720)
        self.setMinimumSize(QSize(1024, 640))
        restore_layout(self)  # the geometry and panel sizes of the last session

    # ----- building ------------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.banner = DemoBanner(self)
        self.clips = ClipFrameCache(self)  # frames of video clips, shared by the asset bin and the timeline
        model_check = ModelFilesCheck(engine_file_check(self.host))  # the engine process reads the headers
        self.gate = GenerateGate(self.document, self._engine_config, self.clips, model_check, self)
        self.assets = AssetBin(self, self.clips)
        self.assets.setMinimumWidth(96)
        self.player = PlayerPane(self)
        self.params = ParamsPanel(self.document, self)
        params_scroll = QScrollArea(self)
        params_scroll.setWidget(self.params)
        params_scroll.setWidgetResizable(True)
        params_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.queue_panel = QueuePanel(self.document, self)
        self.history_panel = HistoryPanel(self.document, self)
        self.side_tabs = QTabWidget(self)
        self.side_tabs.setAccessibleName("Side panel")
        self.side_tabs.addTab(params_scroll, "Parameters")
        self.side_tabs.addTab(self.queue_panel, "Queue")
        self.side_tabs.addTab(self.history_panel, "History")
        self.side_tabs.setMinimumWidth(392)  # the Parameters without a sideways scroll bar, even scrolling
        self.progress = ProgressPanel(self)
        self.timeline_pane = TimelinePane(self.document, self, self.clips)  # zoom, scroll, the card bar
        self.timeline = self.timeline_pane.timeline

        centre = QWidget(self)
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(2)
        self.centre_pages = CentrePages(self.player, self)  # the player, or the welcome page / a comparison
        centre_layout.addWidget(self.centre_pages, 1)
        centre_layout.addWidget(self.progress)

        self.top_split = QSplitter(Qt.Orientation.Horizontal, self)
        self.top_split.addWidget(self.assets)
        self.top_split.addWidget(centre)
        self.top_split.addWidget(self.side_tabs)
        self.top_split.setStretchFactor(0, 0)
        self.top_split.setStretchFactor(1, 1)
        self.top_split.setStretchFactor(2, 0)
        self.top_split.setSizes([120, 740, 420])  # no loss to a 16:9 video: at 1280x720 its height limits it
        self.library_panel = install_library(self)  # the Library tab and the A/B comparison
        self.welcome = install_welcome(self)

        root = QWidget(self)
        root_layout = QVBoxLayout(root)
        root_layout.setContentsMargins(4, 2, 4, 2)
        root_layout.setSpacing(4)
        root_layout.addWidget(self.banner)
        self.root_split = QSplitter(Qt.Orientation.Vertical, self)  # drag the timeline's top edge; remembered
        self.root_split.addWidget(self.top_split)
        self.root_split.addWidget(self.timeline_pane)
        self.root_split.setStretchFactor(0, 1)
        self.root_split.setStretchFactor(1, 0)
        self.root_split.setChildrenCollapsible(False)
        root_layout.addWidget(self.root_split, 1)
        self.setCentralWidget(root)
        self.plan_label = QLabel("Engine: not loaded yet", self)
        self.autosave_label = QLabel("", self)
        self.autosave_label.setObjectName("autosaveProblem")
        self.autosave_label.setStyleSheet("color: #ff6b6b; font-weight: bold;")
        self.autosave_label.setVisible(False)
        self.statusBar().addPermanentWidget(self.autosave_label)
        self.statusBar().addPermanentWidget(self.plan_label)
        samples = paths.resources_dir() / "samples"
        if samples.is_dir():
            self.assets.add_files(sorted(str(p) for p in samples.iterdir() if p.suffix.lower() == ".png"))

    def _connect(self) -> None:
        self.banner.button.clicked.connect(self.open_settings)
        for source in (self.timeline, self.params, self.assets, self.runner):
            source.message.connect(self.show_message)
        self.progress.cancel_requested.connect(self.runner.cancel_running)
        self.host.phase_progress.connect(self.jobs.show_phase)
        self.host.step_progress.connect(self.jobs.show_step)
        self.runner.job_ended.connect(self.jobs.job_ended)  # before the runner starts the next job
        self.host.busy_changed.connect(lambda _busy: self._update_actions())
        self.host.plan_described.connect(lambda text: self.plan_label.setText(f"Engine: {text}"))
        self.runner.job_started.connect(self.jobs.job_started)
        self.jobs.changed.connect(self._update_actions)
        self.player.video_failed.connect(lambda path, why: self.show_message(f"Cannot play {path}: {why}"))
        self.player.frame_changed.connect(self._player_moved)
        self.timeline.playhead_moved.connect(self.player.step_to)
        self.timeline.clip_frame_requested.connect(self.jobs.show_clip_frame)
        self.queue_panel.retry_requested.connect(self.runner.retry)
        self.queue_panel.run_requested.connect(self.runner.pump)
        self.queue_panel.remove_requested.connect(self.runner.remove)
        self.queue_panel.edit_requested.connect(self.jobs.edit_queued_job)
        self.history_panel.restore_requested.connect(self.jobs.restore_job_settings)
        self.history_panel.play_requested.connect(self.jobs.play_job)
        self.document.dirty_changed.connect(lambda _d: self._update_title())
        self.document.path_changed.connect(lambda _p: self._update_title())
        self.document.history_changed.connect(self._update_actions)

    @Slot(int)
    def _player_moved(self, index: int) -> None:
        """Put the timeline's playhead on the pixel frame the player shows (previews have one frame per slot;
        a clip's frame lands where its in point and start slot put it)."""
        frames = self.document.settings.frames
        video = self.document.timeline.video
        if video is not None and self.player.source == video.path:
            self.timeline.set_playhead(pixel_frame_of_clip_frame(video, index, frames))
            return
        self.timeline.set_playhead(pixel_frame_of_player_frame(index, self.player.frame_count, frames))

    # ----- messages, title, banner, actions ------------------------------------------------------------
    @Slot(str)
    def show_message(self, text: str) -> None:
        self.last_message = text
        self.statusBar().showMessage(text, 15_000)
        log.info("%s", text)

    @Slot(str, list)
    def show_problems(self, title: str, problems: list) -> None:
        """Several things the user should know at once: the status bar says so, a box lists them."""
        self.last_problems = list(problems)
        self.show_message(f"{title}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        if self.interactive:
            box = QMessageBox(QMessageBox.Icon.Information, title, "\n".join(problems), QMessageBox.StandardButton.Ok,
                              self)
            box.open()

    @Slot(str)
    def _show_autosave_problem(self, problem: str) -> None:
        self.autosave_label.setText(problem)
        self.autosave_label.setVisible(bool(problem))
        if problem:
            self.show_message(problem)

    def _update_title(self) -> None:
        name = self.document.path.name if self.document.path else "Untitled"
        self.setWindowTitle(f"{name}{' *' if self.document.dirty else ''} — Pusa Studio")

    def update_banner(self) -> None:
        self.banner.setVisible(
            self.runner.engine_config_override is None and self.app_settings.engine_config().uses_demo_model
        )

    def _update_actions(self) -> None:
        self.cancel_action.setEnabled(self.host.busy)
        has_result = self.current_result_path() is not None
        for name in EXPORT_ACTIONS:
            getattr(self, name).setEnabled(has_result)

    def shortcuts_text(self) -> str:
        return shortcuts_text(self)

    # ----- jobs (how they show: JobView) -------------------------------------------------------------------
    def _engine_config(self) -> EngineConfig:
        return self.runner.engine_config_override or self.app_settings.engine_config()

    @Slot()
    def generate(self) -> str | None:
        """Queue what the editor shows; returns the job id, or None with the problems shown."""
        self.gate.refresh()
        if not self.gate.ready:
            self.show_message("Cannot generate: " + "; ".join(self.gate.blockers))
            self.side_tabs.setCurrentIndex(0)
            return None
        try:
            job = self.runner.submit()
        except RequestError as error:
            self.show_message("Cannot generate: " + "; ".join(error.problems))
            self.side_tabs.setCurrentIndex(0)
            return None
        if self.host.current_job != job.id:
            self.show_message(f"Queued: {job.title} (position {len(self.document.project.queue)})")
        return job.id

    def play_video(self, path: str) -> None:
        self.jobs.play_video(path)

    def play_job(self, job_id: str) -> None:
        self.jobs.play_job(job_id)

    def current_result_path(self) -> str | None:
        return self.jobs.current_result_path()

    def export_result(self, video: str, kind: str, target: str):
        """A coroutine exporting `video` as MP4, GIF or PNG frames to `target` (on a worker thread)."""
        return self.exports.export(video, kind, target)

    # ----- projects (the work is in ProjectFiles) -------------------------------------------------------
    def new_project(self) -> None:
        if self.files.new_project(demo_model=self.app_settings.engine_config().uses_demo_model):
            self.player.clear()

    def open_project_dialog(self) -> None:
        if self.files.open_dialog():
            self.player.clear()

    def open_project(self, path: str | Path, remember_path: bool = True) -> bool:
        opened = self.files.open(path, remember_path)
        if opened:
            self.player.clear()
        return opened

    def save_project_dialog(self, save_as: bool = False) -> bool:
        return self.files.save_dialog(save_as)

    def save_project(self, path: str | Path) -> bool:
        return self.files.save(path)

    def open_settings(self) -> None:
        open_settings(self)

    def show_welcome(self) -> None:
        """The welcome page in the player's place (the first start, Help > Welcome)."""
        self.centre_pages.show_page("welcome")

    # ----- closing -------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.interactive and self.host.busy:
            answer = QMessageBox.question(self, "A job is running", "Cancel the running job and quit?")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        if not self.files.confirm_discard():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        self.player.stop()
        self.host.shutdown()
        self.files.close()
        shutdown_library(self)
        save_layout(self)
        self.app_settings.sync()
