"""The messages between a job queue and an engine, and the interface every transport offers.

    queue -> engine:  Submit(job id, request, output path, setup) | Cancel(job id) | Ask(question) | Unload
    engine -> queue:  JobEvent(job id, phase or step with preview) ... JobEnded(job id, done | failed | cancelled)
                      Answer(question id, value) | EngineStatus(text)

Plain dataclasses of plain values, numpy arrays and the request/event types: they pickle, so the same
messages cross a thread, a pipe to an engine process, or a cluster. No torch here.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..events import JobResult, PhaseProgress, StepProgress
from ..request import GenerationRequest

# "interrupted": the engine was lost during the job (a cluster worker's node or process went away), so it never
# finished; a queue may run it again on another engine.
Outcome = Literal["done", "failed", "cancelled", "interrupted"]
Question = Literal["plans", "check_files"]


@dataclass(frozen=True)
class EngineSetup:
    """Which files and device plan a job needs. An empty model folder means the built-in demo model."""

    model_dir: str = ""
    lora_path: str = ""  # the Pusa LoRA (Wan2.2: the high-noise expert's)
    plan: str = "auto"
    lora_low_path: str = ""  # Wan2.2: the low-noise expert's Pusa LoRA

    @property
    def uses_demo_model(self) -> bool:
        return not self.model_dir


# ---- to the engine ----------------------------------------------------------------------------------
@dataclass
class Submit:
    job_id: str
    request: GenerationRequest
    out_path: str
    setup: EngineSetup
    trace_path: str | None = None  # also save the final latents and timesteps (safetensors) there


@dataclass
class Cancel:
    job_id: str


@dataclass
class Ask:
    question_id: int
    question: Question
    setup: EngineSetup | None = None


@dataclass
class Unload:
    """Free the loaded model; the next job loads it again."""


@dataclass
class WarmUp:
    """Import the engine's libraries now, so the first job starts sooner."""


# ---- from the engine --------------------------------------------------------------------------------
@dataclass
class JobEvent:
    job_id: str
    event: PhaseProgress | StepProgress


@dataclass
class JobEnded:
    job_id: str
    outcome: Outcome
    result: JobResult | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class Answer:
    question_id: int
    value: Any = None
    problem: str | None = None


@dataclass
class EngineStatus:
    """A line about the engine for the status bar ("CPU (float32)", "ready", why it cannot start)."""

    text: str


ToEngine = Submit | Cancel | Ask | Unload | WarmUp
FromEngine = JobEvent | JobEnded | Answer | EngineStatus
MessageSink = Callable[[FromEngine], None]


class JobClient(Protocol):
    """What a queue needs of an engine, wherever it runs. `on_message` is called from a background thread."""

    def start(self, on_message: MessageSink) -> None: ...

    def submit(self, job: Submit) -> None: ...

    def cancel(self, job_id: str) -> None: ...

    def ask(self, question: Question, setup: EngineSetup | None = None) -> Future: ...

    def send(self, message: Unload | WarmUp) -> None: ...

    def stop(self) -> None:
        """End the engine and give back all its memory (an engine process ends)."""
