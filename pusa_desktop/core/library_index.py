"""The library: every finished result on this machine, across projects. No Qt here.

A result is an MP4 with its JSON sidecar beside it (the engine renames the sidecar into place last, so
the pair means "finished"). The index remembers, for each result, what its sidecar says (checked like a
project's request) and the project that made it, in one JSON file in the app's data folder, so the
library opens at once after a restart. It is only a cache of the output folders: a damaged or foreign
index is rebuilt from the MP4 + sidecar pairs, and a result whose files are gone leaves it at the next scan.

Scanning is plain file reading and may run on a worker thread: `scan()` returns new entries and never
changes the index; `apply()` (on the thread that owns the index) takes them in.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pusa_engine.atomic_files import sidecar_path_for

from .project_archive import ProjectFileError, open_archive
from .project_reader import _Reader
from .session_store import write_atomic

INDEX_FORMAT = "pusa-studio-library"
INDEX_VERSION = 1
MAX_SIDECAR_BYTES = 2 * 1024 * 1024  # a real sidecar is about 2 KB; a bigger file is not ours
DEMO_MODEL_NAME = "Demo model (random weights)"
UNKNOWN_PROJECT = "Command line or unknown"
DAY = 24 * 3600


def model_name(model_files: Any) -> str:
    """A readable name for the model a result was made with: the folder's name and the LoRA file's."""
    if not isinstance(model_files, dict) or not isinstance(model_files.get("model_dir"), str):
        return "Unknown model"
    folder = Path(model_files["model_dir"]).name
    if folder.endswith("-demo"):
        return DEMO_MODEL_NAME
    lora = model_files.get("lora")
    return f"{folder} + {Path(lora).name}" if isinstance(lora, str) and lora else f"{folder} (no LoRA)"


@dataclass
class LibraryEntry:
    """One finished result: where its files are, what made it (the checked request) and when."""

    video: str
    created: float  # when it was finished (the sidecar's modification time)
    video_mtime: float
    video_size: int
    request: dict[str, Any]
    seed: int
    seconds: float
    model: str
    plan: str = ""
    project: str = ""  # the project's name, "" when not known (the command line, another machine)

    @property
    def sidecar(self) -> str:
        return str(sidecar_path_for(self.video))

    @property
    def prompt(self) -> str:
        return str(self.request.get("prompt") or "")

    @property
    def title(self) -> str:
        lines = self.prompt.strip().splitlines()
        text = lines[0] if lines else "(no prompt)"
        return text if len(text) <= 60 else text[:57] + "..."

    @property
    def project_name(self) -> str:
        return self.project or UNKNOWN_PROJECT

    @property
    def summary(self) -> str:
        r = self.request
        return f"{r.get('width')}x{r.get('height')}, {r.get('frames')} frames, {r.get('fps')} fps, seed {self.seed}"


def read_entry(video: str | Path, project: str = "") -> LibraryEntry | None:
    """The entry of a finished video (MP4 + sidecar), or None when the pair is incomplete or the sidecar is
    not one the engine wrote (too big, not JSON, no request)."""
    video = Path(video)
    sidecar = sidecar_path_for(video)
    try:
        video_stat, sidecar_stat = video.stat(), sidecar.stat()
        if sidecar_stat.st_size > MAX_SIDECAR_BYTES or video_stat.st_size == 0:
            return None
        data = json.loads(sidecar.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("request"), dict):
        return None
    request, _problems = _Reader()._request(data["request"])  # every field checked, as in a project
    seed = data.get("seed", request.get("seed"))
    if isinstance(seed, bool) or not isinstance(seed, int):
        return None
    request["seed"] = seed
    seconds = data.get("seconds", 0.0)
    seconds = float(seconds) if isinstance(seconds, (int, float)) and math.isfinite(seconds) else 0.0
    engine = data.get("engine") if isinstance(data.get("engine"), dict) else {}
    plan = engine.get("plan") if isinstance(engine.get("plan"), str) else ""
    return LibraryEntry(
        str(video.resolve()), sidecar_stat.st_mtime, video_stat.st_mtime, video_stat.st_size, request, seed,
        seconds, model_name(data.get("model_files")), plan[:200], project,
    )


def _entry_from_plain(data: Any) -> LibraryEntry | None:
    """An entry as the index stored it; None when it does not look like one (the scan reads it again)."""
    if not isinstance(data, dict):
        return None
    try:
        entry = LibraryEntry(**{k: data[k] for k in LibraryEntry.__dataclass_fields__})
    except (KeyError, TypeError):
        return None
    kinds = {"video": str, "request": dict, "model": str, "plan": str, "project": str}
    numbers = (entry.created, entry.video_mtime, entry.video_size, entry.seconds, entry.seed)
    if any(not isinstance(getattr(entry, k), t) for k, t in kinds.items()):
        return None
    if any(isinstance(n, bool) or not isinstance(n, (int, float)) for n in numbers):
        return None
    return entry


@dataclass
class ScanResult:
    """What one scan found: the entries of every finished video in the folders (reused when unchanged)."""

    entries: dict[str, LibraryEntry]
    folders: list[str]
    unreadable: list[str] = field(default_factory=list)  # folders that could not be listed


@dataclass
class LibraryFilter:
    """What the gallery shows: words of the prompt, a project, a model, results made since a time."""

    text: str = ""
    project: str | None = None  # None: every project
    model: str | None = None
    since: float | None = None
    until: float | None = None

    def matches(self, entry: LibraryEntry) -> bool:
        haystack = f"{entry.prompt} {Path(entry.video).name}".lower()
        if any(word not in haystack for word in self.text.lower().split()):
            return False
        if self.project is not None and entry.project_name != self.project:
            return False
        if self.model is not None and entry.model != self.model:
            return False
        if self.since is not None and entry.created < self.since:
            return False
        return self.until is None or entry.created < self.until


def days_ago(days: int, now: float | None = None) -> float:
    """The start of the day `days` days before today (0: today), local time."""
    local = time.localtime(now if now is not None else time.time())
    midnight = time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
    return midnight - days * DAY


class LibraryIndex:
    """The index file and the entries it holds, keyed by the video's absolute path."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.entries: dict[str, LibraryEntry] = {}
        self.folders: list[str] = []  # every output folder a result was found in or the app wrote to
        self.rebuilt = False  # the file was damaged or foreign: the next scan rebuilds it

    # ----- the file ------------------------------------------------------------------------------------
    def load(self) -> str | None:
        """Read the index; a message when it had to be dropped (it is rebuilt by the next scan)."""
        self.entries, self.folders, self.rebuilt = {}, [], False
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            self.rebuilt = True
            return f"The library index {self.path} cannot be read ({error.strerror}): it is rebuilt"
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            data = None
        ours = isinstance(data, dict) and data.get("format") == INDEX_FORMAT
        if not ours or not isinstance(data.get("entries"), list):
            self.rebuilt = True
            return f"The library index {self.path} was damaged: it is rebuilt from the output folders"
        folders = data.get("folders") if isinstance(data.get("folders"), list) else []
        self.folders = [f for f in folders if isinstance(f, str)]
        for plain in data["entries"]:
            entry = _entry_from_plain(plain)
            if entry is not None:
                self.entries[entry.video] = entry
        return None

    def to_json(self) -> str:
        entries = [asdict(e) for e in self.sorted_entries()]
        return json.dumps({"format": INDEX_FORMAT, "version": INDEX_VERSION, "folders": self.folders,
                           "entries": entries}, indent=1, allow_nan=False)

    def save(self, text: str | None = None) -> None:
        """Write the index atomically (`text` made by `to_json` on the owning thread, if given)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, text if text is not None else self.to_json())

    # ----- finding results -----------------------------------------------------------------------------
    def add_folder(self, folder: str | Path) -> bool:
        folder = str(Path(folder).expanduser().resolve())
        if folder in self.folders:
            return False
        self.folders.append(folder)
        return True

    def scan(self, extra_folders: Iterable[str | Path] = ()) -> ScanResult:
        """Every finished video in the known folders (and `extra_folders`), re-reading only the sidecars of
        results that changed. Does not change the index (it may run on a worker thread)."""
        folders = list(dict.fromkeys([*self.folders, *(str(Path(f).expanduser().resolve()) for f in extra_folders)]))
        known = dict(self.entries)
        found: dict[str, LibraryEntry] = {}
        unreadable: list[str] = []
        for folder in folders:
            try:
                videos = [Path(e.path) for e in os.scandir(folder) if e.name.lower().endswith(".mp4") and e.is_file()]
            except OSError:
                unreadable.append(folder)
                videos = [Path(v) for v in known if Path(v).parent == Path(folder)]
            for video in videos:
                key = str(video.resolve())
                old = known.get(key)
                if old is not None and _unchanged(old, video):
                    found[key] = old
                    continue
                entry = read_entry(video, old.project if old is not None else "")
                if entry is not None:
                    found[entry.video] = entry
        return ScanResult(found, folders, unreadable)

    def apply(self, result: ScanResult) -> tuple[int, int]:
        """Take a scan's entries in, keeping projects named since it started; (added, removed)."""
        before = set(self.entries)
        for key, entry in result.entries.items():
            current = self.entries.get(key)
            if current is not None and current.project and not entry.project:
                entry.project = current.project
        self.entries = dict(result.entries)
        self.folders = list(dict.fromkeys([*self.folders, *result.folders]))
        self.rebuilt = False
        return len(set(self.entries) - before), len(before - set(self.entries))

    def add_video(self, video: str | Path, project: str = "") -> LibraryEntry | None:
        """A result the window just made: its entry, named with its project, and its folder remembered."""
        entry = read_entry(video, project)
        if entry is None:
            return None
        old = self.entries.get(entry.video)
        if old is not None and not project:
            entry.project = old.project
        self.entries[entry.video] = entry
        self.add_folder(Path(entry.video).parent)
        return entry

    def set_project(self, video: str | Path, project: str) -> bool:
        """Name the project a result belongs to; True when that changed the index."""
        entry = self.entries.get(str(Path(video).resolve()))
        if entry is None or entry.project == project:
            return False
        entry.project = project
        return True

    def name_projects(self, names: dict[str, str]) -> int:
        """Name the project of results not yet known to belong to one (video path -> project name)."""
        named = 0
        for video, project in names.items():
            entry = self.entries.get(str(Path(video).resolve()))
            if entry is not None and not entry.project:
                entry.project = project
                named += 1
        return named

    # ----- what the gallery shows ----------------------------------------------------------------------
    def sorted_entries(self) -> list[LibraryEntry]:
        return sorted(self.entries.values(), key=lambda e: (-e.created, e.video))

    def search(self, wanted: LibraryFilter) -> list[LibraryEntry]:
        return [e for e in self.sorted_entries() if wanted.matches(e)]

    def projects(self) -> list[str]:
        return sorted({e.project_name for e in self.entries.values()}, key=str.lower)

    def models(self) -> list[str]:
        return sorted({e.model for e in self.entries.values()}, key=str.lower)


def _unchanged(entry: LibraryEntry, video: Path) -> bool:
    try:
        st, sidecar = video.stat(), sidecar_path_for(video).stat()
    except OSError:
        return False
    return st.st_mtime == entry.video_mtime and st.st_size == entry.video_size and sidecar.st_mtime == entry.created


def project_results(project_files: Iterable[str | Path]) -> dict[str, str]:
    """The results named in saved projects' histories (video path -> project name), read from each
    project.json only (nothing is unpacked). Unreadable projects are skipped."""
    names: dict[str, str] = {}
    for path in project_files:
        try:
            with open_archive(path) as archive:
                data = json.loads(archive.read_project_json())
        except (ProjectFileError, OSError, ValueError, RecursionError):
            continue
        history = data.get("history") if isinstance(data, dict) else None
        for job in history if isinstance(history, list) else []:
            result = job.get("result") if isinstance(job, dict) else None
            video = result.get("video_path") if isinstance(result, dict) else None
            if isinstance(video, str) and video:
                names.setdefault(video, Path(path).stem)
    return names
