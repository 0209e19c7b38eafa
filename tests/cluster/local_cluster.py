"""A real Ray cluster on this machine, on loopback addresses only, for the cluster tests (and by hand:
`python -m tests.cluster.local_cluster` starts one with two workers on the demo model and waits).

Ray turns 127.0.0.1 into the machine's network address ("remotely reachable"), so the nodes use other
loopback addresses: the head 127.0.0.2, the second node 127.0.0.3. Every process runs in a session of its
own (`ray start --block`, `serve`), so `stop` ends exactly what was started and can prove none is left.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
WORKERS = ("w-head", "w-node2")
TINY = {"width": 64, "height": 48, "frames": 9, "steps": 3}  # a request that runs in a second or two
HEAD_IP, NODE_IP = "127.0.0.2", "127.0.0.3"
WORKER_PORTS = range(10002, 20000)  # Ray's default worker ports: our fixed ports stay out of them


@dataclass
class RunningCluster:
    """What the tests need to know of a running cluster."""

    address: str  # HOST:PORT, from a node
    client_address: str  # ray://HOST:PORT, from anywhere
    token: str
    model: Path
    lora: Path
    local: LocalCluster | None  # None: one started by hand and reused (PUSA_TEST_CLUSTER)

    def env(self) -> dict[str, str]:
        return {**os.environ, "RAY_AUTH_TOKEN": self.token, "RAY_AUTH_MODE": "token"}


def free_port(host: str) -> int:
    while True:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in WORKER_PORTS:
            return port


def _session_pids(sids: set[int]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) in sids and fields[0] != "Z":  # session id; zombies hold nothing
                pids.append(int(entry.name))
    return pids


class LocalCluster:
    def __init__(self, workdir: Path | None = None) -> None:
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="pray-"))  # short: Ray's socket paths are limited
        self.token = secrets.token_hex(24)
        self.port, self.client_port = free_port(HEAD_IP), free_port(HEAD_IP)
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token,
                    "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
        self.procs: list[subprocess.Popen] = []
        self.by_log: dict[str, subprocess.Popen] = {}
        self.sids: set[int] = set()

    @property
    def address(self) -> str:
        """The GCS address (from a node of the cluster)."""
        return f"{HEAD_IP}:{self.port}"

    @property
    def client_address(self) -> str:
        """The Ray Client address (from anywhere)."""
        return f"ray://{HEAD_IP}:{self.client_port}"

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.dir / log_name, "ab")  # noqa: SIM115 - the process writes it until it ends
        proc = subprocess.Popen(["nice", "-n", "15", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.dir)
        log.close()
        self.procs.append(proc)
        self.by_log[log_name] = proc
        self.sids.add(proc.pid)
        return proc

    def _node_args(self, ip: str) -> list[str]:
        return ["--block", "--node-ip-address", ip, "--num-cpus", "2", "--num-gpus", "0",
                "--object-store-memory", str(150 * 2**20), "--disable-usage-stats",
                "--dashboard-agent-listen-port", str(free_port(ip))]

    def start(self, timeout: float = 240) -> None:
        """The head and the second node, started together (the node waits for the head by itself)."""
        self._spawn([str(VENV_BIN / "ray"), "start", "--head", "--port", str(self.port),
                     "--ray-client-server-port", str(self.client_port), "--include-dashboard=false",
                     "--temp-dir", str(self.dir / "ray"), *self._node_args(HEAD_IP)], "head.log")
        self._spawn([str(VENV_BIN / "ray"), "start", "--address", self.address, *self._node_args(NODE_IP)],
                    "node.log")
        self._wait_log("head.log", "Ray runtime started", timeout)
        self._wait_log("node.log", "Ray runtime started", timeout)

    def serve(self, workers: dict[str, str], model: Path, lora: Path, timeout: float = 300) -> None:
        """`serve` on each node ({worker name: node address}), started together; waits until all are ready."""
        for name, ip in workers.items():
            self._spawn([sys.executable, "-m", "pusa_engine", "serve", "--cluster", self.address,
                         "--node-ip-address", ip, "--model", str(model), "--lora", str(lora), "--plan", "cpu",
                         "--name", name], f"serve-{name}.log")
        for name in workers:
            self._wait_log(f"serve-{name}.log", f"worker {name} ready", timeout)

    def _wait_log(self, name: str, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        path = self.dir / name
        while time.monotonic() < deadline:
            content = path.read_text(errors="replace") if path.exists() else ""
            if text in content:
                return
            if self.by_log[name].poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError(f"{name} did not say {text!r}:\n" + (path.read_text(errors="replace")[-3000:]
                                                                 if path.exists() else "(no log)"))

    def left_over(self) -> list[int]:
        """Processes of this cluster still running (the ones started and all they started)."""
        return _session_pids(self.sids)

    def stop(self, grace: float = 40) -> list[int]:
        """Stop the workers, then the second node, then the head; returns the processes that had to be killed
        because they did not end on their own (none, when all is well)."""
        for proc in reversed(self.procs):  # serve processes first, the head last
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    pass
        deadline = time.monotonic() + 15
        while self.left_over() and time.monotonic() < deadline:
            time.sleep(0.5)
        stragglers = self.left_over()
        for pid in stragglers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        return stragglers


if __name__ == "__main__":
    from pusa_engine.demo_model import ensure_demo_model

    cluster = LocalCluster()
    model, lora = ensure_demo_model(cluster.dir / "demo")
    cluster.start()
    cluster.serve({WORKERS[0]: HEAD_IP, WORKERS[1]: NODE_IP}, model, lora)
    info = {"address": cluster.address, "client_address": cluster.client_address, "token": cluster.token,
            "model": str(model), "lora": str(lora), "dir": str(cluster.dir)}
    (cluster.dir / "cluster.json").write_text(json.dumps(info))
    print(f"cluster {cluster.address} / {cluster.client_address}, token {cluster.token}, dir {cluster.dir}; "
          f"tests reuse it with PUSA_TEST_CLUSTER={cluster.dir / 'cluster.json'}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        print("left over:", cluster.stop())
