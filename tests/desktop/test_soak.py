"""Five minutes of the real window used as a user would (the README records a run of an hour)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_five_minutes_of_jobs_edits_undo_autosave_and_playback(tmp_path):
    report = tmp_path / "soak.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PUSA_STUDIO_HOME", None)
    run = subprocess.run(
        [sys.executable, "-m", "pusa_desktop.soak", "--minutes", "5", "--warm-up", "2", "--home",
         str(tmp_path / "home"), "--report", str(report)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=840,
    )
    print(run.stdout)
    figures = json.loads(report.read_text())
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert figures["crash"] is None and figures["problems"] == []
    assert figures["jobs_done"] >= 10 and figures["jobs_failed"] == 0 and figures["edits"] >= 100
    assert figures["latency_ms"]["p99"] < 50 and figures["rss_mb"]["growth_after_warm_up"] < 100
