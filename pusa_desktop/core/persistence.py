"""Saving and opening `.pusa` projects. The only module that knows the file format.

A `.pusa` file is a zip archive holding `project.json` (settings, timeline, queue, history) and an
`assets/` folder with a copy of every image and video the timeline and the jobs use, so a project
moved to another machine still opens with its keyframes. Result videos stay in the output folder;
the project records their paths (outputs this app wrote) and never reads or copies them.

A project is data, not a key to the user's disk: opening one reads nothing outside the archive. A media
reference that does not name one of its assets is dropped (see `load_project`), the unpacking is limited
and checked (`project_archive`), and project.json is read by a validating reader (`project_reader`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pusa_engine.atomic_files import temp_path_for
from pusa_engine.request import GenerationRequest

from .model import Job, JobState, Project, settings_to_plain, to_plain
from .project_archive import (
    CHUNK,
    DEFAULT_LIMITS,
    PROJECT_JSON,
    ArchiveLimits,
    ProjectFileError,
    asset_entry_name,
    open_archive,
    open_regular_file,
    shown,
)
from .project_reader import FORMAT, VERSION, job_label, read_project

__all__ = [
    "FORMAT",
    "PROJECT_SUFFIX",
    "VERSION",
    "ArchiveLimits",
    "LoadedProject",
    "ProjectFileError",
    "load_project",
    "project_to_dict",
    "save_project",
]

PROJECT_SUFFIX = ".pusa"
MAX_MESSAGES = 20
OUTSIDE = "which is not inside the project"


@dataclass
class LoadedProject:
    """An opened project and what the user should be told about it (parts dropped or repaired)."""

    project: Project
    messages: list[str]

    def __iter__(self) -> Iterator[Any]:  # `project, messages = load_project(...)` works too
        return iter((self.project, self.messages))


def project_to_dict(project: Project, job_to_plain: Callable[[Job], dict[str, Any]] = Job.to_plain) -> dict[str, Any]:
    """The project as plain data. `job_to_plain` may answer from a cache (autosave does: finished jobs
    rarely change, and a long history must not be converted again on every edit)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "settings": settings_to_plain(project.settings),
        "timeline": to_plain(project.timeline),
        "queue": [job_to_plain(j) for j in project.queue],
        "history": [job_to_plain(j) for j in project.history],
    }


def _media_places(data: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every media reference of a plain project dict, as (the dict holding it, its key)."""
    timeline = data["timeline"]
    for kf in timeline["keyframes"]:
        yield kf, "image"
    if timeline.get("video"):
        yield timeline["video"], "video"
    for job in [*data["queue"], *data["history"]]:
        request = job["request"]
        for kf in request.get("keyframes") or []:
            yield kf, "image"
        if request.get("video"):
            yield request["video"], "video"


def save_project(project: Project, path: str | Path) -> list[str]:
    """Write the project and copies of its media to `path` (atomically). Returns media it could not find.

    Only regular files are copied: a missing path, a folder, a FIFO or a device is reported as missing
    (and never blocks). Result videos and thumbnails are not media of the project and are not copied.
    """
    path = Path(path)
    data = project_to_dict(project)
    media = list(dict.fromkeys(holder[key] for holder, key in _media_places(data) if holder[key]))
    missing: list[str] = []
    mapping: dict[str, str] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for source in media:
                arcname = _copy_into(zf, source)
                if arcname is None:
                    missing.append(source)
                else:
                    mapping[source] = arcname
            for holder, key in _media_places(data):
                holder[key] = mapping.get(holder[key], holder[key])
            zf.writestr(PROJECT_JSON, json.dumps(data, indent=2))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return missing


def _copy_into(zf: zipfile.ZipFile, source: str) -> str | None:
    """Stream one media file into the archive (stored: images and videos do not compress); its entry name,
    or None when it is not a regular file that can be read."""
    try:
        arcname = asset_entry_name(source)
        if arcname in zf.NameToInfo:
            return arcname
        src = open_regular_file(source)
    except (OSError, ValueError):  # ValueError: a path with a NUL in it
        return None
    with src:
        st = os.fstat(src.fileno())
        info = zipfile.ZipInfo(arcname, time.localtime(max(st.st_mtime, 315532800))[:6])  # zip dates start in 1980
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = st.st_size
        info.external_attr = 0o644 << 16
        with zf.open(info, "w", force_zip64=st.st_size > (1 << 30)) as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    return arcname


def load_project(
    path: str | Path, assets_dir: str | Path, limits: ArchiveLimits = DEFAULT_LIMITS
) -> LoadedProject:
    """Open a project; its media are unpacked into `assets_dir/<digest>/<original name>`.

    Plain Python without Qt or shared state: it may run on a worker thread. Nothing outside the archive
    is read: a media reference that does not name one of its assets is dropped (a timeline keyframe or
    clip is removed, a queued job is marked failed, a history entry keeps its record with the path
    cleared) and `messages` says so. Raises ProjectFileError (one line) when the file is refused.
    """
    path = Path(path)
    with open_archive(path, limits) as archive:
        raw = archive.read_project_json()
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as error:  # JSONDecodeError and bad UTF-8 are ValueErrors
            reason = f"project.json: {str(error)[:100]}"
            raise ProjectFileError(f"{path} is damaged or not a Pusa Studio project ({reason})") from error
        project, notes = read_project(data)
        assets = archive.extract(set(_references(project)) & set(archive.assets), assets_dir)
        messages = [*archive.messages, *notes, *_adopt_media(project, assets)]
    if len(messages) > MAX_MESSAGES:
        messages = [*messages[: MAX_MESSAGES - 1], f"... and {len(messages) - MAX_MESSAGES + 1} more problems"]
    return LoadedProject(project, messages)


def _request_media(request: GenerationRequest) -> Iterator[tuple[str, object, str]]:
    """(what it is, holder, attribute) for each media reference of a checked request."""
    for kf in request.keyframes:
        yield f"keyframe at frame {kf.frame}", kf, "image"
    if request.video is not None:
        yield "video clip", request.video, "video"


def _references(project: Project) -> Iterator[str]:
    yield from (kf.image for kf in project.timeline.keyframes)
    if project.timeline.video is not None:
        yield project.timeline.video.video
    for job in [*project.queue, *project.history]:
        yield from (getattr(holder, key) for _what, holder, key in _request_media(job.request))


def _adopt_media(project: Project, assets: dict[str, str]) -> list[str]:
    """Point every media reference at its unpacked asset; drop the ones that name anything else."""
    notes: list[str] = []
    kept = []
    for kf in project.timeline.keyframes:
        if kf.image in assets:
            kf.image = assets[kf.image]
            kept.append(kf)
        else:
            notes.append(f"Timeline: the keyframe at frame {kf.frame} named {shown(kf.image)}, {OUTSIDE}: removed")
    project.timeline.keyframes = kept
    video = project.timeline.video
    if video is not None:
        if video.video in assets:
            video.video = assets[video.video]
        else:
            notes.append(f"Timeline: the video clip named {shown(video.video)}, {OUTSIDE}: removed")
            project.timeline.video = None
    for job in project.queue:
        _adopt_job_media(job, assets, notes, queued=True)
    for job in project.history:
        _adopt_job_media(job, assets, notes, queued=False)
    return notes


def _adopt_job_media(job: Job, assets: dict[str, str], notes: list[str], queued: bool) -> None:
    label = f"{'Queue' if queued else 'History'}: job {job_label(job.request.prompt)}"
    for what, holder, key in _request_media(job.request):
        ref = getattr(holder, key)
        setattr(holder, key, assets.get(ref, ""))
        if ref in assets or (not ref and (not queued or job.state is not JobState.QUEUED)):
            continue  # unpacked, or cleared before and already said
        problem = f"its {what} named {shown(ref)}, {OUTSIDE}" if ref else f"its {what} has no file"
        if not queued:
            notes.append(f"{label}: {problem}: path cleared")
            continue
        job.problems.append(f"The{problem[3:]}: add the media again and queue a new job")
        if job.state is JobState.QUEUED:
            job.state = JobState.FAILED
            notes.append(f"{label}: {problem}: the job cannot run as saved and is marked failed")
        else:
            notes.append(f"{label}: {problem}: path cleared")
