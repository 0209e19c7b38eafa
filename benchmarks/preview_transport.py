"""What a step preview costs to cross from the engine process to the window.

    python benchmarks/preview_transport.py [--size 480p|720p] [--messages 200]

Sends StepProgress messages with a preview of the real model's size (uint8 [F, H/8, W/8, 3]: the latent
preview, 21x60x104x3 at 480p) from a child process over the same socket pair and framing the engine
process uses, and reports the time from `send` in the child to the message arriving unpickled in the
parent, next to the time of one denoising step on the real model (26.6 s for 10 steps on two H200s at
480p, the fastest measured, so the share is an upper bound).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from multiprocessing.connection import Connection

SIZES = {"480p": (832, 480), "720p": (1280, 720)}
STEP_SECONDS = {"480p": 2.66, "720p": 2.66 * 75600 / 32760}  # tokens scale the step (at least linearly)

CHILD = """
import sys, time, numpy as np
from multiprocessing.connection import Connection
from pusa_engine.events import StepProgress
conn = Connection(int(sys.argv[1])); frames, h, w, n = map(int, sys.argv[2:6]); interval = float(sys.argv[6])
preview = np.random.default_rng(0).integers(0, 255, (frames, h, w, 3), dtype=np.uint8)
for i in range(n):
    time.sleep(interval)  # one preview per step: latency, not a queue of them
    conn.send((time.perf_counter(), StepProgress(i + 1, n, 2.6, 2.6, 10.0, [500.0] * frames, preview)))
conn.close()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="480p")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between previews")
    args = parser.parse_args()
    width, height = SIZES[args.size]
    frames = 21
    ours, theirs = socket.socketpair()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(theirs.fileno()), str(frames), str(height // 8),
                              str(width // 8), str(args.messages), str(args.interval)], pass_fds=(theirs.fileno(),))
    theirs.close()
    conn = Connection(ours.detach())
    delays = []
    while True:
        try:
            sent, _step = conn.recv()
        except EOFError:
            break
        delays.append(time.perf_counter() - sent)  # perf_counter is system-wide (CLOCK_MONOTONIC) on Linux
    child.wait()
    delays = delays[1:]  # the first one pays for the connection's first use
    median, worst = statistics.median(delays), statistics.quantiles(delays, n=100)[98]
    size_kb = frames * (height // 8) * (width // 8) * 3 / 1024
    step = STEP_SECONDS[args.size]
    print(f"{args.size}: preview {frames}x{height // 8}x{width // 8}x3 = {size_kb:.0f} KB; {len(delays)} messages; "
          f"send-to-arrival median {median * 1000:.2f} ms, p99 {worst * 1000:.2f} ms; "
          f"{100 * median / step:.3f} % (p99 {100 * worst / step:.3f} %) of a {step:.2f} s step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
