"""The window's side of the job protocol: one engine client (an engine process by default), its messages
turned into Qt signals on the GUI thread.

Messages of any job other than the running one are dropped (a cancelled job's last preview, say).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

from PySide6.QtCore import QObject, Signal, Slot

from pusa_engine.events import StepProgress
from pusa_engine.jobs.protocol import (
    EngineSetup,
    EngineStatus,
    FromEngine,
    JobClient,
    JobEnded,
    JobEvent,
    Question,
    Submit,
    Unload,
    WarmUp,
)
from pusa_engine.request import GenerationRequest


class EngineHost(QObject):
    phase_progress = Signal(str, object)  # job id, PhaseProgress
    step_progress = Signal(str, object)  # job id, StepProgress
    job_ended = Signal(object)  # JobEnded (done with result / failed with problems / cancelled)
    busy_changed = Signal(bool)
    plan_described = Signal(str)
    _arrived = Signal(object)  # a message, from the client's thread to ours

    def __init__(self, client: JobClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self._current_job: str | None = None
        self._arrived.connect(self._dispatch)
        client.start(self._arrived.emit)

    @property
    def busy(self) -> bool:
        return self._current_job is not None

    @property
    def current_job(self) -> str | None:
        return self._current_job

    @property
    def engine_pid(self) -> int | None:
        """The engine process, when the client runs one and it is up."""
        return getattr(self.client, "pid", None)

    def start(self, job_id: str, request: GenerationRequest, out_path: str, setup: EngineSetup) -> None:
        if self.busy:
            raise RuntimeError(f"the engine is busy with job {self._current_job}")
        self._current_job = job_id
        self.busy_changed.emit(True)
        self.client.submit(Submit(job_id, request, out_path, setup))

    def cancel(self, job_id: str) -> None:
        """Ask the running job to stop; it stops within a step and ends as cancelled."""
        if job_id == self._current_job:
            self.client.cancel(job_id)

    def ask(self, question: Question, setup: EngineSetup | None = None) -> Future:
        return self.client.ask(question, setup)

    def warm_up(self) -> None:
        """Start the engine and import its libraries now, so the first Generate starts sooner."""
        self.client.send(WarmUp())

    def unload(self) -> None:
        """Free the loaded model (after the settings change); the next job loads it again."""
        self.client.send(Unload())

    def free_memory(self) -> None:
        """End the engine (its process, when it has one): all of its memory goes back; a job ends cancelled."""
        self.client.stop()

    def shutdown(self) -> None:
        self.client.stop()

    @Slot(object)
    def _dispatch(self, message: FromEngine) -> None:
        if isinstance(message, EngineStatus):
            self.plan_described.emit(message.text)
        elif isinstance(message, JobEvent):
            if message.job_id == self._current_job:
                signal = self.step_progress if isinstance(message.event, StepProgress) else self.phase_progress
                signal.emit(message.job_id, message.event)
        elif isinstance(message, JobEnded) and message.job_id == self._current_job:
            self._current_job = None
            self.busy_changed.emit(False)
            self.job_ended.emit(message)


async def job_outcome(host: EngineHost, job_id: str) -> JobEnded:
    """Await the end of a job."""
    future: asyncio.Future = asyncio.get_running_loop().create_future()

    def ended(message: JobEnded) -> None:
        if message.job_id == job_id and not future.done():
            future.set_result(message)

    host.job_ended.connect(ended)
    try:
        return await future
    finally:
        host.job_ended.disconnect(ended)
