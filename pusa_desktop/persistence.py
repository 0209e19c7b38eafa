"""Saving and opening `.pusa` projects. The only module that knows the file format.

A `.pusa` file is a zip archive holding `project.json` (settings, timeline, queue, history) and an
`assets/` folder with a copy of every image and video the timeline and the jobs use, so a project
moved to another machine still opens with its keyframes. Result videos stay in the output folder;
the project records their paths.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from .model import (
    GenerationSettings,
    Job,
    JobState,
    Project,
    Timeline,
    TimelineKeyframe,
    TimelineVideo,
    to_plain,
)

FORMAT = "pusa-studio-project"
VERSION = 1
PROJECT_SUFFIX = ".pusa"


class ProjectFileError(Exception):
    """The file is not a Pusa Studio project or is damaged; the message says which."""


def _asset_name(path: str) -> str:
    digest = hashlib.sha1(Path(path).resolve().as_posix().encode()).hexdigest()[:12]
    return f"assets/{digest}_{Path(path).name}"


def _media_paths(project: Project) -> list[str]:
    paths = [kf.image for kf in project.timeline.keyframes]
    if project.timeline.video is not None:
        paths.append(project.timeline.video.path)
    for job in [*project.queue, *project.history]:
        paths += [kf["image"] for kf in job.request.get("keyframes", [])]
        if job.request.get("video"):
            paths.append(job.request["video"]["video"])
    return list(dict.fromkeys(paths))


def _rewrite_paths(data: Any, mapping: dict[str, str]) -> Any:
    """Replace every string equal to a key of `mapping` (media paths) anywhere in `data`."""
    if isinstance(data, dict):
        return {k: _rewrite_paths(v, mapping) for k, v in data.items()}
    if isinstance(data, list):
        return [_rewrite_paths(v, mapping) for v in data]
    if isinstance(data, str):
        return mapping.get(data, data)
    return data


def project_to_dict(project: Project) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "settings": to_plain(project.settings),
        "timeline": to_plain(project.timeline),
        "queue": [to_plain(j) for j in project.queue],
        "history": [to_plain(j) for j in project.history],
    }


def _job_from_dict(data: dict[str, Any]) -> Job:
    state = JobState(data.get("state", "queued"))
    if state is JobState.RUNNING:  # the app stopped while it ran: it can be run again
        state = JobState.QUEUED
    return Job(
        request=data["request"],
        state=state,
        id=data["id"],
        created=data.get("created", 0.0),
        result=data.get("result"),
        problems=list(data.get("problems", [])),
        thumbnail=data.get("thumbnail"),
    )


def project_from_dict(data: dict[str, Any]) -> Project:
    if data.get("format") != FORMAT:
        raise ProjectFileError("this file is not a Pusa Studio project")
    if data.get("version", 0) > VERSION:
        raise ProjectFileError("this project was saved by a newer Pusa Studio; update the app to open it")
    known = GenerationSettings.__dataclass_fields__
    settings = GenerationSettings(**{k: v for k, v in data.get("settings", {}).items() if k in known})
    tl = data.get("timeline", {})
    timeline = Timeline(
        keyframes=[TimelineKeyframe(**kf) for kf in tl.get("keyframes", [])],
        video=TimelineVideo(**tl["video"]) if tl.get("video") else None,
    )
    return Project(
        settings=settings,
        timeline=timeline,
        queue=[_job_from_dict(j) for j in data.get("queue", [])],
        history=[_job_from_dict(j) for j in data.get("history", [])],
    )


def save_project(project: Project, path: str | Path) -> list[str]:
    """Write the project and copies of its media to `path` (atomically). Returns media it could not find."""
    path = Path(path)
    missing: list[str] = []
    mapping: dict[str, str] = {}
    for media in _media_paths(project):
        if Path(media).is_file():
            mapping[media] = _asset_name(media)
        else:
            missing.append(media)
    data = _rewrite_paths(project_to_dict(project), mapping)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".saving-", suffix=PROJECT_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("project.json", json.dumps(data, indent=2))
            for media, arcname in mapping.items():
                zf.write(media, arcname, compress_type=zipfile.ZIP_STORED)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return missing


def load_project(path: str | Path, assets_dir: str | Path) -> Project:
    """Open a project; its media are unpacked into `assets_dir` and the paths point there."""
    path, assets_dir = Path(path), Path(assets_dir)
    try:
        with zipfile.ZipFile(path) as zf:
            data = json.loads(zf.read("project.json"))
            mapping: dict[str, str] = {}
            for name in zf.namelist():
                if name.startswith("assets/") and not name.endswith("/"):
                    target = assets_dir / Path(name).name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(name) as src, open(target, "wb") as dst:
                        dst.write(src.read())
                    mapping[name] = str(target)
    except FileNotFoundError as e:
        raise ProjectFileError(f"{path} does not exist") from e
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as e:
        raise ProjectFileError(f"{path} is damaged or not a Pusa Studio project ({e})") from e
    return project_from_dict(_rewrite_paths(data, mapping))
