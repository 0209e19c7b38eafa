"""A worker: the Ray actor that holds one loaded `Engine` and runs jobs for cluster clients, one at a time.

`serve` makes it an actor pinned to its node (and GPUs) under the name `pusa-worker:<name>` in our namespace.
The constructor validates the model folder and loads it, so a worker answers only once it can run a job.
Jobs run on a thread of their own; the actor's methods (a threaded actor) stay free for the client:

    missing(keys)             which of the request's files (by content) the worker does not have yet
    submit(spec)              store the files, queue the job
    events(job, after, wait)  the job's messages after index `after`, waiting up to `wait` s for one (long poll)
    cancel(job)               stop it within one step
    forget(job)               drop what is kept of an ended job
    close()                   cancel everything, remove the work folder (before the worker is ended)

A job whose client stops asking for events (its window closed, its machine gone) is cancelled after
ORPHAN_SECONDS. torch is imported by the engine only, inside the actor's process.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from .. import __version__
from ..atomic_files import process_alive, temp_path_for
from ..events import CancelToken
from ..jobs.protocol import EngineSetup, EngineStatus, FromEngine, JobEnded, JobEvent, Submit
from .messages import EventLog, JobSpec, RemoteEnd, ResultFiles, WorkerInfo, local_request, restore_paths, sidecar_bytes

log = logging.getLogger(__name__)
ORPHAN_SECONDS = 120.0  # no events asked for this long: the client is gone, the job is cancelled
CANCELLING = "cancelling: the job stops after the step now running"
FILE_CACHE_BYTES = 4 << 30  # the request files kept by content beyond this are removed, oldest first


class _Job:
    def __init__(self, spec: JobSpec) -> None:
        self.spec = spec
        self.log = EventLog()
        self.token = CancelToken()
        self.last_poll = time.monotonic()
        self.ended = False


class PusaWorker:
    def __init__(self, name: str, setup: EngineSetup, demo_dir: str, node: str = "") -> None:
        from ..jobs.service import JobService

        self.name, self.setup = name, setup
        self.node = node or _node_ip()
        self._cond = threading.Condition()
        self._run_lock = threading.Lock()  # one job at a time on the engine
        self._jobs: dict[str, _Job] = {}
        self._current: str | None = None
        _remove_dead_workers_folders()
        self._work = Path(tempfile.mkdtemp(prefix=f"pusa-worker-{os.getpid()}-"))
        self._files = self._work / "files"
        self._files.mkdir()
        self._service = JobService(demo_dir, self._on_message)
        self.plan = self._service.load(setup)  # validates the files and loads every model; raises if it cannot

    # ---- for clients -------------------------------------------------------------------------------
    def info(self) -> WorkerInfo:
        model = Path(self._service.resolve(self.setup).model_dir).name
        return WorkerInfo(self.name, self.node, socket.gethostname(), self.plan, model, __version__, os.getpid(),
                          busy=self._current is not None)

    def missing(self, keys: list[str]) -> list[str]:
        return [key for key in keys if not (self._files / Path(key).name).is_file()]

    def submit(self, spec: JobSpec) -> None:
        for key, data in spec.files.items():
            target = self._files / Path(key).name
            tmp = temp_path_for(target)
            tmp.write_bytes(data)
            os.replace(tmp, target)
        spec.files = {}
        with self._cond:
            self._jobs[spec.job_id] = _Job(spec)
        threading.Thread(target=self._run, args=(spec.job_id,), name=f"job-{spec.job_id}", daemon=True).start()

    def events(self, job_id: str, after: int, wait: float) -> list | None:
        """Messages after `after` (those before are dropped: the client has them); None for an unknown job."""
        deadline = time.monotonic() + max(0.0, min(wait, 30.0))
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            job.last_poll = time.monotonic()
            job.log.acknowledge(after)
            while job.log.count <= after and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            job.last_poll = time.monotonic()
            return job.log.since(after)

    def cancel(self, job_id: str) -> None:
        with self._cond:
            job = self._jobs.get(job_id)
        if job is not None and not job.token.cancelled:
            job.token.cancel()
            self._push(job_id, EngineStatus(CANCELLING))  # after it, at most the step that was running

    def forget(self, job_id: str) -> None:
        with self._cond:
            self._jobs.pop(job_id, None)

    def close(self) -> None:
        """Cancel what runs and remove the work folder (serve calls it before it ends the worker)."""
        with self._cond:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.token.cancel()
        shutil.rmtree(self._work, ignore_errors=True)

    # ---- the job thread ----------------------------------------------------------------------------
    def _push(self, job_id: str, message: object) -> None:
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                return
            job.log.items.append(message)
            self._cond.notify_all()
            if not job.ended and time.monotonic() - job.last_poll > ORPHAN_SECONDS:
                log.warning("job %s: its client stopped asking for events; cancelling it", job_id)
                job.token.cancel()

    def _on_message(self, message: FromEngine) -> None:
        if isinstance(message, JobEvent) and message.job_id in self._jobs:
            self._push(message.job_id, message)
        elif isinstance(message, EngineStatus) and self._current is not None:
            self._push(self._current, message)

    def _run(self, job_id: str) -> None:
        job = self._jobs[job_id]
        if self._run_lock.locked():
            self._push(job_id, EngineStatus(f"{self.name}: waiting for the job before this one"))
        with self._run_lock:
            self._current = job_id
            folder = self._work / "jobs" / job_id
            try:
                end = self._run_job(job, folder)
            except Exception as error:  # noqa: BLE001 - the client must hear how it ended
                log.exception("job %s failed on the worker", job_id)
                end = RemoteEnd(JobEnded(job_id, "failed", problems=[f"the worker {self.name} failed: {error}"]))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
                self._current = None
            job.ended = True
            self._push(job_id, end)
        self._trim_file_cache()

    def _run_job(self, job: _Job, folder: Path) -> RemoteEnd:
        spec = job.spec
        out = folder / "out" / Path(spec.out_name).name
        out.parent.mkdir(parents=True)
        trace = out.with_suffix(".safetensors") if spec.trace else None
        request = local_request(spec.request, self._files)
        self._push(spec.job_id, EngineStatus(f"{self.name} on {self.node}: {self.plan}"))
        ended = self._service.run(Submit(spec.job_id, request, str(out), self.setup,
                                         str(trace) if trace is not None else None), job.token)
        if ended.outcome != "done" or ended.result is None:
            return RemoteEnd(ended)
        result = ended.result
        paths = {str(self._files / Path(key).name): original for key, original in spec.originals.items()}
        result.settings = restore_paths(result.settings, paths)
        result.settings["cluster"] = {"worker": self.name, "node": self.node, "host": socket.gethostname()}
        png = None
        if result.png_dir is not None:
            png = {p.name: p.read_bytes() for p in sorted(Path(result.png_dir).iterdir()) if p.is_file()}
        files = ResultFiles(Path(result.video_path).read_bytes(), sidecar_bytes(result.settings), result, png,
                            trace.read_bytes() if trace is not None else None, time.time())
        return RemoteEnd(ended, files)

    def _trim_file_cache(self) -> None:
        try:
            files = sorted((p for p in self._files.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime)
            total = sum(p.stat().st_size for p in files)
            for p in files:
                if total <= FILE_CACHE_BYTES:
                    break
                total -= p.stat().st_size
                p.unlink()
        except OSError as error:
            log.warning("could not trim the file cache: %s", error)


def _remove_dead_workers_folders() -> None:
    """The work folders of workers whose process is gone (killed: nothing of theirs ran at exit)."""
    for folder in Path(tempfile.gettempdir()).glob("pusa-worker-*-*"):
        pid = folder.name.split("-")[2]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _node_ip() -> str:
    try:
        import ray

        return ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - only a label
        return socket.gethostname()
