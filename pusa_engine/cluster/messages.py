"""What crosses between a cluster client and a worker, besides the job protocol's own events.

    client -> worker:  JobSpec (the request as a dict, the files it names as bytes, keyed by content)
    worker -> client:  JobEvent | EngineStatus ... RemoteEnd(JobEnded, ResultFiles with the output bytes)

The request names files on the user's machine (keyframe images, a clip, extra LoRAs); the worker gets their
bytes, stores them by content and runs the request on those copies, then writes the user's own paths back
into the sidecar, so it reads as if the job had run locally. Pure Python: the window uses it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic_files import OutputUnit, sidecar_path_for
from ..errors import InputMediaError
from ..events import JobResult
from ..jobs.protocol import JobEnded
from ..request import GenerationRequest


@dataclass(frozen=True)
class WorkerInfo:
    """A worker as a client sees it."""

    name: str
    node: str  # the node's IP address
    host: str  # its host name
    plan: str  # the device plan's description
    model: str  # the model folder's name
    version: str  # pusa_engine's version on the worker
    pid: int
    busy: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} ({self.host}, {self.plan})"


@dataclass
class JobSpec:
    job_id: str
    request: dict[str, Any]  # GenerationRequest.to_dict(), its file paths replaced by content keys
    files: dict[str, bytes]  # content key -> bytes, only those the worker does not have yet
    originals: dict[str, str]  # content key -> the path on the user's machine (for the sidecar)
    out_name: str  # the output's file name (the PNG frame folder is named after it)
    trace: bool = False


@dataclass
class ResultFiles:
    video: bytes
    sidecar: bytes
    result: JobResult  # the worker's paths; seed, frames, fps, seconds and the sidecar's settings
    png_frames: dict[str, bytes] | None = None
    trace: bytes | None = None
    finished_at: float = 0.0  # time.time() on the worker when the files were read (measures the transfer)


@dataclass
class RemoteEnd:
    """The last message of a remote job."""

    ended: JobEnded
    files: ResultFiles | None = None


# ---- the files a request names -------------------------------------------------------------------------
def file_fields(request: GenerationRequest) -> list[tuple[Any, str]]:
    """(object, attribute) of every file path in the request: keyframe images, the clip, extra LoRAs."""
    fields: list[tuple[Any, str]] = [(kf, "image") for kf in request.keyframes]
    if request.video is not None:
        fields.append((request.video, "video"))
    fields += [(spec, "path") for spec in getattr(request, "loras", []) or []]
    return fields


_digests: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> sha256, so big LoRAs hash once


def content_key(path: str | os.PathLike[str]) -> str:
    """sha256 of the file plus its extension (readers go by the extension)."""
    p = Path(path)
    try:
        stat = p.stat()
        if not p.is_file():
            raise InputMediaError(f"{p} is not a regular file: choose the image, clip or LoRA file itself")
        memo = (str(p.resolve()), stat.st_size, stat.st_mtime_ns)
        if memo not in _digests:
            digest = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            _digests[memo] = digest.hexdigest()
    except FileNotFoundError as error:
        raise InputMediaError(f"the file {p} does not exist: it was moved or deleted; choose it again") from error
    except OSError as error:
        raise InputMediaError(f"cannot read {p} ({error.strerror or error}): check the file") from error
    return _digests[memo] + p.suffix.lower()


def keyed_request(request: GenerationRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """The request as a dict with each file path replaced by its content key; key -> original path."""
    copied = copy.deepcopy(request)
    originals: dict[str, str] = {}
    for obj, attr in file_fields(copied):
        original = getattr(obj, attr)
        key = content_key(original)
        originals[key] = str(original)
        setattr(obj, attr, key)
    return copied.to_dict(), originals


def read_files(keys: list[str], originals: dict[str, str]) -> dict[str, bytes]:
    out = {}
    for key in keys:
        try:
            out[key] = Path(originals[key]).read_bytes()
        except OSError as error:
            raise InputMediaError(f"cannot read {originals[key]} ({error.strerror or error})") from error
    return out


def local_request(data: dict[str, Any], folder: Path) -> GenerationRequest:
    """On the worker: the request with each content key replaced by the stored copy's path."""
    request = GenerationRequest.from_dict(data)
    for obj, attr in file_fields(request):
        setattr(obj, attr, str(folder / Path(getattr(obj, attr)).name))
    return request


def restore_paths(value: Any, paths: dict[str, str]) -> Any:
    """The sidecar's settings with the worker's copies named by the user's own paths again."""
    if isinstance(value, str):
        return paths.get(value, value)
    if isinstance(value, dict):
        return {k: restore_paths(v, paths) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [restore_paths(v, paths) for v in value]
    return value


def sidecar_bytes(settings: dict[str, Any]) -> bytes:
    """The sidecar exactly as `write_json_atomic` writes it."""
    return (json.dumps(settings, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


# ---- the result on the user's machine --------------------------------------------------------------------
def write_result(files: ResultFiles, out_path: str | os.PathLike[str],
                 trace_path: str | os.PathLike[str] | None = None) -> JobResult:
    """Write the worker's files where a local job writes them, as one unit (temporaries, sidecar last)."""
    out = Path(out_path)
    png_dir = out.with_suffix("") if files.png_frames is not None else None
    with OutputUnit(out) as unit:
        unit.temp_for(out).write_bytes(files.video)
        if png_dir is not None and files.png_frames is not None:
            folder = unit.temp_for(png_dir)
            folder.mkdir(parents=True)
            for name, data in sorted(files.png_frames.items()):
                (folder / Path(name).name).write_bytes(data)
        if trace_path is not None and files.trace is not None:
            unit.temp_for(trace_path).write_bytes(files.trace)
        unit.temp_for(unit.sidecar).write_bytes(files.sidecar)
    r = files.result
    return JobResult(str(out), str(sidecar_path_for(out)), r.seed, r.frames, r.fps, r.seconds,
                     str(png_dir) if png_dir is not None else None, dict(r.settings))


@dataclass
class EventLog:
    """A job's messages on the worker, from `base` on (those before were acknowledged by the client)."""

    base: int = 0
    items: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.base + len(self.items)

    def acknowledge(self, upto: int) -> None:
        drop = max(0, min(upto, self.count) - self.base)
        del self.items[:drop]
        self.base += drop

    def since(self, index: int) -> list[Any]:
        return self.items[max(0, index - self.base):]
