"""The in-process transport: jobs run on a thread of the caller's process (tests, scripts).

A native crash of the engine ends the caller too; the desktop uses `process.EngineProcessClient`.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from concurrent.futures import Future

from ..events import CancelToken
from .protocol import Ask, EngineSetup, JobEnded, MessageSink, Question, Submit, Unload, WarmUp
from .service import JobService

log = logging.getLogger(__name__)
ENGINE_NICENESS = 5  # how much lower than the caller the engine thread runs (Linux nice steps)


def lower_this_threads_priority(steps: int = ENGINE_NICENESS) -> None:
    """Let the caller win the CPU (on Linux niceness is per thread; threads started from here inherit it)."""
    if hasattr(os, "setpriority") and sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + steps)
        except OSError as error:
            log.info("could not lower the engine thread's priority: %s", error)


class InProcessClient:
    def __init__(self, demo_dir: str) -> None:
        self._demo_dir = demo_dir
        self._inbox: queue.Queue = queue.Queue()
        self._tokens: dict[str, CancelToken] = {}
        self._thread: threading.Thread | None = None
        self._next_question = 0

    def start(self, on_message: MessageSink) -> None:
        self._sink = on_message
        self._service = JobService(self._demo_dir, on_message)
        self._thread = threading.Thread(target=self._loop, name="pusa-engine", daemon=True)
        self._thread.start()

    def submit(self, job: Submit) -> None:
        self._tokens[job.job_id] = CancelToken()
        self._inbox.put(job)

    def cancel(self, job_id: str) -> None:
        token = self._tokens.get(job_id)
        if token is not None:
            token.cancel()

    def ask(self, question: Question, setup: EngineSetup | None = None) -> Future:
        self._next_question += 1
        future: Future = Future()
        self._inbox.put((Ask(self._next_question, question, setup), future))
        return future

    def send(self, message: Unload | WarmUp) -> None:
        self._inbox.put(message)

    def stop(self) -> None:
        for token in self._tokens.values():
            token.cancel()
        self._inbox.put(None)
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None

    def _loop(self) -> None:
        lower_this_threads_priority()
        while (message := self._inbox.get()) is not None:
            if isinstance(message, Submit):
                token = self._tokens.get(message.job_id) or CancelToken()
                ended: JobEnded = self._service.run(message, token)
                self._tokens.pop(message.job_id, None)
                self._sink(ended)
            elif isinstance(message, tuple):
                ask, future = message
                future.set_result(self._service.answer(ask))
            elif isinstance(message, Unload):
                self._service.unload()
            elif isinstance(message, WarmUp):
                self._service.warm_up()
        self._service.unload()
