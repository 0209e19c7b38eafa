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


def test_memory_growth_is_counted_once_the_first_job_has_loaded_its_libraries():
    from pusa_desktop.soak.stats import SoakFigures

    figures = SoakFigures(warm_up_s=120.0)
    figures.rss = [(60.0, 150.0), (130.0, 150.0), (200.0, 250.0), (260.0, 251.0), (600.0, 255.0), (900.0, 256.0)]
    assert figures.warmed_up_at() == float("inf")  # no job yet: nothing counts
    figures.first_job_s = 190.0  # the first job maps the video libraries: 150 -> 250 MB is not growth
    assert figures.warmed_up_at() == 220.0
    assert figures.rss_after_warm_up() == 251.0 and figures.rss_growth_mb() == 5.0
    figures.first_job_s = 10.0  # a fast first job: the warm-up minutes still hold
    assert figures.warmed_up_at() == 120.0 and figures.rss_growth_mb() == 106.0


def test_rss_is_split_into_heap_and_file_backed_pages():
    from pusa_desktop.soak.stats import rss_mb, rss_parts_mb

    parts = rss_parts_mb()
    assert set(parts) == {"anon", "file"} and parts["anon"] > 0 and parts["file"] > 0
    assert abs(parts["anon"] + parts["file"] - rss_mb()) < 0.1 * rss_mb()
