"""Recovering the work of an instance that died: jobs that finished on disk come back finished. No Qt here.

A job records the video path it writes to before it starts (`Job.output`). The engine writes the MP4 and
then its JSON sidecar, so a video with its sidecar beside it is a finished job, even when the window died
before it heard of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pusa_engine.atomic_files import is_finished_output, sidecar_path_for


def result_from_sidecar(video: Path) -> dict[str, Any] | None:
    """The job result of a finished video (MP4 + sidecar on disk), or None when it is not complete."""
    if not is_finished_output(video):
        return None
    sidecar = sidecar_path_for(video)
    try:
        settings = json.loads(sidecar.read_text(encoding="utf-8"))
        request = settings["request"]
        png_dir = video.with_suffix("")
        return {
            "video_path": str(video),
            "sidecar_path": str(sidecar),
            "seed": int(settings["seed"]),
            "frames": int(request["frames"]),
            "fps": int(request["fps"]),
            "seconds": float(settings.get("seconds", 0.0)),
            "png_dir": str(png_dir) if request.get("save_png_frames") and png_dir.is_dir() else None,
            "settings": settings,
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None


def settle_interrupted_jobs(project: dict[str, Any]) -> list[str]:
    """In a project's plain data: jobs that were running and whose video is complete on disk move to the
    history as done; the others go back to waiting. Returns one line per job that was found finished."""
    queue = project.get("queue")
    history = project.get("history")
    if not isinstance(queue, list) or not isinstance(history, list):
        return []
    found: list[str] = []
    for job in list(queue):
        if not isinstance(job, dict) or job.get("state") != "running":
            continue
        output = job.get("output")
        result = result_from_sidecar(Path(output)) if isinstance(output, str) and output else None
        if result is None:
            job["state"] = "queued"
            continue
        job["state"], job["result"] = "done", result
        queue.remove(job)
        history.insert(0, job)
        found.append(f"a job that finished while the window was gone: {Path(output).name}")
    return found
