"""Saving and opening .pusa projects: round trips, asset names, what a save copies, worker threads."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from pusa_desktop.core.model import (
    EditorSettings,
    Job,
    JobState,
    Project,
    Timeline,
    TimelineKeyframe,
    TimelineVideo,
)
from pusa_desktop.core.persistence import LoadedProject, ProjectFileError, load_project, save_project
from pusa_engine.events import JobResult
from pusa_engine.request import GenerationRequest, VideoCondition


def _project(images) -> Project:
    request = {
        "prompt": "p",
        "width": 64,
        "height": 64,
        "frames": 9,
        "steps": 2,
        "seed": 1,
        "keyframes": [{"image": str(images["end"]), "frame": 8, "noise": 0.5}],
        "video": None,
    }
    return Project(
        settings=EditorSettings(prompt="a boat at dawn", steps=12, seed=77, fps=25),
        timeline=Timeline(
            keyframes=[TimelineKeyframe(str(images["start"]), 0, 0.1), TimelineKeyframe(str(images["middle"]), 4, 0.6)],
            video=None,
        ),
        queue=[Job(request=GenerationRequest.from_dict(request), state=JobState.FAILED, problems=["out of memory"])],
        history=[Job(request=GenerationRequest.from_dict(request), state=JobState.DONE,
                     result=JobResult("/videos/x.mp4", "/videos/x.json", 1, 9, 16, 2.5))],
    )


def test_a_project_comes_back_with_its_media_copied_in(tmp_path, images):
    project = _project(images)
    path = tmp_path / "boat.pusa"
    assert save_project(project, path) == []
    names = zipfile.ZipFile(path).namelist()
    assert "project.json" in names and sum(n.startswith("assets/") for n in names) == 3
    for image in images.values():  # the originals disappear; the project still has its keyframes
        image.unlink()
    loaded = load_project(path, tmp_path / "unpacked")
    assert loaded.messages == []
    opened = loaded.project
    assert opened.settings == project.settings
    assert [(k.frame, k.noise, k.id) for k in opened.timeline.keyframes] == [
        (k.frame, k.noise, k.id) for k in project.timeline.keyframes
    ]
    for keyframe, name in zip(opened.timeline.keyframes, ("start.png", "middle.png"), strict=True):
        image = Path(keyframe.image)  # assets_dir/<digest>/<the user's file name>
        assert image.is_file() and image.name == name and image.parent.parent == tmp_path / "unpacked"
    assert opened.queue[0].state is JobState.FAILED and opened.queue[0].problems == ["out of memory"]
    queued_image = opened.queue[0].request.keyframes[0].image
    assert queued_image.startswith(str(tmp_path / "unpacked"))
    assert opened.history[0].result == project.history[0].result  # the engine's JobResult, typed again
    assert opened.history[0].id == project.history[0].id


def test_a_job_that_was_running_when_saved_is_queued_again(tmp_path, images):
    project = _project(images)
    project.queue[0].state = JobState.RUNNING
    save_project(project, tmp_path / "p.pusa")
    assert load_project(tmp_path / "p.pusa", tmp_path / "a").project.queue[0].state is JobState.QUEUED


def test_missing_media_are_reported_and_the_rest_saved(tmp_path, images):
    project = _project(images)
    project.timeline.video = TimelineVideo(str(tmp_path / "gone.mp4"))
    missing = save_project(project, tmp_path / "p.pusa")
    assert missing == [str(tmp_path / "gone.mp4")]
    (tmp_path / "gone.mp4").write_bytes(b"appeared later")  # opening never reaches outside the project
    project, messages = load_project(tmp_path / "p.pusa", tmp_path / "a")
    assert project.timeline.video is None and len(project.timeline.keyframes) == 2
    assert messages == [
        f"Timeline: the video clip named '{tmp_path / 'gone.mp4'}', which is not inside the project: removed"
    ]


def _asset_names(path: Path) -> list[str]:
    return sorted(n for n in zipfile.ZipFile(path).namelist() if n.startswith("assets/"))


def test_assets_keep_their_names_through_saves_and_opens(tmp_path, images):
    project = _project(images)
    save_project(project, tmp_path / "one.pusa")
    first = _asset_names(tmp_path / "one.pusa")
    assert sorted(re.sub("^assets/[0-9a-f]{12}_", "", n) for n in first) == ["end.png", "middle.png", "start.png"]
    opened = load_project(tmp_path / "one.pusa", tmp_path / "a1").project
    assert [Path(k.image).name for k in opened.timeline.keyframes] == ["start.png", "middle.png"]
    assert save_project(opened, tmp_path / "two.pusa") == []
    second = _asset_names(tmp_path / "two.pusa")  # the same names, no prefix added to a prefix
    assert sorted(re.sub("^assets/[0-9a-f]{12}_", "", n) for n in second) == ["end.png", "middle.png", "start.png"]
    again = load_project(tmp_path / "two.pusa", tmp_path / "a2").project
    assert [Path(k.image).name for k in again.timeline.keyframes] == ["start.png", "middle.png"]
    assert Path(again.timeline.keyframes[0].image).read_bytes() == images["start"].read_bytes()


def test_two_files_of_the_same_name_stay_two_assets(tmp_path, images):
    other = tmp_path / "elsewhere" / "start.png"
    other.parent.mkdir()
    other.write_bytes(images["end"].read_bytes())
    project = Project(timeline=Timeline([TimelineKeyframe(str(images["start"]), 0), TimelineKeyframe(str(other), 8)]))
    save_project(project, tmp_path / "p.pusa")
    opened = load_project(tmp_path / "p.pusa", tmp_path / "a").project
    first, second = (Path(k.image) for k in opened.timeline.keyframes)
    assert first.name == second.name == "start.png" and first != second
    assert first.read_bytes() == images["start"].read_bytes() and second.read_bytes() == images["end"].read_bytes()


def test_an_odd_file_name_is_saved_as_one_that_opens_everywhere(tmp_path, images):
    odd = tmp_path / 'a:b|c?.png'
    odd.write_bytes(images["start"].read_bytes())
    save_project(Project(timeline=Timeline([TimelineKeyframe(str(odd), 0)])), tmp_path / "p.pusa")
    project, messages = load_project(tmp_path / "p.pusa", tmp_path / "a")
    assert messages == [] and Path(project.timeline.keyframes[0].image).name == "a_b_c_.png"


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")
def test_save_reports_a_fifo_or_a_folder_as_missing_and_never_blocks(tmp_path, images):
    fifo, folder = tmp_path / "pipe.png", tmp_path / "folder.png"
    os.mkfifo(fifo)
    folder.mkdir()
    project = Project(
        timeline=Timeline([TimelineKeyframe(str(fifo), 0), TimelineKeyframe(str(images["start"]), 8)]),
        queue=[Job(request=GenerationRequest("p", video=VideoCondition(str(folder), [0], [0.0])))],
    )
    result: list[list[str]] = []
    saver = threading.Thread(target=lambda: result.append(save_project(project, tmp_path / "p.pusa")), daemon=True)
    saver.start()
    saver.join(timeout=10)
    assert result == [[str(fifo), str(folder)]]
    assert len(_asset_names(tmp_path / "p.pusa")) == 1


def test_save_never_copies_results_or_media_a_project_named_outside_itself(tmp_path, images):
    secret = tmp_path / "secret.txt"
    secret.write_text("the user's private file")
    project = _project(images)
    data_of_one = json.dumps(
        {"format": "pusa-studio-project", "version": 1, "history": [
            {"id": "h1", "state": "done", "request": {"prompt": "x", "keyframes": [
                {"image": str(secret), "frame": 0, "noise": 0.1}]},
             "result": {"video_path": str(secret)}, "thumbnail": str(secret)}]}
    )
    with zipfile.ZipFile(tmp_path / "foreign.pusa", "w") as zf:
        zf.writestr("project.json", data_of_one)
    opened, messages = load_project(tmp_path / "foreign.pusa", tmp_path / "a")
    assert len(messages) == 1 and "path cleared" in messages[0]
    job = opened.history[0]
    assert job.request.keyframes[0].image == "" and job.result.video_path == str(secret)
    assert job.thumbnail == str(secret)  # a result the app wrote: kept as text, never read
    project.history.append(job)
    save_project(project, tmp_path / "again.pusa")
    with zipfile.ZipFile(tmp_path / "again.pusa") as zf:
        for name in zf.namelist():
            assert b"the user's private file" not in zf.read(name)


def test_loading_runs_on_worker_threads_at_once(tmp_path, images):
    save_project(_project(images), tmp_path / "p.pusa")
    results: dict[int, LoadedProject] = {}

    def load(i: int) -> None:
        results[i] = load_project(tmp_path / "p.pusa", tmp_path / f"assets-{i}")

    workers = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(results) == [0, 1, 2, 3]
    for i, loaded in results.items():
        assert loaded.messages == []
        assert all(k.image.startswith(str(tmp_path / f"assets-{i}")) for k in loaded.project.timeline.keyframes)


def test_a_file_that_is_not_a_project_is_refused_with_a_reason(tmp_path):
    bad = tmp_path / "bad.pusa"
    bad.write_text("hello")
    with pytest.raises(ProjectFileError, match="damaged or not a Pusa Studio project"):
        load_project(bad, tmp_path / "a")
    with pytest.raises(ProjectFileError, match="does not exist"):
        load_project(tmp_path / "nothing.pusa", tmp_path / "a")


def test_opening_again_keeps_unchanged_assets_and_replaces_changed_ones(tmp_path, images):
    project = Project(timeline=Timeline([TimelineKeyframe(str(images["start"]), 0)]))
    save_project(project, tmp_path / "p.pusa")
    first = Path(load_project(tmp_path / "p.pusa", tmp_path / "a").project.timeline.keyframes[0].image)
    inode = first.stat().st_ino
    again = Path(load_project(tmp_path / "p.pusa", tmp_path / "a").project.timeline.keyframes[0].image)
    assert again == first and again.stat().st_ino == inode  # the file the open project shows stays put
    images["start"].write_bytes(images["end"].read_bytes())
    save_project(project, tmp_path / "p.pusa")  # the same path, so the same entry name, new content
    changed = Path(load_project(tmp_path / "p.pusa", tmp_path / "a").project.timeline.keyframes[0].image)
    assert changed == first and changed.read_bytes() == images["end"].read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").rglob("*") if p.is_file()) == ["start.png"]


def test_an_asset_named_without_a_digest_keeps_its_name(tmp_path, images):
    data = {"format": "pusa-studio-project", "version": 1,
            "timeline": {"keyframes": [{"image": "assets/photo 1.png", "frame": 0, "noise": 0.2}]}}
    with zipfile.ZipFile(tmp_path / "p.pusa", "w") as zf:
        zf.writestr("project.json", json.dumps(data))
        zf.write(images["start"], "assets/photo 1.png")
    project, messages = load_project(tmp_path / "p.pusa", tmp_path / "a")
    assert messages == [] and Path(project.timeline.keyframes[0].image).name == "photo 1.png"
