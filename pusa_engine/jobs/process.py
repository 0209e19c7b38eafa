"""The engine-process transport: the engine runs in a process of its own, started on demand, kept warm.

A CUDA fault, a native crash or an out-of-memory kill then ends that process, not the window: the client
sees the connection close, reports the running job as failed in plain words, and starts a fresh process
for the next job. Ending the process gives back all of its GPU memory.

Messages are the protocol's dataclasses, pickled over a socket pair (`multiprocessing.connection`
framing); a step preview (uint8, latent resolution: 21x60x104x3 at 480p) is a few hundred kilobytes.
The child runs `python -m pusa_engine.jobs.process --fd N` or, frozen, the app's own executable with
`--engine-process` (packaging/launch.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path

from ..events import CancelToken
from .protocol import (
    Answer,
    Ask,
    Cancel,
    EngineSetup,
    EngineStatus,
    JobEnded,
    MessageSink,
    Question,
    Submit,
    Unload,
    WarmUp,
)

log = logging.getLogger(__name__)
ENGINE_FLAG = "--engine-process"
ENGINE_NICENESS = 5


def engine_command(fd: int, demo_dir: str) -> list[str]:
    """How to start an engine process: this interpreter, or the frozen app's own executable with a flag."""
    args = ["--fd", str(fd), "--demo-dir", demo_dir]
    if getattr(sys, "frozen", False):
        return [sys.executable, ENGINE_FLAG, *args]
    return [sys.executable, "-m", "pusa_engine.jobs.process", *args]


def _how_it_ended(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return {"SIGKILL": "it was killed (SIGKILL: often the system running out of memory)",
                "SIGSEGV": "it crashed (SIGSEGV)", "SIGABRT": "it aborted (SIGABRT)"}.get(name, f"it got {name}")
    return f"it exited with status {code}"


class EngineProcessClient:
    """The queue's side: starts the engine process when first needed and watches it."""

    def __init__(self, demo_dir: str, log_path: str | None = None) -> None:
        self._demo_dir, self._log_path = demo_dir, log_path
        self._lock = threading.RLock()
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._running: dict[str, subprocess.Popen] = {}  # job id -> the process that runs it
        self._questions: dict[int, tuple[Future, subprocess.Popen]] = {}
        self._next_question = 0
        self._stopped: set[subprocess.Popen] = set()  # ended on purpose: their jobs end as cancelled
        self.starts = 0  # engine processes started so far

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self, on_message: MessageSink) -> None:
        self._sink = on_message

    def _ensure_process(self) -> Connection:
        with self._lock:
            if self._conn is not None and self._proc is not None and self._proc.poll() is None:
                return self._conn
            ours, theirs = socket.socketpair()
            output = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
            try:
                self._proc = subprocess.Popen(engine_command(theirs.fileno(), self._demo_dir),
                                              pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                              stdout=output, stderr=output)
            finally:
                theirs.close()
                if output is not subprocess.DEVNULL:
                    output.close()
            self._conn = Connection(ours.detach())
            self.starts += 1
            threading.Thread(target=self._read, args=(self._conn, self._proc), name="pusa-engine-reader",
                             daemon=True).start()
            return self._conn

    def _send(self, message: object, start: bool = True) -> bool:
        with self._lock:
            if not start and self.pid is None:
                return False
            conn = self._ensure_process()
            try:
                conn.send(message)
                return True
            except (OSError, ValueError):  # it died just now (or was stopped): the reader reports it
                return False

    def submit(self, job: Submit) -> None:
        with self._lock:
            self._ensure_process()
            self._running[job.job_id] = self._proc
            self._send(job)

    def cancel(self, job_id: str) -> None:
        self._send(Cancel(job_id), start=False)

    def ask(self, question: Question, setup: EngineSetup | None = None) -> Future:
        future: Future = Future()
        with self._lock:
            self._next_question += 1
            self._ensure_process()
            self._questions[self._next_question] = (future, self._proc)
            self._send(Ask(self._next_question, question, setup))
        return future

    def send(self, message: Unload | WarmUp) -> None:
        self._send(message, start=isinstance(message, WarmUp))

    def stop(self, timeout: float = 5.0) -> None:
        """End the engine process (all its memory goes back); a running job ends as cancelled."""
        with self._lock:
            proc, conn = self._proc, self._conn
            if proc is None:
                return
            self._stopped.add(proc)
            self._proc, self._conn = None, None  # the next message starts a fresh process
        if conn is not None:
            conn.close()  # the child reads end-of-file and exits
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _read(self, conn: Connection, proc: subprocess.Popen) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if isinstance(message, Answer):
                with self._lock:
                    future, _proc = self._questions.pop(message.question_id, (None, None))
                if future is not None:
                    future.set_result(message)
                continue
            if isinstance(message, JobEnded):
                with self._lock:
                    self._running.pop(message.job_id, None)
            self._sink(message)
        self._process_ended(proc)

    def _process_ended(self, proc: subprocess.Popen) -> None:
        try:
            code = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        with self._lock:  # only what this process held: a fresh one may already run the next job
            stopping = proc in self._stopped
            self._stopped.discard(proc)
            running = sorted(job for job, owner in self._running.items() if owner is proc)
            for job in running:
                del self._running[job]
            asked = [q for q, (_f, owner) in self._questions.items() if owner is proc]
            questions = [self._questions.pop(q)[0] for q in asked]
            if self._proc is proc:
                self._proc, self._conn = None, None
        how = _how_it_ended(code)
        for future in questions:
            future.set_result(Answer(-1, problem=f"the engine process ended: {how}"))
        for job_id in running:
            if stopping:
                self._sink(JobEnded(job_id, "cancelled"))
            else:
                self._sink(JobEnded(job_id, "failed", problems=[
                    f"the engine process stopped during this job: {how}. Your project and queue are safe; "
                    "a fresh engine starts with the next job (press Retry)."]))
        if not stopping:
            log.warning("engine process %s ended: %s", proc.pid, how)
            self._sink(EngineStatus(f"stopped ({how}); a new engine starts with the next job"))


# ---- the engine process itself ----------------------------------------------------------------------
def serve(fd: int, demo_dir: str) -> int:
    """Read messages from the queue, run jobs one at a time, answer questions; exit when the queue goes."""
    from .service import JobService

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is for the window, which stops us
    if hasattr(os, "nice"):
        os.nice(ENGINE_NICENESS)  # the window's process wins the CPU when both want it
    conn = Connection(fd)
    send_lock = threading.Lock()

    def send(message: object) -> None:
        with send_lock:
            try:
                conn.send(message)
            except OSError:
                os._exit(0)  # the queue is gone

    service = JobService(demo_dir, send)
    tokens: dict[str, CancelToken] = {}
    inbox: queue.Queue = queue.Queue()

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                # The queue is gone (closed, or the window died): nothing here needs an orderly end. Outputs
                # are written as temporaries and renamed, and the next start sweeps temporaries of dead
                # processes, so ending now loses nothing and frees the memory at once.
                os._exit(0)
            if isinstance(message, Submit):
                tokens[message.job_id] = CancelToken()
                inbox.put(message)
            elif isinstance(message, Cancel):
                if (token := tokens.get(message.job_id)) is not None:
                    token.cancel()
            elif isinstance(message, Ask):  # answered beside a running job (header reads, device lists)
                threading.Thread(target=lambda m=message: send(service.answer(m)), daemon=True).start()
            else:
                inbox.put(message)

    threading.Thread(target=read, name="pusa-engine-inbox", daemon=True).start()
    while (message := inbox.get()) is not None:
        if isinstance(message, Submit):
            ended = service.run(message, tokens.get(message.job_id) or CancelToken())
            tokens.pop(message.job_id, None)
            send(ended)
        elif isinstance(message, Unload):
            service.unload()
        elif isinstance(message, WarmUp):
            service.warm_up()
    service.unload()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pusa-engine-process", description="Pusa Studio's engine process")
    parser.add_argument("--fd", type=int, required=True, help="the socket to the queue")
    parser.add_argument("--demo-dir", required=True, help="where the demo model is kept")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s engine[%(process)d] %(levelname)s %(name)s: "
                        "%(message)s", stream=sys.stderr)
    Path(args.demo_dir).mkdir(parents=True, exist_ok=True)
    return serve(args.fd, args.demo_dir)


if __name__ == "__main__":
    sys.exit(main())
