"""The window's side of the job protocol: the engines' clients (an engine process by default, plus any
cluster workers added), their messages turned into Qt signals on the GUI thread.

Each engine runs one job at a time; several engines run jobs at once. The window shows one of the running
jobs (`current_job`: the earliest started); `phase_progress` and `step_progress` are about that one,
`any_step` about every running job. Messages of jobs that no longer run are dropped (a cancelled job's last
preview, say).
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

LOCAL = "this computer"  # the local engine's name among the engines


class EngineHost(QObject):
    phase_progress = Signal(str, object)  # job id, PhaseProgress (of the job the window shows)
    step_progress = Signal(str, object)  # job id, StepProgress (of the job the window shows)
    any_step = Signal(str, object)  # job id, StepProgress (of every running job)
    job_ended = Signal(object)  # JobEnded (done with result / failed with problems / cancelled / interrupted)
    busy_changed = Signal(bool)
    plan_described = Signal(str)
    engines_changed = Signal()
    _arrived = Signal(str, object)  # engine name, a message: from the client's thread to ours

    def __init__(self, client: JobClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client  # the local engine
        self._engines: dict[str, JobClient] = {}
        self._running: dict[str, str] = {}  # job id -> the engine running it, in the order they started
        self._current_job: str | None = None
        self._arrived.connect(self._dispatch)
        self.add_engine(LOCAL, client)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    @property
    def current_job(self) -> str | None:
        """The running job the window shows."""
        return self._current_job

    @property
    def engines(self) -> list[str]:
        return list(self._engines)

    def free_engines(self) -> list[str]:
        busy = set(self._running.values())
        return [name for name in self._engines if name not in busy]

    def engine_of(self, job_id: str) -> str | None:
        return self._running.get(job_id)

    def add_engine(self, name: str, client: JobClient) -> None:
        """One more engine (a cluster worker); its messages arrive like the local engine's."""
        self._engines[name] = client
        client.start(lambda message, name=name: self._arrived.emit(name, message))
        self.engines_changed.emit()

    def remove_engine(self, name: str) -> None:
        """Stop using an engine (its running job, if any, ends cancelled)."""
        client = self._engines.pop(name, None) if name != LOCAL else None
        if client is not None:
            client.stop()
            self.engines_changed.emit()

    @property
    def engine_pid(self) -> int | None:
        """The engine process, when the client runs one and it is up."""
        return getattr(self.client, "pid", None)

    def start(self, job_id: str, request: GenerationRequest, out_path: str, setup: EngineSetup,
              engine: str = LOCAL) -> None:
        if engine not in self.free_engines():
            raise RuntimeError(f"the engine {engine} is busy or gone")
        self._running[job_id] = engine
        if self._current_job is None:
            self._current_job = job_id
        if len(self._running) == 1:
            self.busy_changed.emit(True)
        self._engines[engine].submit(Submit(job_id, request, out_path, setup))

    def cancel(self, job_id: str) -> None:
        """Ask a running job to stop; it stops within a step and ends as cancelled."""
        engine = self._running.get(job_id)
        if engine is not None and engine in self._engines:
            self._engines[engine].cancel(job_id)

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
        for client in self._engines.values():
            client.stop()

    @Slot(str, object)
    def _dispatch(self, engine: str, message: FromEngine) -> None:
        if isinstance(message, EngineStatus):
            if engine == LOCAL:
                self.plan_described.emit(message.text)
        elif isinstance(message, JobEvent):
            if self._running.get(message.job_id) == engine:
                if isinstance(message.event, StepProgress):
                    self.any_step.emit(message.job_id, message.event)
                if message.job_id == self._current_job:
                    signal = self.step_progress if isinstance(message.event, StepProgress) else self.phase_progress
                    signal.emit(message.job_id, message.event)
        elif isinstance(message, JobEnded) and self._running.get(message.job_id) == engine:
            del self._running[message.job_id]
            if message.job_id == self._current_job:
                self._current_job = next(iter(self._running), None)
            if not self._running:
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
