"""`python -m pusa_engine batch JOBS.jsonl [--cluster ADDRESS] --out-dir DIR`: a file of requests, run on this
computer or over a cluster's workers in parallel.

One request per line, in the sidecar's request format (a sidecar itself, with its "request" key, works too),
plus an optional "name" (default job-<line>): the video is DIR/<name>.mp4 with its sidecar. Media paths are
relative to the file. Every line is checked before anything runs; a job whose video and sidecar are already
in DIR is skipped (a second run does only what is left). Jobs share the engines by the rules of
`scheduling`: a job whose worker is lost runs once more on another.
"""

from __future__ import annotations

import json
import queue
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic_files import is_finished_output
from ..errors import PusaError, RequestError
from ..events import PhaseProgress, StepProgress
from ..jobs.protocol import EngineSetup, JobClient, JobEnded, JobEvent, Submit
from ..request import GenerationRequest
from .messages import file_fields
from .scheduling import LostJobs, choose_engine, lost_too_often

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class BatchError(PusaError):
    """The jobs file cannot be run as written."""


@dataclass
class BatchJob:
    line: int
    name: str
    request: GenerationRequest
    out: Path
    state: str = "waiting"  # waiting | running | done | failed | cancelled | skipped
    engine: str = ""
    attempt_id: str = ""
    phase: str = ""
    step: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled", "skipped")


def read_jobs(path: Path, out_dir: Path) -> list[BatchJob]:
    """Every job of the file, or a BatchError naming every problem by its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise BatchError(f"cannot read the jobs file {path} ({reason})") from error
    problems: list[str] = []
    jobs: list[BatchJob] = []
    names: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path.name} line {number}"
        job = _read_line(line, where, number, path.resolve().parent, out_dir, problems)
        if job is None:
            continue
        if job.name in names:
            problems.append(f"{where}: the name {job.name!r} is used twice: names must differ (they name the videos)")
        names.add(job.name)
        jobs.append(job)
    if problems:
        raise BatchError(problems)
    if not jobs:
        raise BatchError(f"{path} has no jobs: write one request per line as JSON, e.g. "
                         '{"prompt": "a red fox", "seed": 1}')
    return jobs


def _read_line(line: str, where: str, number: int, base: Path, out_dir: Path, problems: list[str]) -> BatchJob | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        problems.append(f"{where}: not JSON ({error.msg} at column {error.colno})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a JSON object (a request), got {type(data).__name__}")
        return None
    name = data.get("name", f"job-{number:03d}")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{where}: the name {name!r} must be letters, digits, '.', '_' or '-' (it names the video)")
        return None
    raw = data["request"] if isinstance(data.get("request"), dict) else {k: v for k, v in data.items() if k != "name"}
    if not isinstance(raw.get("prompt"), str):
        problems.append(f"{where}: the request has no prompt (a \"prompt\" text is required)")
        return None
    try:
        request = GenerationRequest.from_dict(raw)
    except (TypeError, ValueError, AttributeError) as error:
        problems.append(f"{where}: not a request ({error})")
        return None
    before = len(problems)
    for obj, attr in file_fields(request):
        value = getattr(obj, attr)
        if not isinstance(value, str) or not value:
            problems.append(f"{where}: a file path is missing or not text ({value!r})")
            continue
        file = Path(value).expanduser()
        file = file if file.is_absolute() else base / file
        setattr(obj, attr, str(file))
        if not file.is_file():
            problems.append(f"{where}: the file {file} does not exist (paths are relative to the jobs file)")
    try:
        request.validate()
    except RequestError as error:
        problems.extend(f"{where}: {problem}" for problem in error.problems)
    except (TypeError, ValueError) as error:
        problems.append(f"{where}: a setting has the wrong type ({error})")
    if len(problems) > before:
        return None
    return BatchJob(number, name, request.with_seed(), out_dir / f"{name}.mp4")  # a retry keeps the seed


def skip_finished(jobs: list[BatchJob]) -> None:
    for job in jobs:
        if is_finished_output(job.out):
            job.state = "skipped"


def run_jobs(jobs: list[BatchJob], engines: dict[str, JobClient], setup: EngineSetup, progress) -> None:
    """Run the waiting jobs, each on a free engine, until every one has ended (Ctrl+C cancels them)."""
    inbox: queue.Queue = queue.Queue()
    for name, client in engines.items():
        client.start(lambda message, name=name: inbox.put((name, message)))
    waiting = [job for job in jobs if job.state == "waiting"]
    running: dict[str, BatchJob] = {}  # attempt id -> job
    busy: set[str] = set()
    lost = LostJobs()
    try:
        while waiting or running:
            for job in list(waiting):
                engine = choose_engine([n for n in engines if n not in busy], lost.avoid(job.name), list(engines))
                if engine is None:
                    continue
                waiting.remove(job)
                busy.add(engine)
                job.state, job.engine, job.step, job.phase = "running", engine, 0, "starting"
                job.attempt_id = f"{job.name}-{uuid.uuid4().hex[:6]}"
                running[job.attempt_id] = job
                progress.update(job)
                engines[engine].submit(Submit(job.attempt_id, job.request, str(job.out), setup))
            engine, message = inbox.get()
            job = running.get(getattr(message, "job_id", ""))
            if job is None:
                continue
            if isinstance(message, JobEvent):
                _event(job, message.event)
                progress.update(job)
            elif isinstance(message, JobEnded):
                del running[message.job_id]
                busy.discard(engine)
                _ended(job, message, lost, waiting)
                progress.update(job)
    except KeyboardInterrupt:
        for attempt, job in running.items():
            engines[job.engine].cancel(attempt)
            job.state, job.problems = "cancelled", ["cancelled (Ctrl+C)"]
        for job in waiting:
            job.state = "cancelled"
        raise


def _event(job: BatchJob, event: PhaseProgress | StepProgress) -> None:
    if isinstance(event, StepProgress):
        job.step, job.phase = event.step, "denoising"
    else:
        job.phase = event.phase.value


def _ended(job: BatchJob, ended: JobEnded, lost: LostJobs, waiting: list[BatchJob]) -> None:
    if ended.outcome == "done" and ended.result is not None:
        job.state, job.seconds = "done", ended.result.seconds
    elif ended.outcome == "interrupted":
        if lost.lost(job.name, job.engine):
            job.state, job.phase = "waiting", f"interrupted on {job.engine}; runs again"
            job.problems = list(ended.problems)
            waiting.insert(0, job)
        else:
            job.state, job.problems = "failed", [*ended.problems, lost_too_often(lost.engines(job.name))]
    else:
        job.state, job.problems = ended.outcome, list(ended.problems)
