"""Turns the editor into jobs, keeps the queue moving and files results into the history."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from pusa_engine.events import JobResult, StepProgress
from pusa_engine.jobs.protocol import EngineSetup, JobEnded
from pusa_engine.request import GenerationRequest

from . import paths
from .app_settings import AppSettings, EngineConfig
from .core.model import Job, JobState, build_request
from .document import ProjectDocument
from .engine_host import EngineHost
from .images import save_thumbnail


class JobRunner(QObject):
    """Submitting while a job runs queues the job; the next queued job starts when the engine is free."""

    job_started = Signal(str)  # job id
    job_ended = Signal(str, str)  # job id, final state
    message = Signal(str)

    def __init__(
        self,
        document: ProjectDocument,
        host: EngineHost,
        settings: AppSettings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._host = host
        self._settings = settings
        self._last_preview: np.ndarray | None = None
        self.engine_config_override: EngineConfig | None = None  # the self-test forces the demo model
        host.step_progress.connect(self._on_step)
        host.job_ended.connect(self._on_ended)

    def editor_request(self) -> GenerationRequest:
        """The request for what the editor shows; raises RequestError listing every problem."""
        settings = self._document.settings
        request = build_request(settings, self._document.timeline)
        if settings.new_seed_each_run:
            request.seed = None
        request = request.with_seed()
        request.validate()
        return request

    def submit(self) -> Job:
        """Queue what the editor shows. Draws a new seed first when the user asked for one each run."""
        request = self.editor_request()
        if self._document.settings.new_seed_each_run:
            self._document.update_settings(seed=request.seed)
        return self.enqueue(request)

    def enqueue(self, request: GenerationRequest) -> Job:
        job = Job(request=request)
        self._document.add_job(job)
        self.pump()
        return job

    def pump(self) -> None:
        if self._host.busy:
            return
        job = self._document.next_queued_job()
        if job is None:
            return
        self._last_preview = None
        config = self.engine_config_override or self._settings.engine_config()
        out_dir = Path(self._settings.output_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            problem = f"the output folder {out_dir} cannot be created ({error.strerror}); choose another in Settings"
            self._document.set_job_state(job.id, JobState.FAILED, [problem])
            self.message.emit("Job failed: " + problem)
            self.job_ended.emit(job.id, JobState.FAILED.value)
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out_path = out_dir / f"pusa-{stamp}-{job.id}.mp4"
        job.output = str(out_path)
        self._document.set_job_state(job.id, JobState.RUNNING)
        setup = EngineSetup(config.model_dir, config.lora_path, config.plan)
        self._host.start(job.id, job.request, str(out_path), setup)
        self.job_started.emit(job.id)

    def cancel_running(self) -> None:
        if self._host.current_job:
            self._host.cancel(self._host.current_job)

    def retry(self, job_id: str) -> None:
        job = self._document.project.job(job_id)
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            self._document.set_job_state(job_id, JobState.QUEUED)
            self.pump()

    def remove(self, job_id: str) -> None:
        if job_id == self._host.current_job:
            self._host.cancel(job_id)
        self._document.remove_job(job_id)

    @Slot(str, object)
    def _on_step(self, job_id: str, event: StepProgress) -> None:
        if event.preview is not None:
            self._last_preview = event.preview

    @Slot(object)
    def _on_ended(self, ended: JobEnded) -> None:
        """File the outcome, tell the window (before the next job starts), then start the next job."""
        job_id = ended.job_id
        if ended.outcome == "done" and ended.result is not None:
            self._file_result(job_id, ended.result)
            state = JobState.DONE
        elif ended.outcome == "failed":
            self._set_state_if_queued(job_id, JobState.FAILED, ended.problems)
            self.message.emit("Job failed: " + "; ".join(ended.problems))
            state = JobState.FAILED
        else:
            self._set_state_if_queued(job_id, JobState.CANCELLED)
            self.message.emit("Job cancelled")
            state = JobState.CANCELLED
        self.job_ended.emit(job_id, state.value)
        self.pump()

    def _file_result(self, job_id: str, result: JobResult) -> None:
        thumbnail = None
        if self._last_preview is not None and len(self._last_preview):
            thumbnail = save_thumbnail(self._last_preview[0], paths.thumbnails_dir() / f"{job_id}.png")
        try:
            self._document.finish_job(job_id, result, thumbnail)
        except KeyError:  # the user removed it while it ran; its video stays in the output folder
            pass
        self.message.emit(f"Finished in {result.seconds:.1f} s: {result.video_path}")

    def _set_state_if_queued(self, job_id: str, state: JobState, problems: list[str] | None = None) -> None:
        try:
            self._document.set_job_state(job_id, state, problems)
        except KeyError:  # the user removed it while it ran
            pass
