"""`python -m pusa_engine serve ...` and `python -m pusa_engine batch ...`: the cluster's command lines.

Wrong arguments, files or addresses exit non-zero with one line (or one line per problem), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import PusaError, os_error_line
from ..jobs.protocol import EngineSetup, JobClient
from ..locations import default_demo_dir

COMMANDS = ("serve", "batch")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        sys.stderr.write(f"pusa-engine: error: {message} (see --help)\n")
        raise SystemExit(2)


def _optional_path(text: str) -> Path | None:
    return Path(text) if text.strip() else None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pusa-engine", description="Pusa Studio on a Ray cluster")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("serve", help="offer this machine's GPUs to a cluster as workers (one per --plan)")
    s.add_argument("--cluster", required=True, metavar="ADDRESS", help="the cluster's GCS address, HOST:PORT")
    s.add_argument("--model", type=_optional_path, help="the model folder on this machine (default: the demo model)")
    s.add_argument("--lora", type=_optional_path, help="the Pusa LoRA file on this machine")
    s.add_argument("--plan", action="append", default=[], help="a device plan; repeat for more workers "
                   "(e.g. --plan cuda:0 --plan cuda:1); default: auto")
    s.add_argument("--name", help="the worker's name (default: this machine's name and the plan)")
    s.add_argument("--node-ip-address", help="this node's address in the cluster, when it has several")
    s.add_argument("--token-file", help="the cluster's token (default: RAY_AUTH_TOKEN or ~/.ray/auth_token)")

    b = sub.add_parser("batch", help="run a file of requests (one JSON per line), here or on a cluster")
    b.add_argument("jobs", type=Path, metavar="JOBS.jsonl")
    b.add_argument("--out-dir", type=Path, required=True, help="where the videos and sidecars go")
    b.add_argument("--cluster", metavar="ADDRESS", help="HOST:PORT on a node, ray://HOST:10001 elsewhere "
                   "(default: run here)")
    b.add_argument("--token-file", help="the cluster's token (default: RAY_AUTH_TOKEN or ~/.ray/auth_token)")
    b.add_argument("--node-ip-address", help="this node's address in the cluster, when it has several")
    b.add_argument("--model", type=_optional_path, help="model folder, without --cluster (default: demo model)")
    b.add_argument("--lora", type=_optional_path, help="Pusa LoRA file, without --cluster")
    b.add_argument("--plan", default="auto", help="device plan, without --cluster")
    return p


def batch(args: argparse.Namespace) -> int:
    from .batch import BatchError, read_jobs, run_jobs, skip_finished
    from .batch_progress import BatchProgress

    if args.cluster and (args.model or args.lora or args.plan != "auto"):
        raise BatchError("--model, --lora and --plan are for running here: on a cluster each worker runs the "
                         "model it was started with (`serve --model`)")
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise BatchError(f"--out-dir {args.out_dir} is a file: give a folder")
    jobs = read_jobs(args.jobs, args.out_dir)
    skip_finished(jobs)
    engines = _cluster_engines(args) if args.cluster else _local_engines()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    setup = EngineSetup(str(args.model or ""), str(args.lora or ""), args.plan)
    progress = BatchProgress(jobs)
    left = sum(j.state == "waiting" for j in jobs)
    print(f"{len(jobs)} job(s), {left} to run on {', '.join(engines)}", file=sys.stderr, flush=True)
    try:
        run_jobs(jobs, engines, setup, progress)
    finally:
        for line in progress.summary():
            print(line, flush=True)
        for client in engines.values():
            client.stop()
    return 0 if all(j.state in ("done", "skipped") for j in jobs) else 1


def _local_engines() -> dict[str, JobClient]:
    from ..jobs.inprocess import InProcessClient

    return {"this computer": InProcessClient(str(default_demo_dir()))}


def _cluster_engines(args: argparse.Namespace) -> dict[str, JobClient]:
    from .client import ClusterConnection
    from .connect import ClusterError

    connection = ClusterConnection(args.cluster, token_file=args.token_file, node_ip=args.node_ip_address)
    clients = connection.clients()
    if not clients:
        raise ClusterError(f"no Pusa worker answers in the cluster at {connection.address.text}: start one on a GPU "
                           "machine with `python -m pusa_engine serve --cluster ADDRESS --model DIR`")
    return {client.name: client for client in clients}


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            from .serve import serve

            return serve(args)
        return batch(args)
    except PusaError as error:
        for problem in error.problems[:-1]:
            sys.stderr.write(f"pusa-engine: {problem}\n")
        sys.stderr.write(f"pusa-engine: error: {error.problems[-1] if error.problems else error}\n")
        return 1
    except OSError as error:
        sys.stderr.write(os_error_line(error))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("pusa-engine: interrupted\n")
        return 130
