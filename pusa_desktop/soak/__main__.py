"""`python -m pusa_desktop.soak --minutes N`: run the real window for N minutes as a user would, and report.

The window runs in a child process (off screen unless a DISPLAY is set) on the demo model: jobs back to
back, step previews and finished videos in the player, timeline and parameter edits, undo/redo, saves and
autosave. This process reads its status lines and reports jobs done, process memory over time, GUI
event-loop latency (p50/p99/max) and any crash. Exit status 0 when the run met the limits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .stats import SoakFigures

GRACE_S = 180  # start-up and a clean shutdown on top of the run itself


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pusa_desktop.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long the window runs (default 5)")
    parser.add_argument("--warm-up", type=float, default=2.0, help="minutes before memory growth is counted")
    parser.add_argument("--home", help="studio home for the run (default: a new temporary folder)")
    parser.add_argument("--report", help="write the figures as JSON to this file")
    parser.add_argument("--max-p99-ms", type=float, default=50.0, help="event-loop latency limit (p99)")
    parser.add_argument("--max-rss-growth-mb", type=float, default=100.0, help="memory growth limit after warm-up")
    parser.add_argument("--seed", type=int, default=1, help="the simulated user's choices")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def supervise(args: argparse.Namespace) -> tuple[SoakFigures, Path]:
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="pusa-soak-"))
    env = {**os.environ, "PUSA_STUDIO_HOME": str(home)}
    if not env.get("DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    stderr_path = home / "soak-stderr.log"
    home.mkdir(parents=True, exist_ok=True)
    figures = SoakFigures(warm_up_s=args.warm_up * 60)
    command = [sys.executable, "-m", "pusa_desktop.soak", "--child", "--minutes", str(args.minutes),
               "--seed", str(args.seed)]
    started = time.monotonic()
    with open(stderr_path, "w", encoding="utf-8") as stderr:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        assert child.stdout is not None
        for line in child.stdout:
            _take(figures, line, time.monotonic() - started)
            if time.monotonic() - started > args.minutes * 60 + GRACE_S:
                child.kill()
                figures.crash = "the window stopped answering (killed after the run's time and a grace period)"
                break
        code = child.wait()
    figures.minutes = (time.monotonic() - started) / 60
    if code != 0 and figures.crash is None:
        tail = stderr_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        figures.crash = f"the window exited with status {code}: {tail.strip()}"
    return figures, home


def _take(figures: SoakFigures, line: str, elapsed: float) -> None:
    try:
        status = json.loads(line)
    except json.JSONDecodeError:
        return
    kind = status.get("kind")
    if kind == "latency":
        figures.latencies_ms += status["ms"]
    elif kind == "rss":
        figures.rss.append((elapsed, status["mb"]))
        if "anon" in status:
            figures.rss_parts.append((elapsed, status["anon"], status.get("file", 0.0)))
    elif kind == "edit":
        figures.edits += 1
    elif kind == "memory":
        print(f"memory at {elapsed / 60:.1f} min: {json.dumps(status)}", file=sys.stderr)
    elif kind == "stalls":
        figures.stalls = status["top"]
    elif kind == "job":
        if status["state"] == "done":
            figures.jobs_done += 1
            if figures.first_job_s is None:
                figures.first_job_s = elapsed
        elif status["state"] == "failed":
            figures.jobs_failed += 1
            print(f"job failed: {'; '.join(status.get('problems', []))}", file=sys.stderr)


def verdict(figures: SoakFigures, args: argparse.Namespace) -> list[str]:
    """What went wrong, one line each (empty: the run passed)."""
    report = figures.report()
    problems = []
    if figures.crash:
        problems.append(f"crash: {figures.crash}")
    if figures.jobs_done == 0:
        problems.append("no job finished")
    if figures.jobs_failed:
        problems.append(f"{figures.jobs_failed} job(s) failed")
    if report["latency_ms"]["p99"] > args.max_p99_ms:
        problems.append(f"event-loop latency p99 {report['latency_ms']['p99']} ms > {args.max_p99_ms} ms")
    if figures.minutes * 60 > figures.warmed_up_at() and figures.rss_growth_mb() > args.max_rss_growth_mb:
        problems.append(f"memory grew {figures.rss_growth_mb():.0f} MB after warm-up > {args.max_rss_growth_mb} MB")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        from .driver import run_app

        return run_app(args.minutes, args.seed)
    figures, home = supervise(args)
    report = figures.report()
    problems = verdict(figures, args)
    report["problems"], report["home"] = problems, str(home)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1), encoding="utf-8")
    lat, rss = report["latency_ms"], report["rss_mb"]
    print(f"soak: {report['minutes']} min, {figures.jobs_done} jobs done, {figures.jobs_failed} failed, "
          f"{figures.edits} prompt edits; latency p50 {lat['p50']} / p99 {lat['p99']} / max {lat['max']} ms; "
          f"RSS {rss['after_warm_up']} MB after warm-up, growth {rss['growth_after_warm_up']} MB, max {rss['max']} MB")
    for problem in problems:
        print(f"soak FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
