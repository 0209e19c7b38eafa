"""The cluster's pieces that need no cluster: addresses, plans, the scheduling rules, the jobs file, the progress
lines, the request's files by content, the result written as one unit, and the messages for the user."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pusa_engine.atomic_files import is_finished_output
from pusa_engine.cluster.batch import BatchError, BatchJob, read_jobs, skip_finished
from pusa_engine.cluster.batch_progress import BatchProgress
from pusa_engine.cluster.connect import ClusterAddress, ClusterError, use_token
from pusa_engine.cluster.messages import (
    EventLog,
    ResultFiles,
    keyed_request,
    local_request,
    restore_paths,
    sidecar_bytes,
    write_result,
)
from pusa_engine.cluster.scheduling import LostJobs, choose_engine
from pusa_engine.cluster.serve import plan_gpus, worker_names
from pusa_engine.errors import InputMediaError, OutputError
from pusa_engine.events import JobResult
from pusa_engine.request import GenerationRequest, Keyframe, VideoCondition

PYTHON = sys.executable


@pytest.mark.parametrize("text, host, port, client", [
    ("10.0.0.5:6379", "10.0.0.5", 6379, False),
    (" ray://head.lan:10001 ", "head.lan", 10001, True),
    ("[::1]:6379", "::1", 6379, False),
])
def test_cluster_addresses(text, host, port, client):
    address = ClusterAddress.parse(text)
    assert (address.host, address.port, address.client) == (host, port, client)


@pytest.mark.parametrize("text", ["", "head", "head:", "head:70000", "http://head:6379", "ray://head", "a/b:1"])
def test_a_bad_cluster_address_is_one_clear_line(text):
    with pytest.raises(ClusterError) as error:
        ClusterAddress.parse(text)
    assert len(error.value.problems) == 1 and str(error.value).startswith("cluster address")


def test_no_token_anywhere_is_said_plainly(monkeypatch, tmp_path):
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # restored after the test, as the two below
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    monkeypatch.setattr("pusa_engine.cluster.connect.DEFAULT_TOKEN_FILE", tmp_path / "none")
    with pytest.raises(ClusterError, match="no cluster token"):
        use_token()
    with pytest.raises(ClusterError, match="does not exist"):
        use_token(token_file=str(tmp_path / "missing"))
    use_token("abc")
    assert os.environ["RAY_AUTH_MODE"] == "token" and os.environ["RAY_AUTH_TOKEN"] == "abc"


def test_plans_name_their_gpus_and_workers_their_plans():
    assert plan_gpus("cpu") == [] and plan_gpus("auto") is None
    assert plan_gpus("cuda:1") == [1] and plan_gpus("cuda:0,1+seq") == [0, 1] and plan_gpus("cuda:2+offload") == [2]
    with pytest.raises(ClusterError):
        plan_gpus("tpu:0")
    assert worker_names(None, ["cuda:0"])[0].endswith("-cuda:0")
    assert worker_names("gpu-box", ["cuda:0"]) == ["gpu-box"]
    assert worker_names("gpu-box", ["cuda:0", "cuda:1"]) == ["gpu-box-cuda:0", "gpu-box-cuda:1"]


def test_a_lost_job_runs_once_more_on_another_engine():
    lost = LostJobs()
    engines = ["this computer", "w1", "w2"]
    assert choose_engine(["w1", "w2"], lost.avoid("j"), engines) == "w1"
    assert lost.lost("j", "w1") is True  # it may run again...
    assert choose_engine(["w1", "w2"], lost.avoid("j"), engines) == "w2"  # ...elsewhere
    assert choose_engine(["w1"], lost.avoid("j"), engines) is None  # wait for another to be free
    assert choose_engine(["w1"], lost.avoid("j"), ["w1"]) == "w1"  # the only engine there is
    assert lost.lost("j", "w2") is False and lost.engines("j") == ["w1", "w2"]  # lost twice: no more


def _write(tmp_path: Path, lines: list) -> Path:
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_the_jobs_file_is_read_with_paths_relative_to_it(tmp_path, media_dir):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "red.png").write_bytes((media_dir / "red.png").read_bytes())
    sidecar = {"request": {"prompt": "b", "seed": 5, "keyframes": [{"image": "red.png", "frame": 0}]}, "seed": 5}
    path = _write(tmp_path / "in", ["# a comment", {"prompt": "a", "steps": 2}, "", {**sidecar, "name": "from-car"}])
    jobs = read_jobs(path, tmp_path / "out")
    assert [j.name for j in jobs] == ["job-002", "from-car"]
    assert jobs[0].request.seed is not None  # fixed once, so a job run again keeps it
    assert jobs[1].request.keyframes[0].image == str((tmp_path / "in" / "red.png").resolve())
    assert jobs[1].out == tmp_path / "out" / "from-car.mp4"


def test_every_problem_in_the_jobs_file_is_named_by_its_line(tmp_path):
    path = _write(tmp_path, ['{"prompt": "a",', [1, 2], {"steps": 3}, {"prompt": "x", "name": "../up"},
                             {"prompt": "x", "frames": 10}, {"prompt": "x", "keyframes": [{"image": "no.png",
                                                                                             "frame": 0}]},
                             {"prompt": "x", "name": "same"}, {"prompt": "y", "name": "same"}])
    with pytest.raises(BatchError) as error:
        read_jobs(path, tmp_path)
    text = "\n".join(error.value.problems)
    for expected in ("line 1: not JSON", "line 2: expected a JSON object", "line 3: the request has no prompt",
                     "line 4: the name '../up'", "line 5: frames must be 4n+1", "line 6: the file",
                     "line 8: the name 'same' is used twice"):
        assert expected in text
    with pytest.raises(BatchError, match="has no jobs"):
        read_jobs(_write(tmp_path, ["# nothing"]), tmp_path)


def test_finished_jobs_are_skipped(tmp_path):
    path = _write(tmp_path, [{"prompt": "a", "name": "done"}, {"prompt": "b", "name": "half"}])
    jobs = read_jobs(path, tmp_path)
    for name in ("done", "half"):
        (tmp_path / f"{name}.mp4").write_bytes(b"video")
    (tmp_path / "done.json").write_text("{}")  # only a video with its sidecar is finished
    skip_finished(jobs)
    assert [j.state for j in jobs] == ["skipped", "waiting"]


def test_progress_has_a_bar_per_job_and_one_overall(tmp_path):
    jobs = [BatchJob(1, "a", GenerationRequest("a", steps=4), tmp_path / "a.mp4"),
            BatchJob(2, "b", GenerationRequest("b", steps=4), tmp_path / "b.mp4", state="skipped")]
    out = io.StringIO()
    progress = BatchProgress(jobs, out, tty=False)
    jobs[0].state, jobs[0].engine, jobs[0].phase = "running", "w1", "starting"
    progress.update(jobs[0])
    jobs[0].step, jobs[0].phase = 2, "denoising"
    progress.update(jobs[0])
    jobs[0].state, jobs[0].problems = "failed", ["the worker w1 failed: boom"]
    progress.update(jobs[0])
    lines = out.getvalue().splitlines()
    assert lines[1] == "a                [##########..........] step 2/4 denoising on w1"
    assert lines[-1].startswith("overall          [####################] 1/1 ended: 0 done, 1 failed")
    summary = progress.summary()
    assert summary[0].startswith("batch: 0 done, 1 failed, 0 cancelled, 1 skipped (already done)")
    assert summary[1] == "  a (line 1) failed: the worker w1 failed: boom"


def test_a_requests_files_travel_by_content_and_come_back_by_name(tmp_path, media_dir):
    request = GenerationRequest("x", keyframes=[Keyframe(str(media_dir / "red.png"), 0)],
                                video=VideoCondition(str(media_dir / "clip.mp4"), [0], [0.0]))
    data, originals = keyed_request(request)
    keys = [data["keyframes"][0]["image"], data["video"]["video"]]
    assert keys[0].endswith(".png") and keys[1].endswith(".mp4") and len(keys[0]) == 64 + 4
    assert request.keyframes[0].image == str(media_dir / "red.png")  # the caller's request is untouched
    remote = local_request(data, tmp_path / "files")
    assert remote.keyframes[0].image == str(tmp_path / "files" / keys[0])
    settings = {"request": remote.to_dict(), "slot_mapping": [{"source": remote.video.video}]}
    back = restore_paths(settings, {str(tmp_path / "files" / k): originals[k] for k in keys})
    assert back["request"]["keyframes"][0]["image"] == str(media_dir / "red.png")
    assert back["slot_mapping"][0]["source"] == str(media_dir / "clip.mp4")
    with pytest.raises(InputMediaError, match="does not exist"):
        keyed_request(GenerationRequest("x", keyframes=[Keyframe(str(tmp_path / "gone.png"), 0)]))


def test_the_result_is_written_where_a_local_job_writes_it_as_one_unit(tmp_path):
    settings = {"request": {"prompt": "x"}, "seed": 3}
    files = ResultFiles(b"mp4 bytes", sidecar_bytes(settings), JobResult("/w/out.mp4", "/w/out.json", 3, 9, 16, 1.5,
                                                                        None, settings),
                        png_frames={"frame_00000.png": b"p0", "frame_00001.png": b"p1"}, trace=b"trace")
    out = tmp_path / "videos" / "job.mp4"
    out.parent.mkdir()
    result = write_result(files, out, tmp_path / "videos" / "job.safetensors")
    assert result.video_path == str(out) and result.png_dir == str(tmp_path / "videos" / "job")
    assert out.read_bytes() == b"mp4 bytes" and is_finished_output(out)
    assert json.loads(out.with_suffix(".json").read_text()) == settings
    assert sorted(p.name for p in (tmp_path / "videos" / "job").iterdir()) == ["frame_00000.png", "frame_00001.png"]
    assert (tmp_path / "videos" / "job.safetensors").read_bytes() == b"trace"
    assert sorted(p.name for p in out.parent.iterdir()) == ["job", "job.json", "job.mp4", "job.safetensors"]
    blocked = tmp_path / "blocked.mp4"
    blocked.with_suffix("").write_text("a file where the PNG frames' folder goes")
    with pytest.raises(OutputError):
        write_result(files, blocked)
    assert not is_finished_output(blocked)  # no sidecar: never taken for a finished result
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_the_event_log_keeps_only_what_the_client_has_not_acknowledged():
    log = EventLog()
    log.items += ["a", "b", "c"]
    assert log.since(1) == ["b", "c"]
    log.acknowledge(2)
    assert (log.base, log.items, log.count) == (2, ["c"], 3)
    assert log.since(2) == ["c"] and log.since(3) == []
    log.acknowledge(1)  # an old acknowledgement changes nothing
    assert log.count == 3 and log.since(2) == ["c"]


def _without_ray(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}  # no token either: Ray is named
    return subprocess.run([PYTHON, "-c", "import sys, runpy; sys.modules['ray'] = None; " + code],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env)


def test_without_ray_the_cluster_commands_say_how_to_install_it(tmp_path):
    _write(tmp_path, [{"prompt": "a"}])
    for argv in (["batch", "jobs.jsonl", "--cluster", "ray://head:10001", "--out-dir", "out"],
                 ["serve", "--cluster", "head:6379"]):
        done = _without_ray(f"sys.argv = ['pusa_engine', *{argv!r}]; runpy.run_module('pusa_engine', "
                            "run_name='__main__')", tmp_path)
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            "pusa-engine: error: Ray is not installed, and running jobs on a cluster needs it: install it with "
            "`.venv/bin/pip install -e '.[cluster]'` (./scripts/setup.sh does)"], done.stderr
    assert not (tmp_path / "out").exists()  # nothing made before the refusal


def test_serve_refuses_a_broken_model_folder_before_joining(tmp_path):
    (tmp_path / "model").mkdir()
    done = subprocess.run([PYTHON, "-m", "pusa_engine", "serve", "--cluster", "127.0.0.1:9", "--model",
                           str(tmp_path / "model")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and len(lines) >= 2
    assert all(line.startswith("pusa-engine: ") for line in lines)
    assert lines[-1].startswith("pusa-engine: error: ") and lines[-1].endswith(
        "problem(s) with the model files: no worker started")


def test_nothing_answering_at_the_address_is_said_in_seconds(tmp_path):
    _write(tmp_path, [{"prompt": "a"}])
    done = subprocess.run([PYTHON, "-m", "pusa_engine", "batch", "jobs.jsonl", "--cluster", "ray://127.0.0.1:9",
                           "--out-dir", "out"], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          env={**os.environ, "RAY_AUTH_TOKEN": "t"})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(
        "pusa-engine: error: nothing answers at the cluster address ray://127.0.0.1:9")


def test_the_window_says_so_when_a_cluster_is_set_without_ray(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("PUSA_STUDIO_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "ray", None)
    from pusa_desktop.app_settings import AppSettings
    from pusa_desktop.cluster_lanes import ClusterLanes
    from pusa_desktop.engine_host import EngineHost
    from pusa_engine.jobs.inprocess import InProcessClient

    settings = AppSettings()
    settings.cluster_address = "ray://head:10001"
    host = EngineHost(InProcessClient(str(tmp_path / "demo")))
    lanes = ClusterLanes(host, settings)
    said: list[str] = []
    lanes.message.connect(said.append)
    lanes.follow_settings()
    assert said == ["Cluster: Ray is not installed, and running jobs on a cluster needs it: install it with "
                    "`.venv/bin/pip install -e '.[cluster]'` (./scripts/setup.sh does)"]
    assert lanes.active and lanes.worker_names == [] and lanes.problem.startswith("Ray is not installed")
    settings.cluster_address = ""
    lanes.follow_settings()
    assert not lanes.active and lanes.problem == ""  # no cluster: nothing to say
    host.shutdown()


def test_the_window_says_so_when_the_cluster_address_is_wrong(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("PUSA_STUDIO_HOME", str(tmp_path))
    from pusa_desktop.app_settings import AppSettings
    from pusa_desktop.cluster_lanes import ClusterLanes
    from pusa_desktop.engine_host import EngineHost
    from pusa_engine.jobs.inprocess import InProcessClient

    settings = AppSettings()
    settings.cluster_address = "head"
    host = EngineHost(InProcessClient(str(tmp_path / "demo")))
    lanes = ClusterLanes(host, settings)
    said: list[str] = []
    lanes.message.connect(said.append)
    lanes.follow_settings()
    assert len(said) == 1 and said[0].startswith("Cluster: cluster address 'head' is not HOST:PORT")
    host.shutdown()


def test_the_settings_dialog_keeps_the_cluster_settings(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("PUSA_STUDIO_HOME", str(tmp_path))
    from pusa_desktop.app_settings import AppSettings
    from pusa_desktop.settings_dialog import SettingsDialog

    settings = AppSettings()
    assert (settings.cluster_address, settings.cluster_token, settings.use_local_engine) == ("", "", True)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.cluster_address.setText(" ray://head:10001 ")
    dialog.cluster_token.setText("s3cret")
    dialog.use_local.setChecked(False)
    dialog.accept()
    again = AppSettings()  # read back from the file
    assert (again.cluster_address, again.cluster_token, again.use_local_engine) == ("ray://head:10001", "s3cret",
                                                                                    False)
    assert dialog.cluster_token.echoMode() == dialog.cluster_token.EchoMode.Password
