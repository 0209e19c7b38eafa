"""One real local Ray cluster (two nodes, a worker on each, the demo model) for the whole module that needs it;
the rest of the shared pieces are in local_cluster.py (a plain module: `conftest` names clash across folders)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # local_cluster, as a plain module

from local_cluster import HEAD_IP, NODE_IP, WORKERS, LocalCluster, RunningCluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster(demo_model) -> Iterator[RunningCluster]:
    """Started here (head 127.0.0.2, second node 127.0.0.3, `serve` on each), stopped after the module.
    PUSA_TEST_CLUSTER=<cluster.json> reuses one started with `python -m tests.cluster.local_cluster`."""
    reuse = os.environ.get("PUSA_TEST_CLUSTER")
    if reuse:
        info = json.loads(Path(reuse).read_text())
        yield RunningCluster(info["address"], info["client_address"], info["token"], Path(info["model"]),
                             Path(info["lora"]), None)
        return
    model, lora = demo_model
    local = LocalCluster()
    try:
        local.start()
        local.serve({WORKERS[0]: HEAD_IP, WORKERS[1]: NODE_IP}, model, lora)
        yield RunningCluster(local.address, local.client_address, local.token, model, lora, local)
    finally:
        from pusa_engine.cluster.connect import disconnect

        disconnect()
        local.stop()
        shutil.rmtree(local.dir, ignore_errors=True)
