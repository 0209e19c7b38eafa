"""The user's real path, timed: an official-layout folder of full-size random weights written on this machine,
then `Engine(folder, "pusa_v1.pt", plan)` loaded and two jobs run in a fresh process, as the app's engine
process runs them.

    python -m benchmarks.bench --user-path DIR [--plan auto] [--json FILE]

The jobs: I2V at 832x480, 81 frames, 10 steps, CFG 3, a keyframe at frame 0 (noise 0.2); job 1 at LoRA alpha
1.4, job 2 with a new prompt, a new keyframe image and alpha 1.0 (what a user changes between two takes).
Reported: load time, each job's time from Generate to its first step preview and to the MP4 on disk, its
phases (the "optimizing for this size" of the first compiled job included), the alpha change alone, the
process's peak RSS (sampled, and the kernel's high-water mark), and the GPU peak per device.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GiB = 2**30
PROMPTS = ("A golden retriever runs along a beach at sunset, waves rolling in, camera tracking at low height",
           "A red fox walks through fresh snow in a quiet forest, soft morning light, slow camera pan")


# ---- the measured process -----------------------------------------------------------------------------------
class RssSampler:
    """The process's resident memory every few milliseconds (psutil), and its peak."""

    def __init__(self, every: float = 0.02):
        import psutil

        self.proc = psutil.Process()
        self.every = every
        self.peak = self.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> int:
        return self.proc.memory_info().rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(self.every)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.now())


def _hwm_gib() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / GiB
    except OSError:
        pass
    return None


class Timeline:
    """When each event of a job arrived, in seconds from the call."""

    def __init__(self, rss: RssSampler):
        self.t0 = time.perf_counter()
        self.rss = rss
        self.events: list[dict] = []

    def __call__(self, event) -> None:
        from pusa_engine.events import PhaseProgress, StepProgress

        t = round(time.perf_counter() - self.t0, 3)
        if isinstance(event, StepProgress):
            self.events.append({"t": t, "step": event.step, "s": round(event.seconds_this_step, 3)})
        elif isinstance(event, PhaseProgress):
            self.events.append({"t": t, "phase": event.phase.name.lower(), "done": event.done, "total": event.total,
                                "msg": event.message[:80], "rss_gib": round(self.rss.now() / GiB, 2)})

    def first(self, key: str, value=None) -> float | None:
        for e in self.events:
            if key in e and (value is None or e[key] == value):
                return e["t"]
        return None


def _images(folder: Path, width: int, height: int) -> list[Path]:
    import numpy as np
    from PIL import Image

    out = []
    for i in range(2):
        g = np.random.default_rng(i)
        coarse = g.integers(0, 255, (4, 6, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize((width, height), Image.BICUBIC)
        out.append(folder / f"keyframe{i}.png")
        img.save(out[-1])
    return out


def child(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    for name in ("--model", "--lora", "--plan", "--out-dir", "--json"):
        ap.add_argument(name, required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--cfg", type=float, default=3.0)
    a = ap.parse_args(argv)
    rss = RssSampler().start()
    import torch

    from pusa_engine.engine import Engine
    from pusa_engine.request import GenerationRequest, Keyframe

    out_dir = Path(a.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gpus = [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    res: dict = {"rss_start_gib": rss.now() / GiB, "plan_asked": a.plan}

    def sync() -> None:
        for d in gpus:
            torch.cuda.synchronize(d)

    def save() -> None:
        Path(a.json).write_text(json.dumps(res, indent=1, default=str))

    load = Timeline(rss)
    engine = Engine(a.model, a.lora, plan=a.plan)
    engine.load(on_event=load)
    sync()
    res.update(plan=engine.plan_description, load_s=time.perf_counter() - load.t0, load_events=load.events,
               rss_after_load_gib=rss.now() / GiB, rss_peak_load_gib=rss.peak / GiB,
               gpu_peak_load_gib={str(d): torch.cuda.max_memory_allocated(d) / GiB for d in gpus})
    print(f"loaded in {res['load_s']:.1f} s: {res['plan']}; RSS {res['rss_after_load_gib']:.1f} GiB "
          f"(peak {res['rss_peak_load_gib']:.1f})", flush=True)
    save()
    for d in gpus:
        torch.cuda.reset_peak_memory_stats(d)
    images = _images(out_dir, a.width, a.height)
    res["jobs"] = []
    for i, alpha in enumerate((1.4, 1.0)[:a.jobs]):
        req = GenerationRequest(prompt=PROMPTS[i], width=a.width, height=a.height, frames=a.frames, steps=a.steps,
                                cfg=a.cfg, seed=42, lora_alpha=alpha, keyframes=[Keyframe(str(images[i]), 0, 0.2)])
        tl = Timeline(rss)
        engine.generate(req, out_dir / f"job{i + 1}.mp4", on_event=tl)
        total = time.perf_counter() - tl.t0
        steps = [e["s"] for e in tl.events if "step" in e]
        job = {"alpha": alpha, "to_mp4_s": total, "first_preview_s": tl.first("step", 1),
               "before_text_s": tl.first("phase", "encoding_text"),  # validation + LoRA alpha written
               "optimizing_at_s": tl.first("phase", "optimizing"), "steps_s": steps,
               "decode_at_s": tl.first("phase", "decoding"), "writing_at_s": tl.first("phase", "writing"),
               "events": tl.events, "rss_gib": rss.now() / GiB}
        res["jobs"].append(job)
        print(f"job {i + 1} (alpha {alpha}): first preview {job['first_preview_s']:.1f} s, MP4 {total:.1f} s, "
              f"steps {steps}", flush=True)
        save()
    alpha_s = []
    for alpha in (1.4, 1.0):
        sync()
        t0 = time.perf_counter()
        engine.set_lora_alpha(alpha)
        sync()
        alpha_s.append(time.perf_counter() - t0)
    res.update(alpha_change_s=alpha_s, rss_peak_gib=rss.stop() / GiB, rss_hwm_gib=_hwm_gib(),
               gpu_peak_jobs_gib={str(d): torch.cuda.max_memory_allocated(d) / GiB for d in gpus})
    from pusa_engine.attention_kernels import kernel_report

    res["attention_kernels"] = kernel_report()
    print("attention kernels:\n  " + "\n  ".join(res["attention_kernels"]), flush=True)
    print(f"alpha change {[round(s, 2) for s in alpha_s]} s; peak RSS {res['rss_peak_gib']:.1f} GiB "
          f"(kernel high-water {res['rss_hwm_gib']}); GPU peak during jobs {res['gpu_peak_jobs_gib']}", flush=True)
    save()


# ---- the orchestrator ---------------------------------------------------------------------------------------
def user_path(args) -> dict:
    """Write the folder (this process), then load and run the jobs in a fresh process; returns the numbers."""
    from .official_random import write_folder

    root = Path(args.user_path)
    t0 = time.perf_counter()
    size: list[str] = []
    if args.tiny:  # every code path in seconds on a CPU
        from pusa_engine.networks import VAEDims

        from .common import TINY_DIT, TINY_T5

        model_dir, lora, written = write_folder(root, config=TINY_DIT, t5=TINY_T5, vae=VAEDims(8, 1), lora_rank=8)
        size = ["--width", "64", "--height", "48", "--frames", "9"]
    else:
        model_dir, lora, written = write_folder(root, lora_rank=args.lora_rank)
    result: dict = {"write": written, "write_s": time.perf_counter() - t0}
    print(f"model folder ready in {result['write_s']:.0f} s: {written}", flush=True)
    out_json = root / f"user-path-{args.plan.replace(':', '').replace(',', '-').replace('+', '-')}.json"
    cmd = [sys.executable, "-m", "benchmarks.user_path", "--model", str(model_dir), "--lora", str(lora),
           "--plan", args.plan, "--out-dir", str(root / "outputs"), "--json", str(out_json),
           "--jobs", str(args.jobs), "--steps", str(args.steps), "--cfg", str(args.cfg), *size]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    r = subprocess.run(cmd, env=env, cwd=ROOT)
    result["child_rc"] = r.returncode
    if out_json.exists():
        result["run"] = json.loads(out_json.read_text())
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    child(sys.argv[1:])
