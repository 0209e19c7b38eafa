"""Runs submitted jobs on one loaded `Engine`, kept between jobs while the setup stays the same.

The same code serves every transport: a thread of the caller (in-process) or an engine process.
"""

from __future__ import annotations

import logging
import traceback
from functools import partial
from pathlib import Path

from ..errors import JobCancelled, PusaError
from ..events import CancelToken, PhaseProgress, StepProgress
from .protocol import Answer, Ask, EngineSetup, EngineStatus, JobEnded, JobEvent, MessageSink, Submit

log = logging.getLogger(__name__)


class JobService:
    def __init__(self, demo_dir: str, send: MessageSink) -> None:
        self._demo_dir = demo_dir
        self._send = send
        self._engine = None
        self._setup: EngineSetup | None = None

    def resolve(self, setup: EngineSetup) -> EngineSetup:
        """The demo model's files when no model folder is set (written on first use)."""
        if not setup.uses_demo_model:
            return setup
        from ..demo_model import ensure_demo_model

        model_dir, lora_path = ensure_demo_model(Path(self._demo_dir))
        return EngineSetup(str(model_dir), str(lora_path), setup.plan)

    def _engine_for(self, setup: EngineSetup, job_id: str, token: CancelToken):
        from ..engine import Engine

        resolved = self.resolve(setup)
        if self._engine is None or resolved != self._setup:
            self.unload()
            engine = Engine(resolved.model_dir, resolved.lora_path or None, plan=resolved.plan,
                            lora_low=resolved.lora_low_path or None)
            engine.load(on_event=partial(self._forward, job_id), cancel=token)
            self._engine, self._setup = engine, resolved
            self._send(EngineStatus(engine.plan_description))
        return self._engine

    def load(self, setup: EngineSetup) -> str:
        """Load the engine for `setup` now (a cluster worker does, before it announces itself); its plan."""
        return self._engine_for(setup, "", CancelToken()).plan_description

    def _forward(self, job_id: str, event: PhaseProgress | StepProgress) -> None:
        self._send(JobEvent(job_id, event))

    def run(self, job: Submit, token: CancelToken) -> JobEnded:
        """Run one job to its end; every failure becomes a JobEnded with words for the user."""
        try:
            token.raise_if_cancelled()
            engine = self._engine_for(job.setup, job.job_id, token)
            result = engine.generate(job.request, out_path=job.out_path, on_event=partial(self._forward, job.job_id),
                                     cancel=token, trace_path=job.trace_path)
            return JobEnded(job.job_id, "done", result=result)
        except JobCancelled:
            return JobEnded(job.job_id, "cancelled")
        except PusaError as error:
            return JobEnded(job.job_id, "failed", problems=list(error.problems))
        except MemoryError:
            return JobEnded(job.job_id, "failed",
                            problems=["the computer ran out of memory; try fewer frames or a smaller size"])
        except Exception as error:  # noqa: BLE001 - any engine bug must reach the user as words
            log.error("engine error in job %s:\n%s", job.job_id, traceback.format_exc())
            return JobEnded(job.job_id, "failed", problems=[f"unexpected engine error: {error!r} (details in the log)"])

    def answer(self, ask: Ask) -> Answer:
        try:
            if ask.question == "plans":
                from ..devices import available_plans

                return Answer(ask.question_id, available_plans())
            if ask.question == "check_files":
                from ..validation import validate_model_files

                setup = ask.setup or EngineSetup()
                if setup.uses_demo_model:
                    return Answer(ask.question_id, [])
                return Answer(ask.question_id, validate_model_files(setup.model_dir, setup.lora_path,
                                                                    setup.lora_low_path))
            return Answer(ask.question_id, problem=f"unknown question {ask.question!r}")
        except Exception as error:  # noqa: BLE001 - an answer, never a dead engine
            log.error("answering %s failed:\n%s", ask.question, traceback.format_exc())
            return Answer(ask.question_id, problem=str(error))

    def warm_up(self) -> None:
        """Import the engine's libraries ahead of the first job (torch takes seconds to import)."""
        try:
            import pusa_engine.engine  # noqa: F401
        except Exception as error:  # noqa: BLE001 - reported; the first job will say more
            log.warning("engine import failed: %s", error)
            self._send(EngineStatus(f"cannot load the engine: {error}"))
            return
        if self._engine is None:
            self._send(EngineStatus("ready (the model loads with the first job)"))

    def unload(self) -> None:
        if self._engine is not None:
            try:
                self._engine.close()
            finally:
                self._engine, self._setup = None, None
