"""The benchmark's modes that the GPU runs depend on, exercised on the CPU at tiny sizes: the user path
(official-layout folder, Engine, two jobs), the loader's RAM, and the runner's budget and tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.bench", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


@pytest.mark.slow
def test_user_path_mode_loads_and_runs_two_jobs(tmp_path):
    out = tmp_path / "r.json"
    r = _bench("--user-path", str(tmp_path / "w"), "--tiny", "--steps", "2", "--device", "cpu", "--plan", "cpu",
               "--json", str(out), timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    run = res["run"]
    assert res["child_rc"] == 0 and run["plan"].startswith("CPU") and run["load_s"] > 0
    assert [j["alpha"] for j in run["jobs"]] == [1.4, 1.0]
    for i, job in enumerate(run["jobs"], 1):
        assert 0 < job["before_text_s"] < job["first_preview_s"] < job["to_mp4_s"], job
        assert len(job["steps_s"]) == 2 and (tmp_path / "w" / "outputs" / f"job{i}.mp4").exists()
    assert len(run["alpha_change_s"]) == 2 and run["rss_peak_gib"] >= run["rss_after_load_gib"] > 0
    again = _bench("--user-path", str(tmp_path / "w"), "--tiny", "--steps", "1", "--jobs", "1", "--plan", "cpu",
                   "--json", str(out), timeout=900)
    assert again.returncode == 0 and json.loads(out.read_text())["write"] == {"reused": 1.0}


def test_loader_ram_mode_still_measures(tmp_path):
    r = _bench("--loader-ram", str(tmp_path / "shards"), "--tiny", "--loader-fp32")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "load_dit -> cpu" in r.stdout and "growth per parameter" in r.stdout


def test_runner_skips_what_does_not_fit_and_writes_its_tables(tmp_path):
    from benchmarks.gpu_run import main

    main(["--kind", "1gpu", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--budget", "1"])
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(res["stages"]) == {"user_path", "speed_probe", "attention", "offload"}
    assert all("skipped" in s for s in res["stages"].values())
    text = (tmp_path / "out" / "summary.md").read_text()
    assert "user_path: skipped" in text and (tmp_path / "out" / "log.txt").exists()


def test_summary_tables_of_a_run():
    from benchmarks.gpu_summary import summary

    job = {"alpha": 1.4, "first_preview_s": 4.2, "to_mp4_s": 31.0, "before_text_s": 0.9, "optimizing_at_s": None,
           "steps_s": [2.7, 2.6, 2.6], "decode_at_s": 27.0}
    results = {"kind": "2gpu", "env": {"gpus": ["H200", "H200"], "torch": "2.11"}, "stages": {
        "user_path": {"result": {"write_s": 60.0, "write": {}, "run": {
            "plan": "2 GPUs, CFG-parallel", "load_s": 12.5, "jobs": [job], "alpha_change_s": [1.2, 1.1],
            "rss_peak_gib": 20.5, "rss_hwm_gib": 20.7, "rss_after_load_gib": 9.0,
            "gpu_peak_load_gib": {"cuda:0": 40.0}, "gpu_peak_jobs_gib": {"cuda:0": 41.0}}}},
        "speed_probe": {"result": {"forward": {"eager": {"first_call_s": 3.4, "forward_s": 3.1},
                                               "fp8": {"first_call_s": 30.0, "forward_s": 2.4,
                                                       "rel_diff_vs_bf16": 0.03}}}},
        "two_gpu": {"rc": 1, "seconds": 3.0}}}
    text = summary(results)
    assert "| job 1, alpha 1.4: first step preview after the call | 4.2 s" in text
    assert "| alpha change alone (1.4, then 1.0) | [1.2, 1.1] s |" in text
    assert "| fp8 | 30.00 s | 2.400 s | 0.0300 |" in text
    assert "two_gpu: no result (exit 1" in text


def test_fusion_probe_runs_its_dit_variants(tmp_path):
    """benchmarks/fusion_probe.py at tiny size: eager, compiled and compiled with fused ops, their differences
    and kernel tables (empty on the CPU: the profiler sees no GPU kernels)."""
    out = tmp_path / "f.json"
    r = subprocess.run([sys.executable, "-m", "benchmarks.fusion_probe", "--tiny", "--parts", "dit", "--reps", "1",
                        "--top", "2", "--device", "cpu", "--json", str(out)], capture_output=True, text=True,
                       cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    dit = json.loads(out.read_text())["dit"]
    assert {"eager", "compiled", "compiled_fused"} <= dit.keys() and dit["speedup_fused"] > 0
    assert dit["kernels_compiled_fused"]["total_s"] == 0 and dit["rel_compiled_fused_vs_eager"] < 1e-5
