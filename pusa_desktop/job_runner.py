"""Turns the editor into jobs, keeps the queue moving and files results into the history.

With a cluster address in the settings, the queue runs as many jobs at once as there are free engines: the
local engine (unless switched off) and the cluster's workers (`cluster_lanes`). A job whose worker is lost
runs once more on another (`pusa_engine.cluster.scheduling`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from pusa_engine.cluster.scheduling import LostJobs, choose_engine, lost_too_often
from pusa_engine.events import JobResult, StepProgress
from pusa_engine.jobs.protocol import JobEnded
from pusa_engine.request import GenerationRequest

from . import paths
from .app_settings import AppSettings, EngineConfig
from .cluster_lanes import ClusterLanes
from .core.model import Job, JobState, build_request
from .document import ProjectDocument
from .engine_host import LOCAL, EngineHost
from .images import save_thumbnail


class JobRunner(QObject):
    """Submitting while jobs run queues the job; the next queued job starts when an engine is free."""

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
        self._last_preview: dict[str, np.ndarray] = {}  # job id -> its latest step preview (the thumbnail)
        self._engine_of: dict[str, str] = {}  # running job id -> its engine
        self._shown: str | None = None  # the running job the window was told about (job_started)
        self._lost = LostJobs()
        self.engine_config_override: EngineConfig | None = None  # the self-test forces the demo model
        self.cluster = ClusterLanes(host, settings, self)
        self.cluster.message.connect(self.message)
        self.cluster.workers_changed.connect(self.pump)
        host.any_step.connect(self._on_step)
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

    def usable_engines(self) -> list[str]:
        """The engines jobs may run on: the local one (unless switched off beside a cluster), then the workers."""
        local = [LOCAL] if self._settings.use_local_engine or not self.cluster.active else []
        return local + self.cluster.worker_names

    def pump(self) -> None:
        """Start queued jobs, in queue order, on the free engines."""
        self.cluster.follow_settings()
        engines = self.usable_engines()
        for job in [j for j in self._document.project.queue if j.state is JobState.QUEUED]:
            free = [name for name in self._host.free_engines() if name in engines]
            if not free:
                break
            engine = choose_engine(free, self._lost.avoid(job.id), engines)
            if engine is not None:
                self._start(job, engine)
        self._announce_shown()

    def _start(self, job: Job, engine: str) -> None:
        self._last_preview.pop(job.id, None)
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
        job.worker = None if engine == LOCAL else engine
        self._document.set_job_state(job.id, JobState.RUNNING)
        setup = config.setup()
        self._engine_of[job.id] = engine
        self._host.start(job.id, job.request, str(out_path), setup, engine)

    def _announce_shown(self) -> None:
        """Tell the window when the job it shows changed (it shows one of the running jobs)."""
        shown = self._host.current_job
        if shown is not None and shown != self._shown:
            self._shown = shown
            self.job_started.emit(shown)
        elif shown is None:
            self._shown = None

    def cancel_running(self) -> None:
        if self._host.current_job:
            self._host.cancel(self._host.current_job)

    def retry(self, job_id: str) -> None:
        job = self._document.project.job(job_id)
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            self._document.set_job_state(job_id, JobState.QUEUED)
            self.pump()

    def remove(self, job_id: str) -> None:
        if self._host.engine_of(job_id) is not None:
            self._host.cancel(job_id)
        self._document.remove_job(job_id)

    @Slot(str, object)
    def _on_step(self, job_id: str, event: StepProgress) -> None:
        if event.preview is not None:
            self._last_preview[job_id] = event.preview

    @Slot(object)
    def _on_ended(self, ended: JobEnded) -> None:
        """File the outcome, tell the window (before the next job starts), then start the next job."""
        job_id = ended.job_id
        engine = self._engine_of.pop(job_id, LOCAL)
        if job_id == self._shown:
            self._shown = None  # whatever the window shows next is announced, even this job started again
        if ended.outcome == "interrupted" and self._requeue_lost(job_id, engine, ended.problems):
            self.pump()  # it starts again on another engine
            return
        if ended.outcome == "done" and ended.result is not None:
            self._file_result(job_id, ended.result)
            state = JobState.DONE
        elif ended.outcome in ("failed", "interrupted"):
            problems = list(ended.problems)
            if ended.outcome == "interrupted":
                problems.append(lost_too_often(self._lost.engines(job_id)))
            self._set_state_if_queued(job_id, JobState.FAILED, problems)
            self.message.emit("Job failed: " + "; ".join(ended.problems))
            state = JobState.FAILED
        else:
            self._set_state_if_queued(job_id, JobState.CANCELLED)
            self.message.emit("Job cancelled")
            state = JobState.CANCELLED
        self._lost.forget(job_id)
        self._last_preview.pop(job_id, None)
        self.job_ended.emit(job_id, state.value)
        self.pump()

    def _requeue_lost(self, job_id: str, engine: str, problems: list[str]) -> bool:
        """A job whose engine was lost waits again, to run once more on another engine; False: lost too often."""
        if not self._lost.lost(job_id, engine):
            return False
        try:
            self._document.set_job_state(job_id, JobState.QUEUED, [*problems, "it runs again on another worker"])
        except KeyError:  # the user removed it while it ran
            return True
        self.message.emit(f"Job interrupted on {engine}: " + "; ".join(problems) + "; it runs again")
        return True

    def _file_result(self, job_id: str, result: JobResult) -> None:
        thumbnail = None
        preview = self._last_preview.get(job_id)
        if preview is not None and len(preview):
            thumbnail = save_thumbnail(preview[0], paths.thumbnails_dir() / f"{job_id}.png")
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
