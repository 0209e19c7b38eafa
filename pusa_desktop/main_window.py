"""The main window: player in the centre, the timeline below, parameters, queue and history at the right."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QUrl, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from pusa_engine.errors import PusaError, RequestError
from pusa_engine.events import PhaseProgress, StepProgress
from pusa_engine.jobs.process import EngineProcessClient
from pusa_engine.jobs.protocol import JobClient
from pusa_engine.request import latent_frames, pixel_frames_of_slot

from . import __version__, paths
from .aio import in_thread, spawn
from .app_settings import AppSettings, EngineConfig
from .asset_bin import AssetBin
from .clip_frames import ClipFrameCache
from .core.model import JobState, editor_state_from_request, fresh_project
from .core.readiness import ModelFilesCheck, engine_file_check
from .core.video_io import export_gif, export_mp4, export_png_frames
from .document import ProjectDocument
from .engine_host import EngineHost
from .generate_gate import GenerateGate
from .job_runner import JobRunner
from .jobs_panels import HistoryPanel, QueuePanel
from .params_panel import ParamsPanel
from .player import PlayerPane
from .progress_panel import ProgressPanel
from .project_files import ProjectFiles
from .settings_dialog import SettingsDialog
from .timeline import TimelineWidget

log = logging.getLogger(__name__)
MEDIA_FILTER = "Images and videos (*.png *.jpg *.jpeg *.webp *.bmp *.mp4 *.mov *.webm);;All files (*)"


def pixel_frame_of_player_frame(index: int, shown: int, frames: int) -> int:
    """The timeline frame of the player's frame `index` out of `shown` (a video, or a per-slot preview)."""
    if shown == frames or shown <= 1:
        return index
    if shown == latent_frames(frames):
        return pixel_frames_of_slot(index)[1]
    return round(index * (frames - 1) / (shown - 1))


def default_engine_client() -> JobClient:
    """An engine process of its own, logging beside the app's log."""
    log_dir = paths.data_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    return EngineProcessClient(str(paths.demo_model_dir()), str(log_dir / "engine-process.log"))


def _icon(name: str) -> QIcon:
    path = paths.resources_dir() / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


class DemoBanner(QFrame):
    """Says clearly that the demo model (random weights) is in use, with a way to the model settings."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("demoBanner")
        self.label = QLabel(
            "No model folder is set: Pusa Studio uses its tiny built-in demo model, so videos are noise. "
            "Set the Wan2.1 model folder and the Pusa LoRA to make real videos.",
            self,
        )
        self.label.setWordWrap(True)
        self.button = QPushButton("Model settings…", self)
        self.button.setAccessibleName("Open the model settings")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)


class MainWindow(QMainWindow):
    def __init__(
        self, settings: AppSettings | None = None, interactive: bool = True, engine_client: JobClient | None = None
    ) -> None:
        """`interactive=False` (tests, self-test) never opens a modal question. The engine runs in a process
        of its own unless another job client is given (tests run it in-process)."""
        super().__init__()
        self.interactive = interactive
        self.setObjectName("mainWindow")
        self.setWindowIcon(_icon("pusa-studio"))
        self.app_settings = settings or AppSettings()
        self.document = ProjectDocument(self)
        self.host = EngineHost(engine_client or default_engine_client(), self)
        self.runner = JobRunner(self.document, self.host, self.app_settings, self)
        self.last_message = ""
        self.last_problems: list[str] = []
        self.previews_received: dict[str, int] = {}

        self._build_widgets()
        self._build_actions()
        self._connect()
        self.document.replace_project(fresh_project(self.app_settings.engine_config().uses_demo_model), None)
        self._update_title()
        self._update_banner()
        self._update_actions()
        self.files = ProjectFiles(self.document, self.app_settings, self, lambda: self.host.busy, interactive)
        self.files.message.connect(self.show_message)
        self.files.autosave_problem.connect(self._show_autosave_problem)
        self.files.problems_found.connect(self.show_problems)
        self.resize(1280, 720)
        self.setMinimumSize(QSize(1024, 640))

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
        self.side_tabs.setMinimumWidth(330)
        self.progress = ProgressPanel(self)
        self.timeline = TimelineWidget(self.document, self, self.clips)

        centre = QWidget(self)
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(2)
        centre_layout.addWidget(self.player, 1)
        centre_layout.addWidget(self.progress)

        self.top_split = QSplitter(Qt.Orientation.Horizontal, self)
        self.top_split.addWidget(self.assets)
        self.top_split.addWidget(centre)
        self.top_split.addWidget(self.side_tabs)
        self.top_split.setStretchFactor(0, 0)
        self.top_split.setStretchFactor(1, 1)
        self.top_split.setStretchFactor(2, 0)
        self.top_split.setSizes([120, 800, 360])

        root = QWidget(self)
        root_layout = QVBoxLayout(root)
        root_layout.setContentsMargins(4, 2, 4, 2)
        root_layout.setSpacing(4)
        root_layout.addWidget(self.banner)
        root_layout.addWidget(self.top_split, 1)
        root_layout.addWidget(self.timeline)
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

    def _action(
        self, text: str, shortcut: QKeySequence | str | None, slot, tip: str = "", icon: str | None = None
    ) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        if icon:
            action.setIcon(_icon(icon))
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        keys = QKeySequence.StandardKey
        self.new_action = self._action("&New project", keys.New, self.new_project, "Start an empty project", "new")
        self.open_action = self._action("&Open…", keys.Open, self.open_project_dialog, "Open a .pusa project", "open")
        self.save_action = self._action("&Save", keys.Save, self.save_project_dialog, "Save the project", "save")
        self.save_as_action = self._action("Save &As…", keys.SaveAs, lambda: self.save_project_dialog(True))
        self.add_media_action = self._action(
            "&Add images or videos…", "Ctrl+I", self.add_media_dialog, "Add files to the asset bin", "add"
        )
        self.export_mp4_action = self._action("Export &MP4…", "Ctrl+E", lambda: self.export_dialog("mp4"))
        self.export_gif_action = self._action("Export &GIF…", None, lambda: self.export_dialog("gif"))
        self.export_png_action = self._action("Export &PNG frames…", None, lambda: self.export_dialog("png"))
        self.quit_action = self._action("&Quit", keys.Quit, self.close)
        self.undo_action = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.undo_action.setIcon(_icon("undo"))
        self.redo_action = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setIcon(_icon("redo"))
        self.addActions([self.undo_action, self.redo_action])
        self.settings_action = self._action("&Settings…", "Ctrl+,", self.open_settings, "Model, output, device")
        self.generate_action = self._action(
            "&Generate", "Ctrl+Return", self.generate, "Generate a video (queued when a job runs)", "generate"
        )
        self.cancel_action = self._action(
            "&Cancel job", "Esc", self.runner.cancel_running, "Stop the running job within a step", "cancel"
        )
        self.output_folder_action = self._action("Open &output folder", None, self.open_output_folder)
        self.free_memory_action = self._action(
            "&Free engine memory", None, self.free_engine_memory, "End the engine process: all of its GPU and RAM "
            "memory goes back (the next job starts a fresh one)"
        )
        self.about_action = self._action("&About Pusa Studio", None, self.about)
        self.shortcuts_action = self._action("&Keyboard shortcuts", "F1", self.show_shortcuts)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for a in (self.new_action, self.open_action, self.save_action, self.save_as_action):
            file_menu.addAction(a)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.add_media_action)
        export_menu = file_menu.addMenu("&Export result")
        for a in (self.export_mp4_action, self.export_gif_action, self.export_png_action):
            export_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = menu.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.settings_action)
        job_menu = menu.addMenu("&Job")
        job_menu.addAction(self.generate_action)
        job_menu.addAction(self.cancel_action)
        job_menu.addAction(self.output_folder_action)
        job_menu.addAction(self.free_memory_action)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.about_action)
        export_button_menu = QMenu(self)
        for a in (self.export_mp4_action, self.export_gif_action, self.export_png_action):
            export_button_menu.addAction(a)
        self.history_panel.export.setMenu(export_button_menu)

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.new_action, self.open_action, self.save_action):
            toolbar.addAction(a)
        toolbar.addSeparator()
        toolbar.addAction(self.undo_action)
        toolbar.addAction(self.redo_action)
        toolbar.addSeparator()
        toolbar.addAction(self.add_media_action)
        toolbar.addSeparator()
        toolbar.addAction(self.generate_action)
        toolbar.addAction(self.cancel_action)
        toolbar.addWidget(self.gate)
        self.gate.bind_action(self.generate_action)
        self.gate.watch_activation(self)
        for action in (self.undo_action, self.redo_action):  # their text names the edit: keep the bar steady
            button = toolbar.widgetForAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addToolBar(toolbar)

    def _connect(self) -> None:
        self.banner.button.clicked.connect(self.open_settings)
        for source in (self.timeline, self.params, self.assets, self.runner):
            source.message.connect(self.show_message)
        self.progress.cancel_requested.connect(self.runner.cancel_running)
        self.host.phase_progress.connect(self._on_phase)
        self.host.step_progress.connect(self._on_step)
        self.runner.job_ended.connect(self._on_job_ended)  # before the runner starts the next job
        self.host.busy_changed.connect(lambda _busy: self._update_actions())
        self.host.plan_described.connect(lambda text: self.plan_label.setText(f"Engine: {text}"))
        self.runner.job_started.connect(self._on_job_started)
        self.player.video_failed.connect(lambda path, why: self.show_message(f"Cannot play {path}: {why}"))
        self.player.frame_changed.connect(self._player_moved)
        self.timeline.playhead_moved.connect(self.player.step_to)
        self.timeline.clip_frame_requested.connect(self.show_clip_frame)
        self.queue_panel.retry_requested.connect(self.runner.retry)
        self.queue_panel.run_requested.connect(self.runner.pump)
        self.queue_panel.remove_requested.connect(self.runner.remove)
        self.queue_panel.edit_requested.connect(self.edit_queued_job)
        self.history_panel.restore_requested.connect(self.restore_job_settings)
        self.history_panel.play_requested.connect(self.play_job)
        self.document.dirty_changed.connect(lambda _d: self._update_title())
        self.document.path_changed.connect(lambda _p: self._update_title())
        self.document.history_changed.connect(self._update_actions)

    @Slot(int)
    def _player_moved(self, index: int) -> None:
        """Put the timeline's playhead on the pixel frame the player shows (previews have one frame per slot;
        a clip's frame i lands on pixel frame i)."""
        frames = self.document.settings.frames
        video = self.document.timeline.video
        if video is not None and self.player.source == video.path:
            self.timeline.set_playhead(index if index < frames else None)
            return
        self.timeline.set_playhead(pixel_frame_of_player_frame(index, self.player.frame_count, frames))

    # ----- messages, title, banner ---------------------------------------------------------------------
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

    def _update_title(self) -> None:
        name = self.document.path.name if self.document.path else "Untitled"
        self.setWindowTitle(f"{name}{' *' if self.document.dirty else ''} — Pusa Studio")

    def _update_banner(self) -> None:
        self.banner.setVisible(
            self.runner.engine_config_override is None and self.app_settings.engine_config().uses_demo_model
        )

    def _update_actions(self) -> None:
        busy = self.host.busy
        self.cancel_action.setEnabled(busy)
        has_result = self.current_result_path() is not None
        for a in (self.export_mp4_action, self.export_gif_action, self.export_png_action):
            a.setEnabled(has_result)

    # ----- jobs ----------------------------------------------------------------------------------------
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

    def _on_job_started(self, job_id: str) -> None:
        self.previews_received[job_id] = 0
        job = self.document.project.job(job_id)
        self.progress.job_started(job.title)
        self.player.clear("Preparing…")
        self._update_actions()

    @Slot(str, object)
    def _on_phase(self, job_id: str, event: PhaseProgress) -> None:
        self.progress.show_phase(event)

    @Slot(str, object)
    def _on_step(self, job_id: str, event: StepProgress) -> None:
        self.previews_received[job_id] = self.previews_received.get(job_id, 0) + 1
        self.progress.show_step(event)
        self.timeline.set_timesteps(event.timesteps)
        if event.preview is not None:
            fps = self.document.project.job(job_id).request.get("fps", 16)
            self.player.set_frames(
                np.asarray(event.preview),
                fps,
                "preview",
                caption=f"Preview after step {event.step} of {event.total}",
            )

    @Slot(str, str)
    def _on_job_ended(self, job_id: str, state: str) -> None:
        """The running job ended (the next one has not started yet): the progress row and player say how."""
        self.timeline.set_timesteps([])
        try:
            job = self.document.project.job(job_id)
        except KeyError:  # removed while it ran
            job = None
        if state == JobState.DONE.value and job is not None and job.result:
            self.progress.job_ended(f"Done in {job.result['seconds']:.1f} s (seed {job.result['seed']})", done=True)
            self.play_video(job.result["video_path"])
        elif state == JobState.FAILED.value:
            problems = job.problems if job is not None else []
            self.progress.job_ended("Failed")
            self.player.clear("The job failed: " + "; ".join(problems))
            self._show_failure(job_id, problems)
        else:
            self.progress.job_ended("Cancelled")
            self.player.clear("Cancelled. Press Generate to try again.")
        self._update_actions()

    def _show_failure(self, job_id: str, problems: list[str]) -> None:
        if self.interactive:
            box = QMessageBox(
                QMessageBox.Icon.Warning, "The job failed", "\n".join(problems), QMessageBox.StandardButton.Ok, self
            )
            box.setInformativeText("Fix the problem, then select the job in the Queue and press Retry.")
            box.open()
        self.side_tabs.setCurrentWidget(self.queue_panel)
        self.queue_panel.select(job_id)

    def play_video(self, path: str) -> None:
        """Play a finished video in the player pane (QtMultimedia decodes it)."""
        self.player.open_video(path, caption=Path(path).name)

    def show_clip_frame(self, path: str, frame: int, slot: int) -> None:
        """A clip card was clicked: show the clip frame that lands on its slot (not while a job previews)."""
        if self.host.busy:
            return
        caption = f"Clip {Path(path).name}: frame {frame}, laid on slot {slot}"
        self.player.open_video(path, caption=caption, play=False, start_frame=frame)

    def current_result_path(self) -> str | None:
        job_id = self.history_panel.selected_job()
        if job_id:
            return (self.document.project.job(job_id).result or {}).get("video_path")
        return None

    def play_job(self, job_id: str) -> None:
        video = (self.document.project.job(job_id).result or {}).get("video_path")
        if video and Path(video).is_file():
            self.play_video(video)
        else:
            self.show_message(f"The video file is gone: {video}")

    def restore_job_settings(self, job_id: str) -> None:
        job = self.document.project.job(job_id)
        settings, timeline = editor_state_from_request(job.request, self.document.settings)
        self.document.restore_editor(settings, timeline)
        self.side_tabs.setCurrentIndex(0)
        self.show_message(f"Restored the settings of “{job.title}” (seed {settings.seed})")

    def edit_queued_job(self, job_id: str) -> None:
        job = self.document.project.job(job_id)
        if job.state is JobState.RUNNING:
            return
        self.restore_job_settings(job_id)
        self.document.remove_job(job_id)
        self.show_message("The job is back in the editor; change it and press Generate to queue it again")

    # ----- projects (the work is in ProjectFiles) -------------------------------------------------------
    def new_project(self) -> None:
        if self.files.new_project(demo_model=self.app_settings.engine_config().uses_demo_model):
            self.player.clear()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = [p for p in self.app_settings.recent_projects if Path(p).is_file()]
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setData(path)
            action.triggered.connect(self._open_recent)
        if not recent:
            self.recent_menu.addAction("No recent projects").setEnabled(False)

    @Slot()
    def _open_recent(self) -> None:
        action = self.sender()
        if isinstance(action, QAction) and self.files.confirm_discard():
            self.open_project(str(action.data()))

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

    @Slot(str)
    def _show_autosave_problem(self, problem: str) -> None:
        self.autosave_label.setText(problem)
        self.autosave_label.setVisible(bool(problem))
        if problem:
            self.show_message(problem)

    # ----- media, exports, settings --------------------------------------------------------------------
    def add_media_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add images or videos", "", MEDIA_FILTER)
        if files:
            self.assets.add_files(files)

    def export_dialog(self, kind: str) -> None:
        video = self.current_result_path()
        if not video:
            self.show_message("Select a result in the History first")
            return
        stem = Path(video).stem
        if kind == "png":
            target = QFileDialog.getExistingDirectory(self, "Export PNG frames to folder")
            target = str(Path(target) / stem) if target else ""
        else:
            target, _ = QFileDialog.getSaveFileName(
                self, f"Export {kind.upper()}", f"{stem}.{kind}", f"{kind.upper()} (*.{kind})"
            )
        if target:
            spawn(self.export_result(video, kind, target))

    async def export_result(self, video: str, kind: str, target: str) -> Path | None:
        """Export a finished video as MP4, GIF or PNG frames on a worker thread."""
        self.show_message(f"Exporting {kind.upper()}…")
        exporters = {"mp4": export_mp4, "gif": export_gif, "png": export_png_frames}
        try:
            await in_thread(exporters[kind], video, target)
        except (PusaError, OSError, ValueError) as error:
            self.show_message(f"Export failed: {error}")
            return None
        self.show_message(f"Exported {target}")
        return Path(target)

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.app_settings, self, engine=self.host)
        dialog.setModal(True)
        dialog.accepted.connect(self._settings_saved)
        dialog.open()
        self.settings_dialog = dialog

    def _settings_saved(self) -> None:
        self._update_banner()
        self.gate.refresh()
        if not self.host.busy:
            self.host.unload()
        self.show_message("Settings saved; the model loads again with the next job")

    def free_engine_memory(self) -> None:
        if self.host.busy:
            self.show_message("Cancel the running job first, or wait for it")
            return
        self.host.free_memory()
        self.plan_label.setText("Engine: stopped (memory given back; the next job starts it)")

    def open_output_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.app_settings.output_dir)))

    def shortcuts_text(self) -> str:
        rows = [
            (a.text().replace("&", ""), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
            for a in self.actions()
            if not a.shortcut().isEmpty()
        ]
        rows += [
            ("Move the focused keyframe one slot", "Left / Right"),
            ("Delete the focused keyframe or clip slot", "Delete"),
            ("Player: play / pause", "Space"),
            ("Player: previous / next frame", ", / . or Left / Right"),
            ("Player: first / last frame", "Home / End"),
            ("Queue: run the selected job earlier / later", "Ctrl+Up / Ctrl+Down"),
        ]
        return "\n".join(f"{keys:<24} {what}" for what, keys in rows)

    def show_shortcuts(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.NoIcon, "Keyboard shortcuts", self.shortcuts_text(), QMessageBox.StandardButton.Close, self
        )
        box.setStyleSheet("QLabel { font-family: monospace; }")
        box.open()

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About Pusa Studio",
            f"Pusa Studio {__version__}\nPusa V1 video generation (Wan2.1-T2V-14B + Pusa LoRA).",
        )

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
        self.app_settings.sync()
