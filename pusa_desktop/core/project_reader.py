"""Reading `project.json` without trusting it: every value is checked for type and range.

A file that is not a project (or comes from a newer app) is refused with one ProjectFileError. Anything
else that is wrong is repaired or dropped, and a plain message says what: a setting goes back to its
default, a broken timeline keyframe or clip is removed, a queued job whose request cannot run as saved
is marked failed, a history entry keeps its record. Media paths are left as written; `persistence`
decides which of them name files inside the project.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pusa_engine.events import JobResult
from pusa_engine.request import (
    CFG_RANGE,
    FPS_RANGE,
    LORA_ALPHA_RANGE,
    MAX_SEED,
    NOISE_RANGE,
    STEPS_RANGE,
    GenerationRequest,
    latent_frames,
)

from .model import (
    IMAGE_TO_VIDEO_NOISE,
    SETTINGS_ONLY,
    EditorSettings,
    Job,
    JobState,
    Mode,
    Project,
    Timeline,
    TimelineKeyframe,
    TimelineVideo,
    detect_mode,
    new_id,
)
from .project_archive import ProjectFileError, shown

FORMAT = "pusa-studio-project"
VERSION = 1
SIZE_RANGE = (16, 2048)  # the parameter panel's limits
FRAMES_RANGE = (1, 241)
SHIFT_RANGE = (0.5, 20.0)
MAX_SLOT = latent_frames(FRAMES_RANGE[1]) - 1
MAX_TEXT = 100_000
MAX_ID = 64
MAX_JOBS = 10_000


@dataclass(frozen=True)
class Rule:
    """What one plain value must be: its type, and a range or a set of choices."""

    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False  # None is allowed

    def problem(self, value: Any) -> str | None:
        """Why `value` breaks the rule, as the end of a sentence; None when it is fine."""
        if value is None:
            return None if self.optional else "is empty"
        if not _is_kind(value, self.kind):
            return f"is not {_KIND_NAMES.get(self.kind, self.kind.__name__)}"
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                return "is too long"
            if self.choices and value not in self.choices:
                return f"must be one of {', '.join(self.choices)}"
        elif self.low is not None and self.high is not None and not self.low <= value <= self.high:
            return f"must be between {_number(self.low)} and {_number(self.high)}"
        return None

    def value(self, value: Any) -> Any:
        return float(value) if self.kind is float and value is not None else value


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


_KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def _is_kind(value: Any, kind: type) -> bool:
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)


_COMMON_RULES = {
    "prompt": Rule(str),
    "negative_prompt": Rule(str),
    "width": Rule(int, *SIZE_RANGE),
    "height": Rule(int, *SIZE_RANGE),
    "frames": Rule(int, *FRAMES_RANGE),
    "steps": Rule(int, *STEPS_RANGE),
    "cfg": Rule(float, *CFG_RANGE),
    "shift": Rule(float, *SHIFT_RANGE),
    "lora_alpha": Rule(float, *LORA_ALPHA_RANGE),
    "fps": Rule(int, *FPS_RANGE),
    "fit": Rule(str, choices=("crop", "pad")),
    "save_png_frames": Rule(bool),
}
SETTING_RULES = {**_COMMON_RULES, "seed": Rule(int, 0, MAX_SEED), "new_seed_each_run": Rule(bool)}
REQUEST_RULES = {**_COMMON_RULES, "seed": Rule(int, 0, MAX_SEED, optional=True)}
_FRAME = Rule(int, 0, FRAMES_RANGE[1] - 1)
_NOISE = Rule(float, *NOISE_RANGE)
_SLOT = Rule(int, 0, MAX_SLOT)
_IN_FRAME = Rule(int, 0, 10**7)  # a clip's in point: any frame of a long clip
_PATH = Rule(str)


def _defaults(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _rule_for(name: str, default: Any) -> Rule:
    """A setting added to the model without a rule here still loads, checked by the type of its default."""
    return SETTING_RULES.get(name) or Rule(type(default))


def read_project(data: Any) -> tuple[Project, list[str]]:
    """The project in a parsed project.json, and what had to be repaired; ProjectFileError if it is none."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProjectFileError("this file is not a Pusa Studio project")
    version = data.get("version", VERSION)
    if not _is_kind(version, int):
        raise ProjectFileError(f"its project.json is damaged: the version {shown(version)} is not a whole number")
    if version > VERSION:
        raise ProjectFileError("this project was saved by a newer Pusa Studio; update the app to open it")
    reader = _Reader()
    project = Project(
        settings=reader.settings(data.get("settings", {})),
        timeline=reader.timeline(data.get("timeline", {})),
        queue=reader.jobs(data.get("queue", []), "Queue"),
        history=reader.jobs(data.get("history", []), "History"),
    )
    return project, reader.notes


class _Reader:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.keyframe_ids: set[str] = set()
        self.job_ids: set[str] = set()

    # ----- settings --------------------------------------------------------------------------------
    def settings(self, data: Any) -> EditorSettings:
        if not isinstance(data, dict):
            self.notes.append("Settings: they are damaged: the defaults are used")
            return EditorSettings()
        defaults = {k: v for k, v in _defaults(EditorSettings).items() if k not in SETTINGS_ONLY}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in defaults:
                self.notes.append(f"Settings: the unknown setting {shown(key)} was ignored")
                continue
            rule = _rule_for(key, defaults[key])
            problem = rule.problem(value)
            if problem:
                self.notes.append(
                    f"Settings: {key} {shown(value)} {problem}: the default {shown(defaults[key], 30)} is used"
                )
            else:
                values[key] = rule.value(value)
        return EditorSettings(**values)

    # ----- timeline --------------------------------------------------------------------------------
    def timeline(self, data: Any) -> Timeline:
        if not isinstance(data, dict):
            self.notes.append("Timeline: it is damaged: it starts empty")
            return Timeline()
        raw = data.get("keyframes", [])
        if not isinstance(raw, list):
            self.notes.append("Timeline: its keyframes are damaged: removed")
            raw = []
        keyframes = [kf for kf in (self._keyframe(k) for k in raw[: FRAMES_RANGE[1]]) if kf is not None]
        if len(raw) > FRAMES_RANGE[1]:
            self.notes.append(f"Timeline: {len(raw) - FRAMES_RANGE[1]} keyframe(s) past the first 241 were removed")
        video = None
        if data.get("video") is not None:
            video_data, problem = self._video(data["video"], _clip_key(data["video"]))
            if problem:
                self.notes.append(f"Timeline: the video clip {problem}: removed")
            elif video_data:
                video = TimelineVideo(video_data.get("video", video_data.get("path")), video_data["slots"],
                                      video_data["noise"], video_data["start_slot"], video_data["in_frame"])
        timeline = Timeline(keyframes=keyframes, video=video)
        mode = data.get("mode")  # projects saved before modes were kept: the one the layout is closest to
        if mode is not None and mode not in [m.value for m in Mode]:
            self.notes.append(f"Timeline: the mode {shown(mode)} is unknown: the timeline's own is shown")
        timeline.mode = Mode(mode) if mode in [m.value for m in Mode] else detect_mode(timeline)
        return timeline

    def _keyframe(self, data: Any) -> TimelineKeyframe | None:
        if not isinstance(data, dict):
            self.notes.append("Timeline: a keyframe is damaged: removed")
            return None
        frame, image = data.get("frame"), data.get("image")
        where = f"the keyframe at frame {frame}" if _FRAME.problem(frame) is None else "a keyframe"
        problem = _field_problem("frame", frame, _FRAME) or _image_problem(image)
        if problem:
            self.notes.append(f"Timeline: {where} {problem}: removed")
            return None
        noise = data.get("noise", IMAGE_TO_VIDEO_NOISE)
        if _NOISE.problem(noise):
            self.notes.append(f"Timeline: {where}'s noise {shown(noise)} {_NOISE.problem(noise)}: set to 0.2")
            noise = IMAGE_TO_VIDEO_NOISE
        return TimelineKeyframe(image, frame, float(noise), self._unique_id(data.get("id"), self.keyframe_ids))

    def _video(self, data: Any, path_key: str) -> tuple[dict[str, Any] | None, str | None]:
        """A clip's fields (`path_key` names its file) checked, or why it is broken."""
        if not isinstance(data, dict):
            return None, "is damaged"
        path, slots, noise = data.get(path_key), data.get("slots"), data.get("noise")
        if not isinstance(path, str) or _PATH.problem(path):
            return None, "names no file"
        if not isinstance(slots, list) or not isinstance(noise, list) or len(slots) != len(noise) or not slots:
            return None, "has no matching slots and noise values"
        bad = [s for s in slots if _SLOT.problem(s)] + [m for m in noise if _NOISE.problem(m)]
        if bad:
            return None, f"has a slot or noise value that is not valid ({shown(bad[0])})"
        if len(set(slots)) != len(slots):
            return None, "uses a slot twice"
        start, in_frame = data.get("start_slot", 0), data.get("in_frame", 0)  # absent before clips had them
        problem = _field_problem("start slot", start, _SLOT) or _field_problem("in frame", in_frame, _IN_FRAME)
        if problem:
            return None, problem
        if min(slots) < start:
            return None, f"has slot {min(slots)} before its start slot {start}"
        placed = {"start_slot": start, "in_frame": in_frame}
        return {path_key: path, "slots": list(slots), "noise": [float(m) for m in noise], **placed}, None

    # ----- jobs ------------------------------------------------------------------------------------
    def jobs(self, data: Any, where: str) -> list[Job]:
        if not isinstance(data, list):
            self.notes.append(f"{where}: it is damaged: it starts empty")
            return []
        if len(data) > MAX_JOBS:
            self.notes.append(f"{where}: {len(data) - MAX_JOBS} job(s) past the first {MAX_JOBS} were removed")
        jobs = (self._job(item, where, i) for i, item in enumerate(data[:MAX_JOBS]))
        return [job for job in jobs if job is not None]

    def _job(self, data: Any, where: str, index: int) -> Job | None:
        if not isinstance(data, dict) or not isinstance(data.get("request"), dict):
            self.notes.append(f"{where}: entry {index + 1} is not a job with a request: removed")
            return None
        request, problems = self._request(data["request"])
        job = Job(request=GenerationRequest.from_dict(request), created=0.0)
        label = f"{where}: job {job_label(request.get('prompt'))}"
        queued = where == "Queue"
        state = data.get("state", "queued" if queued else "done")
        if state not in [s.value for s in JobState]:  # a list: the saved state may be any JSON value
            problems.append(f"its state {shown(state)} is unknown")
            state = JobState.FAILED if queued else JobState.DONE
        job.state = JobState(state)
        if job.state is JobState.RUNNING:  # the app stopped while it ran: it can be run again
            job.state = JobState.QUEUED
        job.id = self._unique_id(data.get("id"), self.job_ids, label)
        created = data.get("created", 0.0)
        if _is_kind(created, float) and created >= 0:
            job.created = float(created)
        saved_problems = data.get("problems")
        job.problems = [p for p in saved_problems if isinstance(p, str)] if isinstance(saved_problems, list) else []
        job.thumbnail = data.get("thumbnail") if isinstance(data.get("thumbnail"), str) else None
        job.output = data.get("output") if isinstance(data.get("output"), str) else None
        job.result = self._result(data.get("result"), label)
        for problem in problems:
            if queued:
                job.problems.append(f"The saved request is damaged: {problem}")
                self.notes.append(f"{label}: {problem}: the job cannot run as saved and is marked failed")
            else:
                self.notes.append(f"{label}: {problem}: repaired")
        if problems and queued:
            job.state = JobState.FAILED
        return job

    def _request(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """A request with every field of GenerationRequest, checked; the problems found on the way."""
        out: dict[str, Any] = {"prompt": "", **_defaults(GenerationRequest)}
        problems: list[str] = []
        for key, rule in REQUEST_RULES.items():
            if key in data:
                problem = rule.problem(data[key])
                if problem:
                    problems.append(f"{key} {shown(data[key])} {problem}")
                else:
                    out[key] = rule.value(data[key])
        raw = data.get("keyframes", [])
        if not isinstance(raw, list) or len(raw) > FRAMES_RANGE[1]:
            problems.append("its keyframes are damaged")
            raw = []
        out["keyframes"] = []
        for i, kf in enumerate(raw):
            fields = kf if isinstance(kf, dict) else {}
            image, frame, noise = fields.get("image"), fields.get("frame"), fields.get("noise", IMAGE_TO_VIDEO_NOISE)
            problem = _field_problem("frame", frame, _FRAME) or _field_problem("noise", noise, _NOISE)
            if problem or not isinstance(image, str) or _PATH.problem(image):
                problems.append(f"keyframe {i + 1} {problem or 'names no file'}")
                continue
            out["keyframes"].append({"image": image, "frame": frame, "noise": float(noise)})
        out["video"] = None
        if data.get("video") is not None:
            video, problem = self._video(data["video"], "video")
            if problem:
                problems.append(f"its video clip {problem}")
            out["video"] = video
        return out, problems

    def _result(self, data: Any, label: str) -> JobResult | None:
        """The result record; its paths stay text (outputs this app wrote) and are never read here."""
        if data is None:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("video_path"), str):
            self.notes.append(f"{label}: its result record is damaged: removed")
            return None
        video = data["video_path"]
        found = {"sidecar_path": str(Path(video).with_suffix(".json")), "seed": 0, "frames": 0, "fps": 16,
                 "seconds": 0.0}  # what a record saved without them falls back to
        kinds = {"sidecar_path": str, "seed": int, "frames": int, "fps": int, "seconds": float}
        for key, kind in kinds.items():
            if _is_kind(data.get(key), kind):
                found[key] = kind(data[key])
        png_dir = data.get("png_dir") if isinstance(data.get("png_dir"), str) else None
        settings = data.get("settings") if isinstance(data.get("settings"), dict) else {}
        return JobResult(video, **found, png_dir=png_dir, settings=settings)

    def _unique_id(self, value: Any, seen: set[str], label: str = "") -> str:
        """The saved id when it is a short text not used yet; otherwise a new one (said when it was a clash)."""
        if isinstance(value, str) and 0 < len(value) <= MAX_ID and value not in seen:
            seen.add(value)
            return value
        if label and isinstance(value, str) and value in seen:
            self.notes.append(f"{label}: its id {shown(value)} is used by another job: it got a new one")
        elif label and value is not None:
            self.notes.append(f"{label}: its id {shown(value)} is damaged: it got a new one")
        fresh = new_id()
        seen.add(fresh)
        return fresh


def _clip_key(data: Any) -> str:
    """The timeline clip's file is `video` (the engine's name); projects saved before called it `path`."""
    return "path" if isinstance(data, dict) and "video" not in data and "path" in data else "video"


def job_label(prompt: Any) -> str:
    """A job as messages name it: its prompt's first line, short and quoted."""
    lines = prompt.strip().splitlines() if isinstance(prompt, str) else []
    return shown(lines[0] if lines else "(no prompt)", 40)


def _field_problem(name: str, value: Any, rule: Rule) -> str | None:
    problem = rule.problem(value)
    return f"has a {name} {shown(value)} that {problem}" if problem else None


def _image_problem(image: Any) -> str | None:
    return "has no image" if not isinstance(image, str) or not image or _PATH.problem(image) else None
