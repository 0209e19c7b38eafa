"""Figures of a soak run: event-loop latency percentiles and memory over time. No Qt here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process in MB (Linux /proc; 0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid or os.getpid()}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_parts_mb(pid: int | None = None) -> dict[str, float]:
    """Resident memory split into anonymous (heap: what leaks) and file-backed (library code, fonts) MB."""
    parts = {}
    try:
        with open(f"/proc/{pid or os.getpid()}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:")):
                    parts[line[3:7].lower()] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return parts


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class SoakFigures:
    """What the supervisor gathers from the app's status lines."""

    minutes: float = 0.0
    warm_up_s: float = 120.0
    jobs_done: int = 0
    jobs_failed: int = 0
    edits: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MB)
    rss_parts: list[tuple[float, float, float]] = field(default_factory=list)  # (seconds, anonymous MB, file MB)
    first_job_s: float | None = None  # when the first job finished (its libraries are loaded by then)
    crash: str | None = None
    stalls: list = field(default_factory=list)  # [stack, times]: where the GUI thread was when it was late

    def warmed_up_at(self) -> float:
        """Warm-up ends after its minutes and after the first job has finished and played: the first job
        maps the video and preview libraries (about 65 MB of file-backed pages), which is not growth."""
        first_job = self.first_job_s if self.first_job_s is not None else float("inf")
        return max(self.warm_up_s, first_job + 30.0)

    def rss_after_warm_up(self) -> float:
        after = [mb for t, mb in self.rss if t >= self.warmed_up_at()]
        return after[0] if after else 0.0

    def rss_growth_mb(self) -> float:
        """Growth after warm-up: the last third's median minus the first sample after warm-up."""
        after = [mb for t, mb in self.rss if t >= self.warmed_up_at()]
        if len(after) < 2:
            return 0.0
        tail = sorted(after[-max(1, len(after) // 3):])
        return tail[len(tail) // 2] - after[0]

    def report(self) -> dict:
        lat = self.latencies_ms
        return {
            "minutes": round(self.minutes, 2),
            "warmed_up_at_s": round(self.warmed_up_at(), 1),
            "jobs_done": self.jobs_done,
            "jobs_failed": self.jobs_failed,
            "edits": self.edits,
            "latency_ms": {"p50": round(percentile(lat, 50), 2), "p99": round(percentile(lat, 99), 2),
                           "max": round(max(lat, default=0.0), 2), "samples": len(lat)},
            "rss_mb": {"after_warm_up": round(self.rss_after_warm_up(), 1), "growth_after_warm_up":
                       round(self.rss_growth_mb(), 1), "max": round(max((mb for _, mb in self.rss), default=0), 1),
                       "series": [(round(t), round(mb, 1)) for t, mb in self.rss],
                       "anon_file_series": [(round(t), anon, file) for t, anon, file in self.rss_parts]},
            "crash": self.crash,
            "stalls": self.stalls,
        }
