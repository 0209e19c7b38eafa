"""On a real local Ray cluster (two nodes, a worker on each, the demo model): the batch command, the window's
queue, cancel, a worker killed mid-job, and stopping it all. The last test stops the cluster."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from local_cluster import TINY, WORKERS, RunningCluster

from pusa_engine.atomic_files import is_finished_output, process_alive
from pusa_engine.cluster.worker import CANCELLING
from pusa_engine.events import StepProgress
from pusa_engine.jobs.protocol import EngineSetup, EngineStatus, JobEnded, JobEvent, Submit
from pusa_engine.request import GenerationRequest

pytestmark = pytest.mark.cluster
PYTHON = sys.executable


def _start_batch(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "pusa_engine", "batch", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _batch(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 400):
    proc = _start_batch(args, cwd, env)
    stdout, stderr = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def test_batch_runs_on_both_workers_bit_identical_to_local(cluster: RunningCluster, tmp_path, media_dir):
    for name in ("red.png", "green.jpg", "clip.mp4"):
        shutil.copy(media_dir / name, tmp_path / name)
    lines = [
        {"name": "t2v", "prompt": "a red fox runs", "seed": 1, **TINY},
        {"name": "i2v", "prompt": "a ball", "seed": 2, "keyframes": [{"image": "red.png", "frame": 0, "noise": 0.2}],
         **TINY},
        {"name": "ext", "request": {"prompt": "waves", "seed": 3, "save_png_frames": True, **TINY,
                                    "video": {"video": "clip.mp4", "slots": [0, 1], "noise": [0.0, 0.3]}}},
        {"name": "multi", "prompt": "a bird", "seed": 4, **TINY,
         "keyframes": [{"image": "green.jpg", "frame": 0, "noise": 0.2}, {"image": "red.png", "frame": 8,
                                                                           "noise": 0.5}]},
    ]
    (tmp_path / "jobs.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    here = _start_batch(["jobs.jsonl", "--out-dir", "local", "--model", str(cluster.model), "--lora",
                         str(cluster.lora), "--plan", "cpu"], tmp_path)  # the reference, run meanwhile
    remote = _batch(["jobs.jsonl", "--cluster", cluster.client_address, "--out-dir", "remote"], tmp_path, cluster.env())
    assert remote.returncode == 0, remote.stderr[-2000:]
    _, local_err = here.communicate(timeout=400)
    assert here.returncode == 0, local_err[-2000:]
    assert "batch: 4 done, 0 failed, 0 cancelled, 0 skipped" in remote.stdout
    assert "overall" in remote.stderr and "step 3/3" in remote.stderr  # a bar per job and one overall

    workers = set()
    for line in lines:
        name = line["name"]
        mine, theirs = tmp_path / "local" / f"{name}.mp4", tmp_path / "remote" / f"{name}.mp4"
        assert is_finished_output(theirs)
        assert theirs.read_bytes() == mine.read_bytes(), f"{name}: the cluster's video differs from the local one"
        local_side, remote_side = (json.loads(p.with_suffix(".json").read_text()) for p in (mine, theirs))
        assert remote_side["request"] == local_side["request"]  # the user's own paths, the same seed
        workers.add(remote_side["cluster"]["worker"])
    assert workers == set(WORKERS)  # both workers ran jobs, in parallel
    frames = sorted((tmp_path / "remote" / "ext").iterdir())
    assert [f.name for f in frames] == [f.name for f in sorted((tmp_path / "local" / "ext").iterdir())]
    assert all(f.read_bytes() == (tmp_path / "local" / "ext" / f.name).read_bytes() for f in frames)

    again = _batch(["jobs.jsonl", "--cluster", cluster.client_address, "--out-dir", "remote"], tmp_path, cluster.env())
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 done, 0 failed, 0 cancelled, 4 skipped (already done)" in again.stdout


def _tiny_request(steps: int, seed: int = 7) -> GenerationRequest:
    return GenerationRequest(prompt="a lighthouse at dusk", seed=seed, **{**TINY, "steps": steps})


def test_cancel_stops_the_remote_job_within_a_step(cluster: RunningCluster, tmp_path):
    from pusa_engine.cluster.client import ClusterConnection

    client = ClusterConnection(cluster.client_address, token=cluster.token).clients()[0]
    inbox: queue.Queue = queue.Queue()
    client.start(inbox.put)
    out = tmp_path / "cancelled.mp4"
    client.submit(Submit("c1", _tiny_request(steps=40), str(out), EngineSetup()))
    steps_after_cancel, arrived, last_step = 0, False, 0
    while True:
        message = inbox.get(timeout=180)
        if isinstance(message, JobEvent) and isinstance(message.event, StepProgress):
            last_step = message.event.step
            steps_after_cancel += arrived
            if last_step == 2:
                client.cancel("c1")
        arrived = arrived or isinstance(message, EngineStatus) and message.text == CANCELLING
        if isinstance(message, JobEnded):
            break
    assert message.outcome == "cancelled" and arrived
    assert steps_after_cancel <= 1  # once the worker has the cancel: the step that was running, at most
    assert last_step < 40
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing written, not even a temporary


def test_the_windows_cluster_client_never_loads_torch(cluster: RunningCluster, tmp_path):
    code = f"""
import queue, sys
from pusa_desktop import cluster_lanes  # the window's side
from pusa_engine.cluster.client import ClusterConnection
from pusa_engine.jobs.protocol import EngineSetup, JobEnded, Submit
from pusa_engine.request import GenerationRequest
client = ClusterConnection({cluster.client_address!r}, token={cluster.token!r}).clients()[0]
inbox = queue.Queue()
client.start(inbox.put)
client.submit(Submit("t1", GenerationRequest("a kite", seed=1, **{TINY!r}), {str(tmp_path / "kite.mp4")!r},
              EngineSetup()))
while not isinstance(message := inbox.get(timeout=180), JobEnded):
    pass
print(message.outcome, "torch" in sys.modules, "diffsynth" in sys.modules)
"""
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["done", "False", "False"], done.stderr[-2000:]
    assert is_finished_output(tmp_path / "kite.mp4")


# ---- the window ------------------------------------------------------------------------------------------
@pytest.fixture
def cluster_window(cluster: RunningCluster, qtbot, tmp_path, monkeypatch, demo_model):
    """The real window, its settings pointing at the cluster, the local engine switched off."""
    monkeypatch.setenv("PUSA_STUDIO_HOME", str(tmp_path / "home"))
    from pusa_desktop.app_settings import AppSettings
    from pusa_desktop.main_window import MainWindow
    from pusa_engine.jobs.inprocess import InProcessClient

    settings = AppSettings()
    settings.cluster_address, settings.cluster_token = cluster.client_address, cluster.token
    settings.use_local_engine = False
    settings.output_dir = str(tmp_path / "out")
    window = MainWindow(settings, interactive=False, engine_client=InProcessClient(str(tmp_path / "demo")))
    qtbot.addWidget(window)
    messages: list[str] = []
    window.runner.message.connect(messages.append)
    window.messages = messages
    window.runner.pump()  # reads the settings: connects, finds the workers
    qtbot.waitUntil(lambda: len(window.runner.cluster.worker_names) == 2, timeout=60_000)
    yield window
    window.shutdown()


def _steps_by_job(window) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    window.host.any_step.connect(lambda job_id, event: seen.setdefault(job_id, []).append(event.step))
    return seen


def test_window_runs_queued_jobs_on_both_workers_at_once(cluster_window, qtbot):
    window = cluster_window
    steps = _steps_by_job(window)
    shown: list[tuple[str, int]] = []
    window.host.step_progress.connect(lambda job_id, event: shown.append((job_id, event.step)))
    jobs = [window.runner.enqueue(_tiny_request(steps=4, seed=s)) for s in (11, 12)]
    running = [window.queue_panel.list.item(i).text() for i in range(window.queue_panel.list.count())]
    assert all("[running on w-" in text for text in running), running  # both at once, each says where
    assert {job.worker for job in jobs} == set(WORKERS)
    qtbot.waitUntil(lambda: all(j.state.value == "done" for j in jobs), timeout=240_000)
    for job in jobs:
        assert steps[job.id] == [1, 2, 3, 4]  # every step's preview, in order
        assert is_finished_output(job.result.video_path)
        assert Path(job.result.video_path).parent == Path(window.app_settings.output_dir)
        assert json.loads(Path(job.result.sidecar_path).read_text())["cluster"]["worker"] == job.worker
        assert job.to_plain()["worker"] == job.worker  # journaled with the job
    first = jobs[0].id
    assert [s for j, s in shown if j == first] == [1, 2, 3, 4]  # the window showed the first job's previews
    assert window.previews_received[first] == 4


def test_worker_killed_mid_job_runs_again_on_the_other(cluster_window, qtbot):
    window = cluster_window
    steps = _steps_by_job(window)
    killed: list[int] = []

    def kill_at_step_two(job_id: str, event: StepProgress) -> None:
        if event.step == 2 and not killed:  # the worker's process, mid-job
            killed.append(window.runner.cluster._clients[first_worker].worker.pid)
            os.kill(killed[0], signal.SIGKILL)

    window.host.any_step.connect(kill_at_step_two)
    job = window.runner.enqueue(_tiny_request(steps=25, seed=21))
    first_worker, first_output = job.worker, job.output
    qtbot.waitUntil(lambda: job.state.value == "done", timeout=240_000)
    assert killed
    assert job.worker != first_worker and job.worker in WORKERS
    assert any(m.startswith(f"Job interrupted on {first_worker}") for m in window.messages), window.messages
    assert steps[job.id][-25:] == list(range(1, 26))  # the second run, every step
    videos = sorted(Path(window.app_settings.output_dir).glob(f"*{job.id}*"))
    assert videos == sorted([Path(job.result.video_path), Path(job.result.sidecar_path)])  # one run finished
    assert first_output is not None
    assert json.loads(Path(job.result.sidecar_path).read_text())["cluster"]["worker"] == job.worker


def test_a_wrong_token_is_refused_in_one_line(cluster: RunningCluster, tmp_path):
    (tmp_path / "jobs.jsonl").write_text(json.dumps({"prompt": "x", **TINY}) + "\n")
    started = time.monotonic()
    done = _batch(["jobs.jsonl", "--cluster", cluster.client_address, "--out-dir", "out"], tmp_path,
                  {**cluster.env(), "RAY_AUTH_TOKEN": "not-the-token"}, timeout=120)
    assert done.returncode == 1 and time.monotonic() - started < 60
    assert done.stderr.strip().splitlines()[-1].startswith(
        f"pusa-engine: error: the cluster at {cluster.client_address} refused the token")
    assert not (tmp_path / "out" / "job-001.mp4").exists()


def test_a_second_worker_of_the_same_name_is_refused(cluster: RunningCluster):
    done = subprocess.run([PYTHON, "-m", "pusa_engine", "serve", "--cluster", cluster.address, "--node-ip-address",
                           "127.0.0.2", "--model", str(cluster.model), "--lora", str(cluster.lora), "--plan", "cpu",
                           "--name", WORKERS[0]], env=cluster.env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"pusa-engine: error: a worker named {WORKERS[0]} is already in the cluster: give another --name")


def test_stopping_the_cluster_leaves_no_ray_process(cluster: RunningCluster):
    if cluster.local is None:
        pytest.skip("a cluster started by hand (PUSA_TEST_CLUSTER) is stopped by hand")
    from pusa_engine.cluster.connect import disconnect

    disconnect()
    killed = cluster.local.stop()
    time.sleep(1)
    assert killed == [], f"processes that did not stop on their own: {killed}"
    assert cluster.local.left_over() == []
    stale = [f for f in Path(tempfile.gettempdir()).glob("pusa-worker-*-*") if not process_alive(int(
        f.name.split("-")[2]))]
    assert stale == []  # the workers removed their work folders (the killed one's went at its restart)
    ours = str(cluster.local.dir)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            assert ours not in cmdline, f"process {entry.name} of the cluster is still running: {cmdline[:200]}"
