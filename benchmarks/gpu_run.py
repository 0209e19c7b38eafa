"""Every measurement one machine kind should make, in one call, inside a time budget.

    python -m benchmarks.gpu_run --kind 1gpu --out $OUT      # nvidia-h200
    python -m benchmarks.gpu_run --kind 2gpu --out $OUT      # nvidia-h200-x2

Each stage runs `python -m benchmarks.bench ...` in its own process (a clean RSS and GPU for each), with a
timeout cut to the time left; a stage that cannot fit is skipped and said so. Into --out go `results.json`
(every stage's numbers), `summary.md` (the tables) and `log.txt` (all output). The model folder of random
weights and the compile cache go under --work (fresh cache at the start: the first job compiles cold).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .gpu_summary import summary

ROOT = Path(__file__).resolve().parents[1]

# (name, bench arguments, seconds it is expected to take, extra environment)
STAGES = {
    "1gpu": [
        ("user_path", ["--user-path", "{work}", "--plan", "auto"], 300, {}),
        ("speed_probe", ["--speed-probe", "--probe-modes", "gemm,eager,compiled,fp8"], 110, {}),
        ("attention", ["--attention-bench"], 60, {}),
        ("offload", ["--user-path", "{work}", "--plan", "cuda:0+offload", "--jobs", "1", "--steps", "2"], 110, {}),
    ],
    "2gpu": [
        ("user_path", ["--user-path", "{work}", "--plan", "auto"], 260, {}),
        ("two_gpu", ["--two-gpu", "--devices", "cuda:0,cuda:1"], 170, {"PUSA_COMPILE": "0"}),
    ],
}


class Log:
    def __init__(self, path: Path):
        self.f = open(path, "a", buffering=1)  # noqa: SIM115 - open for the whole run

    def __call__(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
        self.f.write(text)


def _run(cmd: list[str], env: dict, timeout: float, log: Log) -> int:
    """Run a stage in its own process group, its output into the log; killed (with its children) at timeout."""
    log(f"$ {' '.join(cmd)}  (timeout {timeout:.0f} s)\n")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)

    def pump() -> None:
        for line in proc.stdout:
            log(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        rc = -9
        log(f"stage stopped at its timeout ({timeout:.0f} s)\n")
    reader.join(timeout=5)
    return rc


def environment(log: Log, work: Path) -> dict:
    """Versions, GPUs (from nvidia-smi: this process never starts CUDA) and disk, for the tables."""
    import torch

    env: dict = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": sys.version.split()[0]}
    for name in ("triton", "diffsynth"):
        try:
            from importlib.metadata import version

            env[name] = version(name)
        except Exception as e:  # noqa: BLE001
            env[name] = f"missing: {type(e).__name__}"
    env["work"] = str(work)
    env["disk_free_gb"] = round(shutil.disk_usage(work).free / 1e9, 1)
    for key, cmd in (("gpus", ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]),
                     ("topology", ["nvidia-smi", "topo", "-m"])):
        try:
            env[key] = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            env[key] = str(e)
    log(json.dumps(env, indent=1) + "\n")
    return env


def work_dir(asked: Path, need_gb: float = 50) -> Path:
    """`asked`, or /dev/shm when the disk under `asked` cannot hold the model folder (one H200: 64 GiB disk)."""
    asked.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(asked).free / 1e9 >= need_gb:
        return asked
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free / 1e9 >= need_gb:
        return shm / asked.name
    return asked


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu_run")
    ap.add_argument("--kind", choices=sorted(STAGES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default="/tmp/pusa-bench")
    ap.add_argument("--budget", type=float, default=470, help="seconds for every stage together (a device call "
                    "has 600, and the wheels' install and the results' transfer need some)")
    ap.add_argument("--only", default="", help="comma-separated stage names (default: all of the kind)")
    args = ap.parse_args(argv)
    start = time.monotonic()
    out, work = Path(args.out), work_dir(Path(args.work))
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    log = Log(out / "log.txt")
    results: dict = {"kind": args.kind, "env": environment(log, work), "stages": {}}
    cache = work / "compile-cache"
    shutil.rmtree(cache, ignore_errors=True)  # the first job at a size compiles cold; later stages find it warm
    base_env = {**os.environ, "PUSA_COMPILE_CACHE": str(cache), "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    only = {s for s in args.only.split(",") if s}
    for name, bench_args, expected, extra in STAGES[args.kind]:
        if only and name not in only:
            continue
        left = args.budget - (time.monotonic() - start)
        if left < 0.6 * expected:
            results["stages"][name] = {"skipped": f"{left:.0f} s left of the budget, it needs about {expected} s"}
            log(f"== {name}: skipped ({left:.0f} s left)\n")
            continue
        stage_json = work / f"{name}.json"
        stage_json.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "benchmarks.bench", *[a.format(work=work) for a in bench_args],
               "--json", str(stage_json)]
        log(f"== {name} ({left:.0f} s left)\n")
        t0 = time.monotonic()
        rc = _run(cmd, {**base_env, **extra}, min(left, 1.6 * expected), log)
        entry = {"rc": rc, "seconds": round(time.monotonic() - t0, 1)}
        if stage_json.exists():
            try:
                entry["result"] = json.loads(stage_json.read_text())
            except ValueError as e:
                entry["result_error"] = str(e)
        results["stages"][name] = entry
        (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    results["seconds"] = round(time.monotonic() - start, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "summary.md").write_text(summary(results))
    log(summary(results) + "\n")


if __name__ == "__main__":
    main()
