"""The engine in its own process (the default): jobs, cancel, previews, and the window surviving its death."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from pusa_desktop.core.model import JobState

from .conftest import JOB_TIMEOUT_MS, wait_for_job_end

pytestmark = pytest.mark.slow


@pytest.fixture
def process_window(qtbot, studio_home):
    """The window as users get it: its engine in a process of its own."""
    from pusa_desktop.main_window import MainWindow
    from pusa_engine.jobs.process import EngineProcessClient

    win = MainWindow(interactive=False)
    assert isinstance(win.host.client, EngineProcessClient)
    qtbot.addWidget(win)
    win.show()
    win.document.update_settings(prompt="a lake", width=64, height=64, frames=9, steps=2, new_seed_each_run=False)
    yield win
    win.shutdown()


def _kill_on_step(window, step: int, sig: signal.Signals) -> list[int]:
    killed: list[int] = []

    def on_step(_job, event) -> None:
        if event.step == step and not killed:
            killed.append(window.host.engine_pid)
            os.kill(killed[0], sig)

    window.host.step_progress.connect(on_step)
    return killed


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGABRT], ids=["kill-9", "abort"])
def test_the_window_survives_the_engine_dying_mid_step_and_the_next_job_gets_a_fresh_engine(
    process_window, qtbot, sig
):
    window = process_window
    window.document.update_settings(steps=50)
    doomed = window.generate()
    window.document.update_settings(steps=2, prompt="the next one")
    after = window.generate()
    killed = _kill_on_step(window, 2, sig)
    wait_for_job_end(qtbot, window, doomed)
    job = window.document.project.job(doomed)
    assert job.state is JobState.FAILED
    assert "engine process stopped during this job" in job.problems[0] and "Retry" in job.problems[0]
    wait_for_job_end(qtbot, window, after)  # the queue went on, with a new engine process
    assert window.document.project.job(after).state is JobState.DONE
    assert window.host.engine_pid not in (None, killed[0]) and window.host.client.starts == 2
    assert window.document.settings.prompt == "the next one"  # the editor and project are intact


def test_cancel_stops_a_job_in_the_engine_process_within_a_step(process_window, qtbot):
    window = process_window
    window.document.update_settings(steps=50)
    steps: list[int] = []

    def on_step(_job, event) -> None:
        steps.append(event.step)
        if event.step == 2:
            window.progress.cancel.click()

    window.host.step_progress.connect(on_step)
    job_id = window.generate()
    wait_for_job_end(qtbot, window, job_id)
    assert window.document.project.job(job_id).state is JobState.CANCELLED
    assert max(steps) <= 4 and window.host.engine_pid is not None  # the process stays warm


def test_previews_cross_to_the_window_and_free_memory_ends_the_process(process_window, qtbot):
    window = process_window
    job_id = window.generate()
    wait_for_job_end(qtbot, window, job_id)
    assert window.previews_received[job_id] == 2
    assert window.document.project.job(job_id).state is JobState.DONE
    pid = window.host.engine_pid
    assert pid is not None
    window.free_memory_action.trigger()
    qtbot.waitUntil(lambda: window.host.engine_pid is None, timeout=10_000)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    again = window.generate()
    wait_for_job_end(qtbot, window, again, timeout=JOB_TIMEOUT_MS)
    assert window.document.project.job(again).state is JobState.DONE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness is read the Linux way")
def test_the_engine_process_yields_the_cpu_to_the_window(process_window, qtbot):
    from pusa_engine.jobs.process import ENGINE_NICENESS

    process_window.host.warm_up()
    qtbot.waitUntil(lambda: process_window.host.engine_pid is not None, timeout=30_000)
    pid = process_window.host.engine_pid
    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    # the engine lowers itself once started; a test run under `nice` starts it above 0 already
    qtbot.waitUntil(lambda: os.getpriority(os.PRIO_PROCESS, pid) == min(19, gui + ENGINE_NICENESS), timeout=30_000)
