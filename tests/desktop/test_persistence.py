"""Saving and opening .pusa projects; crash recovery."""

from __future__ import annotations

import zipfile

import pytest

from pusa_desktop.model import (
    GenerationSettings,
    Job,
    JobState,
    Project,
    Timeline,
    TimelineKeyframe,
    TimelineVideo,
)
from pusa_desktop.persistence import ProjectFileError, load_project, save_project


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
        settings=GenerationSettings(prompt="a boat at dawn", steps=12, seed=77, fps=25),
        timeline=Timeline(
            keyframes=[TimelineKeyframe(str(images["start"]), 0, 0.1), TimelineKeyframe(str(images["middle"]), 4, 0.6)],
            video=None,
        ),
        queue=[Job(request=dict(request), state=JobState.FAILED, problems=["out of memory"])],
        history=[Job(request=dict(request), state=JobState.DONE, result={"video_path": "/videos/x.mp4"})],
    )


def test_a_project_comes_back_with_its_media_copied_in(tmp_path, images):
    project = _project(images)
    path = tmp_path / "boat.pusa"
    assert save_project(project, path) == []
    names = zipfile.ZipFile(path).namelist()
    assert "project.json" in names and sum(n.startswith("assets/") for n in names) == 3
    for image in images.values():  # the originals disappear; the project still has its keyframes
        image.unlink()
    opened = load_project(path, tmp_path / "unpacked")
    assert opened.settings == project.settings
    assert [(k.frame, k.noise, k.id) for k in opened.timeline.keyframes] == [
        (k.frame, k.noise, k.id) for k in project.timeline.keyframes
    ]
    for keyframe in opened.timeline.keyframes:
        assert keyframe.image.startswith(str(tmp_path / "unpacked"))
        assert (tmp_path / "unpacked").joinpath(keyframe.image.split("/")[-1]).is_file()
    assert opened.queue[0].state is JobState.FAILED and opened.queue[0].problems == ["out of memory"]
    queued_image = opened.queue[0].request["keyframes"][0]["image"]
    assert queued_image.startswith(str(tmp_path / "unpacked"))
    assert opened.history[0].result == {"video_path": "/videos/x.mp4"}
    assert opened.history[0].id == project.history[0].id


def test_a_job_that_was_running_when_saved_is_queued_again(tmp_path, images):
    project = _project(images)
    project.queue[0].state = JobState.RUNNING
    save_project(project, tmp_path / "p.pusa")
    assert load_project(tmp_path / "p.pusa", tmp_path / "a").queue[0].state is JobState.QUEUED


def test_missing_media_are_reported_and_the_rest_saved(tmp_path, images):
    project = _project(images)
    project.timeline.video = TimelineVideo(str(tmp_path / "gone.mp4"))
    missing = save_project(project, tmp_path / "p.pusa")
    assert missing == [str(tmp_path / "gone.mp4")]
    assert load_project(tmp_path / "p.pusa", tmp_path / "a").timeline.video.path == str(tmp_path / "gone.mp4")


def test_a_file_that_is_not_a_project_is_refused_with_a_reason(tmp_path):
    bad = tmp_path / "bad.pusa"
    bad.write_text("hello")
    with pytest.raises(ProjectFileError, match="damaged or not a Pusa Studio project"):
        load_project(bad, tmp_path / "a")
    with pytest.raises(ProjectFileError, match="does not exist"):
        load_project(tmp_path / "nothing.pusa", tmp_path / "a")


def test_recovery_is_offered_only_after_a_session_that_did_not_end(studio_home, images):
    from pusa_desktop import paths
    from pusa_desktop.recovery import end_session, start_session

    assert start_session() is None
    save_project(_project(images), paths.autosave_path())
    assert start_session() == paths.autosave_path()  # the previous session never ended
    end_session()
    assert start_session() is None
