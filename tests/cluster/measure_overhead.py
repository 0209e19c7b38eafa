"""What a cluster job costs beyond a local one, on the local test cluster (demo model, CPU plan):

    python tests/cluster/measure_overhead.py [--jobs 5] [--png]     (PUSA_TEST_CLUSTER=... reuses a cluster)

Both sides warm (model loaded, prompt cached after the first job); the local side is the app's engine process
(niced 5 below its caller: run this with `nice -n 10` beside a cluster started under `nice -n 15`).
Reported as medians over the jobs:
submit to first preview and to the end, here (the app's engine process) and on a worker (through Ray Client);
the dispatch (submit -> the worker's first message back); the transfer of the result (the worker has read its
files -> they are written here), with its size.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from local_cluster import HEAD_IP, NODE_IP, LocalCluster  # noqa: E402

from pusa_engine.events import StepProgress  # noqa: E402
from pusa_engine.jobs.protocol import EngineSetup, JobEnded, JobEvent, Submit  # noqa: E402
from pusa_engine.request import GenerationRequest  # noqa: E402


def run(client, request: GenerationRequest, out: Path, job_id: str) -> dict[str, float]:
    inbox: queue.Queue = queue.Queue()
    client.start(inbox.put)
    start = time.time()
    client.submit(Submit(job_id, request, str(out), EngineSetup(plan="cpu")))
    first = None
    while True:
        message = inbox.get(timeout=600)
        if isinstance(message, JobEvent) and isinstance(message.event, StepProgress) and first is None:
            first = time.time()
        if isinstance(message, JobEnded) and message.job_id == job_id:
            assert message.outcome == "done", message.problems
            frames = out.with_suffix("")
            files = [out, out.with_suffix(".json"), *(frames.iterdir() if frames.is_dir() else [])]
            return {"first_preview": first - start, "total": time.time() - start,
                    "bytes": sum(f.stat().st_size for f in files)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--png", action="store_true", help="also return every frame as PNG")
    parser.add_argument("--size", default="256x144x33", help="WIDTHxHEIGHTxFRAMES")
    args = parser.parse_args()
    width, height, frames = (int(v) for v in args.size.split("x"))
    request = dict(prompt="a harbour at dawn", width=width, height=height, frames=frames, steps=3,
                   save_png_frames=args.png)
    started = None
    if os.environ.get("PUSA_TEST_CLUSTER"):
        info = json.loads(Path(os.environ["PUSA_TEST_CLUSTER"]).read_text())
    else:
        from pusa_engine.demo_model import ensure_demo_model

        started = LocalCluster()
        model, lora = ensure_demo_model(started.dir / "demo")
        started.start()
        started.serve({"w-head": HEAD_IP, "w-node2": NODE_IP}, model, lora)
        info = {"client_address": started.client_address, "token": started.token, "model": str(model),
                "lora": str(lora)}
    try:
        from pusa_engine.cluster.client import ClusterConnection
        from pusa_engine.jobs.process import EngineProcessClient

        out = Path(tempfile.mkdtemp(prefix="overhead-"))
        here = EngineProcessClient(str(Path(info["model"]).parent))  # the app's local engine
        worker = ClusterConnection(info["client_address"], token=info["token"]).clients()[0]
        rows: dict[str, list[dict[str, float]]] = {"local": [], "cluster": []}
        for i in range(args.jobs + 1):  # the first of each warms up
            for side, client in (("local", here), ("cluster", worker)):
                r = run(client, GenerationRequest(**request, seed=100 + i), out / side / f"j{i}.mp4", f"{side}{i}")
                if side == "cluster":
                    t = worker.timings[f"{side}{i}"]
                    r["transfer"] = t["written"] - t["worker_finished"]
                    r["dispatch"] = t["started"] - t["submitted"]
                if i:
                    rows[side].append(r)
        here.stop()
        for key in ("first_preview", "total"):
            local, remote = (statistics.median(r[key] for r in rows[s]) for s in ("local", "cluster"))
            print(f"{key:>14}: local {local * 1000:7.1f} ms   cluster {remote * 1000:7.1f} ms   "
                  f"overhead {(remote - local) * 1000:+7.1f} ms")
        dispatch = statistics.median(r["dispatch"] for r in rows["cluster"])
        print(f"{'dispatch':>14}: {dispatch * 1000:.1f} ms from submit to the worker's first message (files by "
              "content, the job handed over, its first event back)")
        transfer = statistics.median(r["transfer"] for r in rows["cluster"])
        size = statistics.median(r["bytes"] for r in rows["cluster"])
        print(f"{'transfer':>14}: {transfer * 1000:.1f} ms for {size / 1024:.0f} KiB of results "
              f"(median of {args.jobs} jobs, {request['width']}x{request['height']}, {request['frames']} frames"
              f"{', PNG frames' if args.png else ''})")
    finally:
        if started is not None:
            from pusa_engine.cluster.connect import disconnect

            disconnect()
            print("left over after stop:", started.stop())


if __name__ == "__main__":
    main()
