"""The benchmark's modes for this issue run every path on a tiny model on the CPU (the lead runs them full
size on the GPUs): the LoRA alpha change per placement, the four-step mode, Wan2.2 with the expert swap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out.json"
    r = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--tiny", "--device", "cpu", *args, "--json",
                        str(out)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(out.read_text())


def test_lora_alpha_change_is_exact_after_a_history(tmp_path):
    out = _bench(tmp_path, "--lora-alpha-change", "--plan-devices", "cpu,cpu")
    rows = out["rows"]
    assert len(rows) == 3  # one device (placement picked, pinned copies), two devices with the copy re-synced
    assert all(r["exact_after_history"] and r["first_job_same_alpha_writes"] == 0 for r in rows)


def test_four_step_mode_on_two_devices(tmp_path):
    out = _bench(tmp_path, "--four-step", "--plan-devices", "cpu,cpu")
    assert [len(r["steps"]) for r in out["rows"]] == [4, 4, 4] and "sequence split" in out["plan"]


def test_wan22_with_the_expert_swap(tmp_path):
    out = _bench(tmp_path, "--wan22", "--experts", "swap", "--steps", "10")
    job = out["rows"][0]
    assert job["experts"] == [0] * 5 + [1] * 5 and len(job["swap_s"]) == 2  # back to high, then to low
    assert out["experts"] == "swap" and len(out["setup"]["swap_alone_s"]) == 4
