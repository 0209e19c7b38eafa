"""The cluster transport: `ClusterClient` is a `JobClient` for one worker of a Ray cluster.

    submit  the request's files go by content (only those the worker lacks), the job starts there
    events  a thread per job asks the worker for its messages (a long poll) and hands them on unchanged:
            phases, every step with its preview, status lines
    end     the MP4, sidecar, PNG frames and trace come back as bytes and are written where a local job
            writes them, as one unit (temporaries renamed into place, the sidecar last)

A worker lost during a job (its process killed, its node gone) ends the job as "interrupted": it never
finished, and the queue may run it again on another worker. `ClusterConnection` finds the workers.
Pure Python plus `ray` (never torch): the window uses it.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from ..atomic_files import check_outputs
from ..errors import PusaError
from ..events import StepProgress
from ..jobs.protocol import (
    Answer,
    EngineSetup,
    EngineStatus,
    JobEnded,
    JobEvent,
    MessageSink,
    Question,
    Submit,
    Unload,
    WarmUp,
)
from . import NAMESPACE, WORKER_PREFIX
from .connect import ClusterAddress, connect
from .messages import JobSpec, RemoteEnd, WorkerInfo, keyed_request, read_files, write_result

log = logging.getLogger(__name__)
POLL_WAIT = 1.0  # seconds a worker holds an events call open when it has nothing new
ANSWER_SECONDS = 60.0  # a worker that has not answered an events call after this long is lost


class ClusterConnection:
    """This process's connection to a cluster, and the Pusa workers in it."""

    def __init__(self, address: str, token: str | None = None, token_file: str | None = None,
                 node_ip: str | None = None) -> None:
        self.address = ClusterAddress.parse(address)
        self._token, self._token_file, self._node_ip = token, token_file, node_ip

    def connect(self):
        return connect(self.address, self._token, self._token_file, self._node_ip)

    def workers(self, timeout: float = 5.0) -> list[tuple[WorkerInfo, object]]:
        """(info, actor handle) of every worker that answers within `timeout` (those still loading do not)."""
        ray = self.connect()
        names = sorted(n for n in ray.util.list_named_actors() if isinstance(n, str) and n.startswith(WORKER_PREFIX))
        handles, refs = [], []
        for name in names:
            try:
                handle = ray.get_actor(name, namespace=NAMESPACE)
            except ValueError:  # gone since it was listed
                continue
            handles.append(handle)
            refs.append(handle.info.remote())
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout) if refs else ([], [])
        found = []
        for handle, ref in zip(handles, refs, strict=True):
            if ref in ready:
                try:
                    found.append((ray.get(ref), handle))
                except Exception as error:  # noqa: BLE001 - a dead or failed worker is left out
                    log.info("worker left out: %s", error)
        return found

    def clients(self, timeout: float = 5.0) -> list[ClusterClient]:
        return [ClusterClient(info, handle) for info, handle in self.workers(timeout)]


class ClusterClient:
    """A JobClient for one worker. `on_message` is called from the job's polling thread."""

    def __init__(self, worker: WorkerInfo, handle) -> None:
        self.worker = worker
        self._handle = handle
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._stopping = False
        self.timings: dict[str, dict[str, float]] = {}  # job id -> when things happened (time.time())

    @property
    def name(self) -> str:
        return self.worker.name

    def start(self, on_message: MessageSink) -> None:
        self._sink = on_message

    def submit(self, job: Submit) -> None:
        with self._lock:
            self._running.add(job.job_id)
            self._stopping = False
        self.timings[job.job_id] = {"submitted": time.time()}
        threading.Thread(target=self._run, args=(job,), name=f"cluster-{job.job_id}", daemon=True).start()

    def cancel(self, job_id: str) -> None:
        if job_id in self._running:
            try:
                self._handle.cancel.remote(job_id)
            except Exception as error:  # noqa: BLE001 - the polling thread reports a lost worker
                log.info("cancel of %s did not reach the worker: %s", job_id, error)

    def ask(self, question: Question, setup: EngineSetup | None = None) -> Future:
        """A worker runs its own model and plan: it lists that plan, and its files were checked when it started."""
        future: Future = Future()
        future.set_result(Answer(-1, [self.worker.plan] if question == "plans" else []))
        return future

    def send(self, message: Unload | WarmUp) -> None:
        """Nothing to do: a worker keeps its model loaded for every client."""

    def stop(self) -> None:
        """Cancel this client's running jobs (they end as cancelled); the worker keeps running."""
        with self._lock:
            self._stopping = True
            running = list(self._running)
        for job_id in running:
            self.cancel(job_id)

    # ---- one job ----------------------------------------------------------------------------------
    def _run(self, job: Submit) -> None:
        try:
            ended = self._remote_job(job)
        except PusaError as error:
            ended = JobEnded(job.job_id, "failed", problems=list(error.problems))
        except Exception as error:  # noqa: BLE001 - Ray's errors: the worker (or the way to it) was lost
            if _is_ray_error(error):
                ended = JobEnded(job.job_id, "interrupted", problems=[
                    f"the worker {self.name} was lost during this job ({_short(error)}); it did not finish"])
            else:
                log.exception("cluster job %s", job.job_id)
                ended = JobEnded(job.job_id, "failed", problems=[f"unexpected error: {error!r}"])
        with self._lock:
            self._running.discard(job.job_id)
            if self._stopping and ended.outcome == "interrupted":
                ended = JobEnded(job.job_id, "cancelled")
        self._sink(ended)

    def _remote_job(self, job: Submit) -> JobEnded:
        ray = _ray()
        out = Path(job.out_path)
        png_dir = out.with_suffix("") if job.request.save_png_frames else None
        check_outputs(out, png_dir=png_dir, trace=job.trace_path)  # before anything is sent
        request, originals = keyed_request(job.request)
        missing = ray.get(self._handle.missing.remote(sorted(originals)))
        spec = JobSpec(job.job_id, request, read_files(missing, originals), originals, out.name,
                       trace=job.trace_path is not None)
        ray.get(self._handle.submit.remote(spec))
        timing = self.timings[job.job_id]
        after = 0
        while True:
            batch = self._events(ray, job.job_id, after)
            if batch is None:
                raise _Lost("the worker restarted and no longer has this job")
            for message in batch:
                after += 1
                if isinstance(message, RemoteEnd):
                    timing["received"] = time.time()
                    self._handle.forget.remote(job.job_id)
                    return self._finish(job, message)
                if isinstance(message, JobEvent) and isinstance(message.event, StepProgress):
                    timing.setdefault("first_preview", time.time())
                elif isinstance(message, EngineStatus):
                    timing.setdefault("started", time.time())  # the worker began the job
                self._sink(message)

    def _events(self, ray, job_id: str, after: int) -> list | None:
        """The job's next messages. A worker that does not answer (its process or node gone, or hung) loses
        the job: it is told to cancel it, in case it still runs, so the job never finishes twice."""
        try:
            return ray.get(self._handle.events.remote(job_id, after, POLL_WAIT), timeout=POLL_WAIT + ANSWER_SECONDS)
        except Exception:
            self.cancel(job_id)
            raise

    def _finish(self, job: Submit, end: RemoteEnd) -> JobEnded:
        if end.ended.outcome != "done" or end.files is None:
            return end.ended
        timing = self.timings[job.job_id]
        timing["worker_finished"] = end.files.finished_at
        result = write_result(end.files, job.out_path, job.trace_path)
        timing["written"] = time.time()
        return JobEnded(job.job_id, "done", result=result)


class _Lost(Exception):
    """The worker no longer knows the job."""


def _ray():
    import ray

    return ray


def _is_ray_error(error: Exception) -> bool:
    if isinstance(error, _Lost):
        return True
    try:
        from ray.exceptions import RayError
    except ImportError:
        return False
    return isinstance(error, (RayError, ConnectionError))


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]
