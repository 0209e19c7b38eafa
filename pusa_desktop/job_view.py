"""How the window shows jobs: the running one (progress row, step previews in the player, slot shading on the
timeline, how it ended) and the finished ones (play, restore the settings, take a queued job back to edit).

The few functions at the top are the only places in the window that read a job's request or result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QTabWidget, QWidget

from pusa_engine.events import PhaseProgress, StepProgress
from pusa_engine.request import GenerationRequest

from .core.model import Job, JobState, Timeline, editor_state_from_request
from .document import ProjectDocument
from .engine_host import EngineHost
from .jobs_panels import HistoryPanel, QueuePanel
from .player import PlayerPane
from .progress_panel import ProgressPanel
from .timeline import TimelineWidget


# ----- what the window reads of a job's request and result ------------------------------------------------
def preview_fps(job: Job) -> float:
    """The frame rate the job's step previews play at."""
    return job.request.fps


def editor_state_of(request: GenerationRequest, keep: Any) -> tuple[Any, Timeline]:
    """The editor's settings and timeline that made a request (`keep`: the editor's settings now). The
    user's "new seed each run" choice stays as it is: the result's seed is shown, and used again only when
    that box is off."""
    settings, timeline = editor_state_from_request(request, keep)
    return replace(settings, new_seed_each_run=keep.new_seed_each_run), timeline


def missing_media(request: GenerationRequest) -> list[str]:
    """The keyframe images and clip of a request that are no longer on the disk."""
    files = [kf.image for kf in request.keyframes] + ([request.video.video] if request.video else [])
    return [f for f in files if not Path(f).is_file()]


def result_video(job: Job) -> str | None:
    """The finished video of the job, when it has one."""
    return job.video_path


def done_text(job: Job) -> str:
    """The progress row's words for a finished job."""
    assert job.result is not None
    return f"Done in {job.result.seconds:.1f} s (seed {job.result.seed})"


@dataclass(frozen=True)
class JobWidgets:
    """The widgets that show jobs."""

    player: PlayerPane
    progress: ProgressPanel
    timeline: TimelineWidget
    side_tabs: QTabWidget
    queue_panel: QueuePanel
    history_panel: HistoryPanel
    centre: Any = None  # CentrePages: the player, or the welcome page / a comparison in its place
    library_panel: Any = None  # LibraryPanel: its selection is the result to export while its tab shows


class JobView(QObject):
    """Routes the runner's and the engine's job events to the widgets that show them, and the Queue's and
    History's requests back to the document and the player. `changed` says a job started or ended."""

    changed = Signal()

    def __init__(
        self,
        document: ProjectDocument,
        host: EngineHost,
        widgets: JobWidgets,
        say: Callable[[str], None],
        interactive: Callable[[], bool],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._host = host
        self._w = widgets
        self._say = say
        self._interactive = interactive
        self._parent = parent
        self.previews_received: dict[str, int] = {}

    # ----- the running job -----------------------------------------------------------------------------
    @Slot(str)
    def job_started(self, job_id: str) -> None:
        self.previews_received[job_id] = 0
        job = self._document.project.job(job_id)
        self._w.progress.job_started(job.title)
        self._w.player.clear("Preparing…")
        self.changed.emit()

    @Slot(str, object)
    def show_phase(self, job_id: str, event: PhaseProgress) -> None:
        self._w.progress.show_phase(event)

    @Slot(str, object)
    def show_step(self, job_id: str, event: StepProgress) -> None:
        self.previews_received[job_id] = self.previews_received.get(job_id, 0) + 1
        self._w.progress.show_step(event)
        self._w.timeline.set_timesteps(event.timesteps)
        if event.preview is not None:
            fps = preview_fps(self._document.project.job(job_id))
            self._w.player.set_frames(
                np.asarray(event.preview),
                fps,
                "preview",
                caption=f"Preview after step {event.step} of {event.total}",
            )

    @Slot(str, str)
    def job_ended(self, job_id: str, state: str) -> None:
        """The running job ended (the next one has not started yet): the progress row and player say how."""
        self._w.timeline.set_timesteps([])
        try:
            job = self._document.project.job(job_id)
        except KeyError:  # removed while it ran
            job = None
        if state == JobState.DONE.value and job is not None and job.result:
            self._w.progress.job_ended(done_text(job), done=True)
            self.play_video(result_video(job))
        elif state == JobState.FAILED.value:
            problems = job.problems if job is not None else []
            self._w.progress.job_ended("Failed")
            self._w.player.clear("The job failed: " + "; ".join(problems))
            self._show_failure(job_id, problems)
        else:
            self._w.progress.job_ended("Cancelled")
            self._w.player.clear("Cancelled. Press Generate to try again.")
        self.changed.emit()

    def _show_failure(self, job_id: str, problems: list[str]) -> None:
        if self._interactive():
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                "The job failed",
                "\n".join(problems),
                QMessageBox.StandardButton.Ok,
                self._parent,
            )
            box.setInformativeText("Fix the problem, then select the job in the Queue and press Retry.")
            box.open()
        self._w.side_tabs.setCurrentWidget(self._w.queue_panel)
        self._w.queue_panel.select(job_id)

    # ----- playing ---------------------------------------------------------------------------------------
    def play_video(self, path: str, asked_by_user: bool = False) -> None:
        """Play a finished video in the player pane (QtMultimedia decodes it). The player comes back in place
        of the welcome page, and of a comparison only when the user asked for this video."""
        if self._w.centre is not None:
            self._w.centre.show_player(asked_by_user)
        self._w.player.open_video(path, caption=Path(path).name)

    def show_result(self, path: str) -> None:
        """The user clicked a result (History, Library): play it, or say why not."""
        if Path(path).is_file():
            self.play_video(path, asked_by_user=True)
        else:
            self._say(f"The video file is gone: {path}")

    def show_clip_frame(self, path: str, frame: int, slot: int) -> None:
        """A clip card was clicked: show the clip frame that lands on its slot (not while a job previews)."""
        if self._host.busy:
            return
        caption = f"Clip {Path(path).name}: frame {frame}, laid on slot {slot}"
        self._w.player.open_video(path, caption=caption, play=False, start_frame=frame)

    def current_result_path(self) -> str | None:
        """The video selected in the Library while its tab shows, else the job selected in the History."""
        library = self._w.library_panel
        if library is not None and self._w.side_tabs.currentWidget() is library:
            return library.selected_video()
        job_id = self._w.history_panel.selected_job()
        if job_id:
            return result_video(self._document.project.job(job_id))
        return None

    def play_job(self, job_id: str) -> None:
        video = result_video(self._document.project.job(job_id))
        if video:
            self.show_result(video)
        else:
            self._say("This job has no video")

    # ----- back to the editor ----------------------------------------------------------------------------
    def restore_job_settings(self, job_id: str) -> None:
        job = self._document.project.job(job_id)
        self.restore_request(job.request, job.title)

    def restore_request(self, request: GenerationRequest, title: str) -> None:
        """Put a result's settings and keyframes into the editor as one undoable step; say which of its
        media are gone and whether the next run reuses its seed."""
        settings, timeline = editor_state_of(request, self._document.settings)
        self._document.restore_editor(settings, timeline)
        self._w.side_tabs.setCurrentIndex(0)
        seed = f"seed {settings.seed}" + (", a new one is drawn each run" if settings.new_seed_each_run else "")
        gone = missing_media(request)
        missing = f"; missing on this disk: {', '.join(Path(f).name for f in gone)}" if gone else ""
        self._say(f"Restored the settings of “{title}” ({seed}){missing}")

    def edit_queued_job(self, job_id: str) -> None:
        job = self._document.project.job(job_id)
        if job.state is JobState.RUNNING:
            return
        self.restore_job_settings(job_id)
        self._document.remove_job(job_id)
        self._say("The job is back in the editor; change it and press Generate to queue it again")
