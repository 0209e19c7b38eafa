"""The batch command's progress: a bar per running job and one for the whole batch, then a summary.

On a terminal the lines are redrawn in place (at most ten times a second); into a file or a pipe, a line is
written when a job starts, at each of its steps, and when it ends.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .batch import BatchJob

BAR = 20


def bar(fraction: float, width: int = BAR) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "[" + "#" * filled + "." * (width - filled) + "]"


class BatchProgress:
    def __init__(self, jobs: list[BatchJob], stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.jobs = jobs
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.started = time.monotonic()
        self._drawn = 0  # lines drawn last time (terminal)
        self._last_draw = 0.0
        self._said: dict[str, tuple] = {}  # job name -> what was last written about it (file)

    def job_line(self, job: BatchJob) -> str:
        steps = job.request.steps
        fraction = 1.0 if job.state == "done" else job.step / steps if steps else 0.0
        where = f" on {job.engine}" if job.engine else ""
        what = {"running": f"step {job.step}/{steps} {job.phase}", "waiting": job.phase or "waiting"}.get(
            job.state, job.state)
        return f"{job.name:<16} {bar(fraction)} {what}{where}"

    def overall_line(self) -> str:
        counted = [j for j in self.jobs if j.state != "skipped"]
        done = sum(j.state == "done" for j in counted)
        failed = sum(j.state in ("failed", "cancelled") for j in counted)
        running = sum(j.state == "running" for j in counted)
        ended = done + failed
        fraction = ended / len(counted) if counted else 1.0
        return (f"{'overall':<16} {bar(fraction)} {ended}/{len(counted)} ended: {done} done, {failed} failed, "
                f"{running} running")

    def update(self, job: BatchJob) -> None:
        if self.tty:
            self._redraw(force=job.finished)
            return
        key = (job.state, job.step, job.engine)
        if self._said.get(job.name) == key or (job.state == "running" and job.step == 0 and job.phase != "starting"):
            return
        self._said[job.name] = key
        self.stream.write(self.job_line(job) + "\n")
        if job.finished:
            self.stream.write(self.overall_line() + "\n")
        self.stream.flush()

    def _redraw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        lines = [self.job_line(j) for j in self.jobs if j.state == "running"] + [self.overall_line()]
        up = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        self.stream.write(up + "\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def summary(self) -> list[str]:
        """The closing lines: counts, then each job that did not finish and why."""
        if self.tty:
            self._redraw(force=True)
        count = {state: sum(j.state == state for j in self.jobs) for state in ("done", "failed", "cancelled",
                                                                                 "skipped")}
        lines = [f"batch: {count['done']} done, {count['failed']} failed, {count['cancelled']} cancelled, "
                 f"{count['skipped']} skipped (already done) in {time.monotonic() - self.started:.1f} s"]
        for job in self.jobs:
            if job.state in ("failed", "cancelled"):
                lines.append(f"  {job.name} (line {job.line}) {job.state}: " + "; ".join(job.problems or ["-"]))
        return lines
