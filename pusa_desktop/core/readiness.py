"""Can Generate run? Every reason it cannot, in words, from the editor's settings and timeline, the clips
read so far and the model files. Qt-free: the window shows the reasons (`generate_gate.py`).

The request is checked with the engine's own `GenerationRequest.validate()`. The model files are checked
in two stages, cached per (model folder, LoRA, file sizes and times): a quick look for missing files on
the calling thread (no torch), and when that finds nothing, the engine's header-only validation, asked of
the engine (its own process) from a worker thread.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pusa_engine.errors import PusaError, RequestError
from pusa_engine.families import detect_family
from pusa_engine.jobs.protocol import Answer, EngineSetup, Question
from pusa_engine.model_files import ModelFolder

from .media_checks import image_file_problem
from .model import EditorSettings, Timeline, build_request

CHECKING_MODEL = "Checking the model files…"
ModelKey = tuple[object, ...]


@dataclass(frozen=True)
class ModelStatus:
    """What is known about the model files: still being checked, and the problems found so far."""

    checking: bool = False
    problems: tuple[str, ...] = ()


MODEL_READY = ModelStatus()


def _unknown(_path: str) -> None:
    return None


# ----- the request ----------------------------------------------------------------------------------------
def request_problems(settings: EditorSettings, timeline: Timeline) -> list[str]:
    """The engine's own verdict on the request the editor shows."""
    try:
        build_request(settings, timeline).validate()
    except RequestError as error:
        return list(error.problems)
    return []


def number_problems(settings: EditorSettings) -> list[str]:
    """NaN or infinity where a range check would let it through (shift only has a lower bound)."""
    values = (("CFG", settings.cfg), ("shift", settings.shift), ("LoRA alpha", settings.lora_alpha))
    return [f"{name} must be a finite number (got {value})" for name, value in values if not math.isfinite(value)]


def media_problems(
    timeline: Timeline,
    clip_length: Callable[[str], int | None] = _unknown,
    clip_error: Callable[[str], str | None] = _unknown,
) -> list[str]:
    """Keyframe images and the clip that are gone, damaged or too short (a project opened elsewhere, say)."""
    problems = []
    for keyframe in timeline.sorted_keyframes():
        problem = image_file_problem(keyframe.image)
        if problem:
            problems.append(f"the keyframe on slot {keyframe.slot} cannot be used: {problem}")
    video = timeline.video
    if video is not None:
        name = Path(video.path).name
        length, error = clip_length(video.path), clip_error(video.path)
        needed = video.frames_needed()  # from the clip's in point
        if not Path(video.path).is_file():
            problems.append(f"the clip {name} is missing: put it back or remove the clip")
        elif error:
            problems.append(f"the clip {name} cannot be read ({error}): remove it or choose another clip")
        elif length is not None and length < needed:
            short = [s for s in video.slots if video.source_frames(s)[1] >= length]
            problems.append(
                f"{name} has {length} frames, but slot {max(video.slots)} takes its frames up to {needed - 1}: "
                f"remove slot{'s' if len(short) > 1 else ''} {', '.join(map(str, short))} or use a longer clip"
            )
    return problems


def generate_blockers(
    settings: EditorSettings,
    timeline: Timeline,
    model: ModelStatus = MODEL_READY,
    clip_length: Callable[[str], int | None] = _unknown,
    clip_error: Callable[[str], str | None] = _unknown,
) -> list[str]:
    """Every reason Generate cannot run now; empty when it can."""
    blockers = request_problems(settings, timeline) + number_problems(settings)
    blockers += media_problems(timeline, clip_length, clip_error)
    blockers += [f"model files: {problem}" for problem in model.problems]
    if model.checking and not model.problems:
        blockers.append(CHECKING_MODEL)
    return blockers


def blocker_summary(blockers: list[str]) -> str:
    """One line for beside the Generate button: the first reason, and how many more there are."""
    if not blockers:
        return ""
    return blockers[0] if len(blockers) == 1 else f"{blockers[0]} (+{len(blockers) - 1} more)"


# ----- the model files ------------------------------------------------------------------------------------
def _stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def model_files_key(model_dir: str, lora_path: str | None) -> ModelKey:
    """Changes when the folder, the LoRA or any file in the folder's top level (or its tokenizer) changes."""
    root = Path(model_dir)
    entries: list[tuple[str, tuple[int, int] | None]] = []
    try:
        with os.scandir(root) as found:
            entries = sorted((e.name, _stat(Path(e.path))) for e in found)
    except OSError:
        pass
    tokenizer = ModelFolder(root).tokenizer_dir
    lora = _stat(Path(lora_path)) if lora_path else None
    return (str(root), lora_path or "", tuple(entries), _stat(tokenizer), lora)


def quick_model_problems(model_dir: str, lora_path: str | None) -> list[str]:
    """Missing files, found without reading any weights (no torch): instant, on any thread."""
    folder = ModelFolder(Path(model_dir))
    if not folder.root.is_dir():
        return [f"model folder {folder.root} does not exist: choose the Wan2.1-T2V-14B folder in Settings"]
    problems = []
    for expert in detect_family(folder.root).experts:  # Wan2.2-A14B: a folder per expert
        dit = folder.for_expert(expert)
        if not dit.config_path.is_file():
            problems.append(f"{dit.config_path} is missing: is {folder.root} a Wan2.1-T2V model folder?")
        try:
            shards = dit.dit_shards()
        except PusaError as error:
            problems.extend(error.problems)
        else:
            missing = [name for name in shards if not (folder.root / name).is_file()]
            if missing:
                problems.append(f"{len(missing)} DiT shard(s) are missing, e.g. {missing[0]}: download them again")
    for path, what in ((folder.t5_path, "the T5 text encoder"), (folder.vae_path, "the VAE")):
        if not path.is_file():
            problems.append(f"{path} ({what}) is missing: copy it from the Wan2.1-T2V-14B download")
    if not folder.tokenizer_dir.is_dir():
        problems.append(f"tokenizer folder {folder.tokenizer_dir} is missing: copy google/umt5-xxl from the download")
    if lora_path is not None and not Path(lora_path).is_file():
        problems.append(f"the LoRA file {lora_path} does not exist: choose the Pusa V1 LoRA in Settings")
    return problems


class EngineAsker(Protocol):
    """What answers questions about the engine's files: the window's `EngineHost`, or a job client."""

    def ask(self, question: Question, setup: EngineSetup | None = None) -> Future: ...


def engine_file_check(engine: EngineAsker, timeout: float = 180.0) -> Callable[[str, str | None], list[str]]:
    """The full model check, done by the engine (in its own process: no torch in the window's): the
    header-only validation of every file, every problem listed. The function blocks: call it off the GUI."""

    def check(model_dir: str, lora_path: str | None) -> list[str]:
        future = engine.ask("check_files", EngineSetup(model_dir, lora_path or ""))
        try:
            answer: Answer = future.result(timeout)
        except FutureTimeout:
            return [f"could not check the model files: the engine did not answer within {timeout:.0f} s"]
        if answer.problem:
            return [f"could not check the model files: {answer.problem}"]
        return [str(problem) for problem in answer.value or []]

    return check


def _inside(model_dir: str, problems: tuple[str, ...]) -> tuple[str, ...]:
    prefix = str(Path(model_dir)) + os.sep
    return tuple(problem.replace(prefix, "") for problem in problems)


class ModelFilesCheck:
    """The model check, cached per `model_files_key`; the full check runs on a worker thread."""

    def __init__(self, validate: Callable[[str, str | None], list[str]]) -> None:
        """`validate` lists every problem (blocking): `engine_file_check(host)` in the window."""
        self._validate = validate
        self._results: dict[ModelKey, tuple[str, ...]] = {}
        self._running: set[ModelKey] = set()
        self._lock = threading.Lock()

    def status(self, model_dir: str, lora_path: str | None, done: Callable[[], None]) -> ModelStatus:
        """What is known now. When the files changed, the quick look answers at once and the full check
        starts; `done()` is called (on the worker thread) when it has finished. Paths inside the model
        folder are shown relative to it."""
        key = model_files_key(model_dir, lora_path)
        with self._lock:
            if key in self._results:
                return ModelStatus(False, _inside(model_dir, self._results[key]))
            if key in self._running:
                return ModelStatus(True, ())
        quick = tuple(quick_model_problems(model_dir, lora_path))
        with self._lock:
            if quick:
                self._results[key] = quick
                return ModelStatus(False, _inside(model_dir, quick))
            self._running.add(key)
        threading.Thread(
            target=self._run, args=(key, model_dir, lora_path, done), name="model-check", daemon=True
        ).start()
        return ModelStatus(True, ())

    def _run(self, key: ModelKey, model_dir: str, lora_path: str | None, done: Callable[[], None]) -> None:
        try:
            problems = tuple(self._validate(model_dir, lora_path))
        except Exception as error:  # noqa: BLE001 - shown to the user, never lost on a thread
            problems = (f"could not check the model files ({type(error).__name__}: {error})",)
        with self._lock:
            self._results[key] = problems
            self._running.discard(key)
        done()
