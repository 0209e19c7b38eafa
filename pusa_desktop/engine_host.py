"""The engine runs on one QThread owned by `EngineHost`; the window talks to it only through signals.

Every message carries the id of the job it belongs to, and the host drops messages of any job other
than the one running (a cancelled job's last preview, say). The heavy engine modules are imported
inside `EngineWorker.run_job`, which runs on the engine thread, so the window opens without torch.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import traceback
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QObject, QThread, Signal, Slot

from pusa_engine.errors import JobCancelled, PusaError
from pusa_engine.events import CancelToken, JobResult, PhaseProgress, StepProgress
from pusa_engine.request import GenerationRequest

from .app_settings import EngineConfig

log = logging.getLogger(__name__)
GIL_SWITCH_INTERVAL_S = 0.001
ENGINE_NICENESS = 5  # how much lower than the window the engine thread runs (Linux nice steps)


@dataclass(frozen=True)
class EngineSetup:
    """The engine's files and device plan as resolved on the engine thread."""

    model_dir: str
    lora_path: str
    plan: str


class EngineWorker(QObject):
    """Lives on the engine thread. Keeps one loaded engine and reuses it while the setup stays the same."""

    phase_progress = Signal(str, object)  # job id, PhaseProgress
    step_progress = Signal(str, object)  # job id, StepProgress
    job_finished = Signal(str, object)  # job id, JobResult
    job_failed = Signal(str, list)  # job id, problems for the user
    job_cancelled = Signal(str)  # job id
    plan_described = Signal(str)  # e.g. "CPU (float32)"
    niceness_set = Signal(int)  # native id of the engine thread

    def __init__(self, demo_dir: str) -> None:
        super().__init__()
        self._demo_dir = demo_dir
        self._engine = None
        self._setup: EngineSetup | None = None

    def _resolve(self, config: EngineConfig) -> EngineSetup:
        if config.uses_demo_model:
            from pusa_engine.demo_model import ensure_demo_model

            model_dir, lora_path = ensure_demo_model(self._demo_dir)
            return EngineSetup(str(model_dir), str(lora_path), config.plan)
        return EngineSetup(config.model_dir, config.lora_path, config.plan)

    def _engine_for(self, config: EngineConfig, job_id: str, token: CancelToken):
        from pusa_engine.engine import Engine

        setup = self._resolve(config)
        if self._engine is None or setup != self._setup:
            self._close_engine()
            engine = Engine(setup.model_dir, setup.lora_path, plan=setup.plan)
            engine.load(on_event=partial(self._forward_event, job_id), cancel=token)
            self._engine, self._setup = engine, setup
            # The engine runs a full gc.collect() after each job, holding the GIL (and so the window)
            # for ~0.3 s when every loaded module is scanned. Frozen objects are skipped by the collector.
            gc.freeze()
            self.plan_described.emit(engine.plan_description)
        return self._engine

    def _forward_event(self, job_id: str, event: PhaseProgress | StepProgress) -> None:
        if isinstance(event, StepProgress):
            self.step_progress.emit(job_id, event)
        else:
            self.phase_progress.emit(job_id, event)

    @Slot(str, object, str, object, object)
    def run_job(
        self, job_id: str, request: GenerationRequest, out_path: str, config: EngineConfig, token: CancelToken
    ) -> None:
        try:
            token.raise_if_cancelled()
            engine = self._engine_for(config, job_id, token)
            result = engine.generate(
                request, out_path=out_path, on_event=partial(self._forward_event, job_id), cancel=token
            )
            self.job_finished.emit(job_id, result)
        except JobCancelled:
            self.job_cancelled.emit(job_id)
        except PusaError as error:
            self.job_failed.emit(job_id, list(error.problems))
        except MemoryError:
            self.job_failed.emit(job_id, ["the computer ran out of memory; try fewer frames or a smaller size"])
        except Exception as error:  # noqa: BLE001 - any engine bug must reach the user, not kill the thread
            log.error("engine error in job %s:\n%s", job_id, traceback.format_exc())
            self.job_failed.emit(job_id, [f"unexpected engine error: {error!r} (details in the log)"])

    @Slot()
    def lower_priority(self) -> None:
        """Let the window win the CPU when the engine computes on it (the engine's CPU threads, started
        from this thread, inherit the niceness). On Linux niceness is per thread."""
        if hasattr(os, "setpriority") and sys.platform.startswith("linux"):
            try:
                tid = threading.get_native_id()
                os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + ENGINE_NICENESS)
            except OSError as error:
                log.info("could not lower the engine thread's priority: %s", error)
        self.niceness_set.emit(threading.get_native_id())

    @Slot()
    def warm_up(self) -> None:
        """Import the engine's libraries ahead of the first job (torch takes seconds to import)."""
        try:
            import pusa_engine.engine  # noqa: F401
        except Exception as error:  # noqa: BLE001 - reported, the first job will say more
            log.warning("engine import failed: %s", error)
            self.plan_described.emit(f"cannot load the engine: {error}")
            return
        self.plan_described.emit("ready (the model loads with the first job)")

    @Slot()
    def close_engine(self) -> None:
        self._close_engine()

    def _close_engine(self) -> None:
        if self._engine is not None:
            gc.unfreeze()  # let the collector reclaim what the old engine leaves behind
            try:
                self._engine.close()
            finally:
                self._engine, self._setup = None, None


class EngineHost(QObject):
    """Owns the engine thread. Starts jobs, cancels them, forwards what the running job reports."""

    phase_progress = Signal(str, object)  # job id, PhaseProgress
    step_progress = Signal(str, object)  # job id, StepProgress
    job_finished = Signal(str, object)  # job id, JobResult
    job_failed = Signal(str, list)  # job id, problems
    job_cancelled = Signal(str)  # job id
    busy_changed = Signal(bool)
    plan_described = Signal(str)

    _run_on_worker = Signal(str, object, str, object, object)
    _close_on_worker = Signal()
    _warm_up_on_worker = Signal()
    _lower_priority_on_worker = Signal()

    def __init__(self, demo_dir: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("pusa-engine")
        self._worker = EngineWorker(demo_dir)
        self._worker.moveToThread(self._thread)
        self._thread.finished.connect(self._worker.deleteLater)
        self._run_on_worker.connect(self._worker.run_job)
        self._close_on_worker.connect(self._worker.close_engine)
        self._warm_up_on_worker.connect(self._worker.warm_up)
        self._lower_priority_on_worker.connect(self._worker.lower_priority)
        self._worker.niceness_set.connect(self._remember_engine_thread)
        self.engine_thread_id: int | None = None
        self._worker.phase_progress.connect(self._on_phase)
        self._worker.step_progress.connect(self._on_step)
        self._worker.job_finished.connect(self._on_finished)
        self._worker.job_failed.connect(self._on_failed)
        self._worker.job_cancelled.connect(self._on_cancelled)
        self._worker.plan_described.connect(self.plan_described)
        self._current_job: str | None = None
        self._token: CancelToken | None = None
        # Hand the interpreter lock over sooner when the window wants it while the engine runs Python code
        # (the VAE decoder is many small operations): 1 ms instead of Python's 5 ms.
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        self._thread.start()
        self._thread.setPriority(QThread.Priority.LowPriority)  # Windows and macOS; Linux: lower_priority
        self._lower_priority_on_worker.emit()

    @property
    def busy(self) -> bool:
        return self._current_job is not None

    @property
    def current_job(self) -> str | None:
        return self._current_job

    def start(self, job_id: str, request: GenerationRequest, out_path: str, config: EngineConfig) -> None:
        if self.busy:
            raise RuntimeError(f"the engine is busy with job {self._current_job}")
        self._current_job = job_id
        self._token = CancelToken()
        self.busy_changed.emit(True)
        self._run_on_worker.emit(job_id, request, out_path, config, self._token)

    def cancel(self, job_id: str) -> None:
        """Ask the running job to stop; it stops within a step and reports `job_cancelled`."""
        if job_id == self._current_job and self._token is not None:
            self._token.cancel()

    def warm_up(self) -> None:
        """Import the engine's libraries on the engine thread now, so the first Generate starts sooner."""
        self._warm_up_on_worker.emit()

    def unload(self) -> None:
        """Free the loaded model (after the settings change); the next job loads it again."""
        self._close_on_worker.emit()

    def shutdown(self, wait_ms: int = 30_000) -> None:
        if self._token is not None:
            self._token.cancel()
        if self._thread.isRunning():
            self._close_on_worker.emit()
            self._thread.quit()
            self._thread.wait(wait_ms)

    @Slot(int)
    def _remember_engine_thread(self, native_id: int) -> None:
        self.engine_thread_id = native_id

    def _is_current(self, job_id: str) -> bool:
        return job_id == self._current_job

    def _end(self) -> None:
        self._current_job, self._token = None, None
        self.busy_changed.emit(False)

    @Slot(str, object)
    def _on_phase(self, job_id: str, event: PhaseProgress) -> None:
        if self._is_current(job_id):
            self.phase_progress.emit(job_id, event)

    @Slot(str, object)
    def _on_step(self, job_id: str, event: StepProgress) -> None:
        if self._is_current(job_id):
            self.step_progress.emit(job_id, event)

    @Slot(str, object)
    def _on_finished(self, job_id: str, result: JobResult) -> None:
        if self._is_current(job_id):
            self._end()
            self.job_finished.emit(job_id, result)

    @Slot(str, list)
    def _on_failed(self, job_id: str, problems: list) -> None:
        if self._is_current(job_id):
            self._end()
            self.job_failed.emit(job_id, problems)

    @Slot(str)
    def _on_cancelled(self, job_id: str) -> None:
        if self._is_current(job_id):
            self._end()
            self.job_cancelled.emit(job_id)


async def job_outcome(host: EngineHost, job_id: str) -> tuple[str, object]:
    """Await the end of a job: ("done", JobResult), ("failed", problems) or ("cancelled", None)."""
    import asyncio

    future: asyncio.Future = asyncio.get_running_loop().create_future()
    waiter = _JobWaiter(job_id, future, host)
    try:
        return await future
    finally:
        waiter.disconnect_from(host)


class _JobWaiter(QObject):
    """Resolves a future from the host's signals (a GUI-thread QObject, so the slots run there)."""

    def __init__(self, job_id: str, future, host: EngineHost) -> None:
        super().__init__(host)
        self._job_id, self._future = job_id, future
        host.job_finished.connect(self._finished)
        host.job_failed.connect(self._failed)
        host.job_cancelled.connect(self._cancelled)

    def disconnect_from(self, host: EngineHost) -> None:
        host.job_finished.disconnect(self._finished)
        host.job_failed.disconnect(self._failed)
        host.job_cancelled.disconnect(self._cancelled)
        self.deleteLater()

    def _resolve(self, job_id: str, outcome: tuple[str, object]) -> None:
        if job_id == self._job_id and not self._future.done():
            self._future.set_result(outcome)

    @Slot(str, object)
    def _finished(self, job_id: str, result: JobResult) -> None:
        self._resolve(job_id, ("done", result))

    @Slot(str, list)
    def _failed(self, job_id: str, problems: list) -> None:
        self._resolve(job_id, ("failed", problems))

    @Slot(str)
    def _cancelled(self, job_id: str) -> None:
        self._resolve(job_id, ("cancelled", None))
