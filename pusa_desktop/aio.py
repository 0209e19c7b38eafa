"""Small asyncio helpers for the qasync event loop the app runs on (never used for denoising)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run a blocking function on a worker thread and await its result on the GUI thread."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args))


def _report(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())


def spawn(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task | None:
    """Start a coroutine on the running qasync loop; logs its failure. Closes it when no loop runs."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            coroutine.close()
            return None
        if not loop.is_running():
            coroutine.close()
            log.warning("no running event loop; %s not started", coroutine)
            return None
    task = loop.create_task(coroutine)
    task.add_done_callback(_report)
    return task
