"""The app under soak: the real window, driven the way a user works for hours, reporting on stdout.

Runs in its own process (the supervisor in `__main__.py` starts it), so a native crash is seen as one.
One JSON object per line: {"kind": "edit"|"job"|"latency"|"rss"|"ready"|"end", ...}.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

# Small demo-model jobs: a job every few seconds keeps the engine, the previews and the queue busy.
JOB_SETTINGS = {"width": 192, "height": 112, "frames": 17, "steps": 4, "new_seed_each_run": True}
EDIT_EVERY_MS = 300
PROBE_EVERY_MS = 25
REPORT_EVERY_S = 5.0
RSS_EVERY_S = 10.0
SAVE_EVERY_S = 30.0
HISTORY_KEPT = 150  # a user tidies up; older results leave the history (their files stay on disk)


def say(kind: str, **fields: object) -> None:
    print(json.dumps({"kind": kind, "t": round(time.monotonic(), 3), **fields}), flush=True)


class LatencyProbe:
    """A precise timer that should fire every PROBE_EVERY_MS; how late it fires is the loop's latency."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.samples: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PROBE_EVERY_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.samples.append(max(0.0, (now - self._last) * 1000 - PROBE_EVERY_MS))
        self._last = now

    def take(self) -> list[float]:
        samples, self.samples = self.samples, []
        return samples


class StallWatch:
    """Samples the GUI thread's stack while the event loop is late, so a soak names what blocked it."""

    def __init__(self, probe: LatencyProbe, threshold_s: float = 0.04) -> None:
        self.probe, self.threshold = probe, threshold_s
        self.stacks: Counter[str] = Counter()
        self._main = threading.main_thread().ident
        threading.Thread(target=self._watch, name="stall-watch", daemon=True).start()

    def _watch(self) -> None:
        seen = False
        while True:
            time.sleep(0.01)
            late = time.perf_counter() - self.probe._last - PROBE_EVERY_MS / 1000
            if late > self.threshold and not seen:
                frame = sys._current_frames().get(self._main)
                if frame is not None:
                    stack = traceback.extract_stack(frame)[-5:]
                    self.stacks[" < ".join(f"{Path(f.filename).name}:{f.name}" for f in reversed(stack))] += 1
                seen = True
            elif late <= self.threshold:
                seen = False


class SimulatedUser:
    """Edits the timeline and parameters, undoes, saves, plays results and keeps the queue fed."""

    def __init__(self, window, rng: random.Random, samples: list[str], project_path: Path) -> None:
        self.window, self.rng, self.samples, self.project_path = window, rng, samples, project_path
        self.edits = 0
        self._last_save = time.monotonic()

    @property
    def document(self):
        return self.window.document

    def act(self) -> None:
        self._keep_queue_fed()
        self._tidy_history()
        action = self.rng.choice([self.edit_prompt, self.edit_prompt, self.move_noise, self.add_or_remove_keyframe,
                                  self.undo_redo, self.change_cfg, self.play_a_result, self.lay_a_clip])
        action()
        if time.monotonic() - self._last_save > SAVE_EVERY_S:
            self._last_save = time.monotonic()
            self.window.save_project(self.project_path)

    def edit_prompt(self) -> None:
        self.edits += 1
        prompt = f"soak edit {self.edits}: a lake at dawn, mist rising"
        self.document.update_settings(prompt=prompt)
        say("edit", n=self.edits, prompt=prompt)

    def move_noise(self) -> None:
        keyframes = self.document.timeline.keyframes
        if keyframes:
            self.document.set_keyframe_noise(self.rng.choice(keyframes).id, round(self.rng.uniform(0, 1), 2))

    def add_or_remove_keyframe(self) -> None:
        keyframes = self.document.timeline.keyframes
        if len(keyframes) >= 3 or (keyframes and self.rng.random() < 0.4):
            self.document.remove_keyframe(self.rng.choice(keyframes).id)
            return
        frame = self.rng.randrange(self.document.settings.frames)
        if self.document.free_slot_problem(frame) is None:
            self.document.add_keyframe(self.rng.choice(self.samples), frame, round(self.rng.uniform(0, 0.6), 2))

    def undo_redo(self) -> None:
        stack = self.document.undo_stack
        stack.undo() if self.rng.random() < 0.6 else stack.redo()

    def change_cfg(self) -> None:
        self.document.update_settings(cfg=round(self.rng.uniform(2.5, 4.0), 1))

    def play_a_result(self) -> None:
        history = self.document.project.history
        if history and not self.window.host.busy:
            self.window.play_job(self.rng.choice(history[:10]).id)

    def lay_a_clip(self) -> None:
        """Video-to-video from an earlier result now and then; take it off again otherwise."""
        from ..core.model import TimelineVideo

        history = [j for j in self.document.project.history if j.result]
        if self.document.timeline.video is not None or not history or self.rng.random() < 0.5:
            if self.document.timeline.video is not None:
                self.document.set_video(None)
            return
        video = history[0].result.video_path
        if Path(video).is_file():
            self.document.set_video(TimelineVideo(video, [0, 1], [0.0, 0.3]))

    def _keep_queue_fed(self) -> None:
        from ..core.model import JobState

        if not any(job.state is JobState.QUEUED for job in self.document.project.queue):
            self.window.generate()

    def _tidy_history(self) -> None:
        history = self.document.project.history
        if len(history) > HISTORY_KEPT:
            self.document.remove_job(history[-1].id)


def run_app(minutes: float, seed: int) -> int:
    """The child process: the real window for `minutes`, then a clean exit (its code: 0)."""
    import faulthandler

    import qasync
    from PySide6.QtCore import QTimer

    from .. import paths
    from ..app_settings import EngineConfig
    from ..application import create_application, setup_logging
    from ..core.model import JobState
    from ..main_window import MainWindow
    from .stats import rss_mb, rss_parts_mb

    faulthandler.enable()
    app = create_application(sys.argv[:1])
    setup_logging()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(interactive=False)
    window.show()
    window.runner.engine_config_override = EngineConfig(plan="cpu")
    window.document.update_settings(**JOB_SETTINGS)
    project_path = paths.default_projects_dir() / "soak.pusa"
    window.save_project(project_path)
    samples = sorted(str(p) for p in (paths.resources_dir() / "samples").glob("*.png"))
    user = SimulatedUser(window, random.Random(seed), samples, project_path)
    probe = LatencyProbe()
    stalls = StallWatch(probe)

    def on_job_ended(job_id: str, state: str) -> None:
        say("job", id=job_id, state=state,
            problems=window.document.project.job(job_id).problems if state == JobState.FAILED.value else [])

    window.runner.job_ended.connect(on_job_ended)
    timers = []
    for interval_ms, action in (
        (EDIT_EVERY_MS, user.act),
        (int(REPORT_EVERY_S * 1000), lambda: say("latency", ms=[round(v, 2) for v in probe.take()])),
        (int(RSS_EVERY_S * 1000), lambda: say("rss", mb=round(rss_mb(), 1), **rss_parts_mb())),
    ):
        timer = QTimer()
        timer.setInterval(interval_ms)
        timer.timeout.connect(action)
        timer.start()
        timers.append(timer)
    if os.environ.get("PUSA_SOAK_DIAGNOSE"):
        from .diagnose import MemoryDiagnosis

        diagnosis = MemoryDiagnosis()
        timer = QTimer()
        timer.setInterval(60_000)
        timer.timeout.connect(lambda: say("memory", **diagnosis.report()))
        timer.start()
        timers.append(timer)
    say("ready", project=str(project_path), session=str(window.files.session.folder), rss=rss_mb())
    done = asyncio.Event()
    QTimer.singleShot(int(minutes * 60_000), done.set)
    with loop:
        loop.run_until_complete(done.wait())
        say("latency", ms=[round(v, 2) for v in probe.take()])
        say("rss", mb=round(rss_mb(), 1))
        say("stalls", top=stalls.stacks.most_common(8))
        window.shutdown()
    say("end", edits=user.edits)
    return 0
