"""`python -m pusa_engine serve --cluster ADDRESS --model DIR [--lora FILE] [--plan P ...] [--name NAME]`.

Run on a machine that is a node of the cluster (`ray start --address ADDRESS` there first): checks the
model files, then starts one worker per plan, each a Ray actor pinned to this node and the plan's GPUs,
named `pusa-worker:<name>` in our namespace, and waits until each has loaded the model. Ctrl+C (or SIGTERM)
stops them; they also end with this process. A worker whose process dies is restarted by Ray (its job
ends as interrupted on the client, which runs it again elsewhere).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from ..jobs.protocol import EngineSetup
from ..locations import default_demo_dir
from . import NAMESPACE, WORKER_PREFIX
from .connect import ClusterAddress, ClusterError, connect, require_ray

WORKER_RESTARTS = 3  # Ray restarts a worker whose process died this many times


def plan_gpus(plan: str) -> list[int] | None:
    """The GPU indices a plan name uses ([] for the CPU; None for "auto": whatever it finds)."""
    if plan == "auto":
        return None
    if plan == "cpu":
        return []
    spec = plan.partition("+")[0]
    if not spec.startswith("cuda"):
        raise ClusterError(f"unknown device plan {plan!r}: use auto, cpu, cuda:N, cuda:N+offload, cuda:N,M ...")
    try:
        return sorted({int(i) if i else 0 for i in (spec.partition(":")[2] or "0").split(",")})
    except ValueError as error:
        raise ClusterError(f"device plan {plan!r}: GPU numbers must be whole numbers, e.g. cuda:0,1") from error


def worker_names(name: str | None, plans: list[str]) -> list[str]:
    base = name or socket.gethostname()
    if len(plans) == 1:
        return [base if name else f"{base}-{plans[0]}"]
    return [f"{base}-{plan}" for plan in plans]


def resolve_setup(model: Path | None, lora: Path | None) -> tuple[EngineSetup, list[str]]:
    """The worker's files and every problem with them (the demo model when no folder is given)."""
    if model is None:
        from ..demo_model import ensure_demo_model

        model, demo_lora = ensure_demo_model(default_demo_dir())
        lora = lora or demo_lora
    from ..validation import validate_model_files

    return EngineSetup(str(Path(model).resolve()), str(Path(lora).resolve()) if lora else ""), \
        [str(p) for p in validate_model_files(model, lora)]


def actor_options(name: str, plan: str, node_id: str, node_gpus: float) -> dict:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    gpus = plan_gpus(plan)
    count = node_gpus if gpus is None else len(gpus)
    options = {"name": WORKER_PREFIX + name, "namespace": NAMESPACE, "max_concurrency": 16,
               "max_restarts": WORKER_RESTARTS, "max_task_retries": 0, "num_cpus": 1, "num_gpus": count,
               "scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False)}
    # as many CPU threads as a local engine on this machine (Ray would give an actor one): the same
    # arithmetic in the same order, so a job's video is bit for bit the one a local run makes
    env = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS") or str(local_threads())}
    if count:
        # the plan names the GPUs itself (cuda:1 is this machine's GPU 1): Ray reserves as many, and leaves
        # CUDA_VISIBLE_DEVICES alone
        env["RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES"] = "1"
    options["runtime_env"] = {"env_vars": env}
    return options


def local_threads() -> int:
    """The CPU threads torch uses in a process of its own on this machine."""
    import torch

    return torch.get_num_threads()


def serve(args: argparse.Namespace) -> int:
    require_ray()
    address = ClusterAddress.parse(args.cluster)
    if address.client:
        raise ClusterError(f"serve runs on a node of the cluster: give its GCS address ({address.host}:6379), "
                           "not a ray:// address, after `ray start --address` on this machine")
    plans = args.plan or ["auto"]
    for plan in plans:
        plan_gpus(plan)
    names = worker_names(args.name, plans)
    setup, problems = resolve_setup(args.model, args.lora)
    if problems:
        raise ClusterError([*problems, f"{len(problems)} problem(s) with the model files: no worker started"])
    ray = connect(address, token_file=args.token_file, node_ip=args.node_ip_address)
    from .worker import PusaWorker

    node_id = ray.get_runtime_context().get_node_id()
    node_gpus = next((n["Resources"].get("GPU", 0) for n in ray.nodes() if n["NodeID"] == node_id), 0)
    for name in names:
        try:
            ray.get_actor(WORKER_PREFIX + name, namespace=NAMESPACE)
        except ValueError:
            continue
        raise ClusterError(f"a worker named {name} is already in the cluster: give another --name")
    remote = ray.remote(PusaWorker)
    workers = [remote.options(**actor_options(name, plan, node_id, node_gpus))
               .remote(name, EngineSetup(setup.model_dir, setup.lora_path, plan), str(default_demo_dir()))
               for name, plan in zip(names, plans, strict=True)]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        for worker in workers:
            print(f"loading {Path(setup.model_dir).name} ...", file=sys.stderr, flush=True)
            info = _wait_ready(ray, worker, stop)
            if info is None:
                return 130
            print(f"worker {info.name} ready on {info.host} ({info.node}): {info.plan}, model {info.model}",
                  flush=True)
        print(f"serving {len(workers)} worker(s) to the cluster at {address.text}; Ctrl+C stops them", flush=True)
        stop.wait()
        return 0
    finally:
        try:
            ray.wait([worker.close.remote() for worker in workers], num_returns=len(workers), timeout=10)
        except Exception as error:  # noqa: BLE001 - they may be gone already
            print(f"could not tidy every worker: {error}", file=sys.stderr)
        for worker in workers:
            try:
                ray.kill(worker, no_restart=True)
            except Exception:  # noqa: BLE001, S110 - it may be gone already
                pass
        ray.shutdown()
        print("workers stopped", file=sys.stderr, flush=True)


def _wait_ready(ray, worker, stop: threading.Event):
    ref = worker.info.remote()
    while not stop.is_set():
        ready, _ = ray.wait([ref], timeout=0.5)
        if ready:
            try:
                return ray.get(ref)
            except Exception as error:  # noqa: BLE001 - the load failed: say why in one line
                raise ClusterError(f"the worker could not load the model: {_first_line(error)}") from error
    return None


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    for line in reversed(lines):  # Ray wraps the worker's own exception: its last line is the message
        if "Error" in line and ":" in line:
            return line.strip()[:400]
    return (lines[-1] if lines else type(error).__name__)[:400]
