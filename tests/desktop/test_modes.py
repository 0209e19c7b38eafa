"""Modes are starting layouts applied when chosen, as one undoable step, that never remove a keyframe or a clip;
the mode shown is the one chosen (dropping media never changes it) and comes back with undo and with the
project; the words under it say what the timeline holds."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from pusa_desktop.core.model import Mode, Timeline, TimelineKeyframe, TimelineVideo, detect_mode
from pusa_desktop.core.modes import Guide, apply_mode, mode_guides, mode_status
from pusa_desktop.core.project_reader import FORMAT, read_project

from .conftest import drop_files, frame_pos


def _choose(window, qtbot, mode: Mode) -> None:
    """Pick a mode from the box's list with the mouse, as a user does (no Apply button)."""
    box = window.params.mode
    box.showPopup()
    view = box.view()
    qtbot.waitUntil(view.isVisible, timeout=5_000)
    rect = view.visualRect(box.model().index(list(Mode).index(mode), 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=5_000)


def _layout(window) -> list[tuple[str, int, float]]:
    return [(kf.image.split("/")[-1], kf.slot, kf.noise) for kf in window.document.timeline.sorted_keyframes()]


@pytest.fixture
def five_slots(tiny):
    tiny.document.update_settings(frames=17)  # slots 0..4
    tiny.document.undo_stack.clear()
    return tiny


def test_a_mode_is_applied_when_chosen_as_one_undoable_step_and_removes_nothing(five_slots, images, qtbot):
    window = five_slots
    drop_files(window.timeline, [images["start"]], frame_pos(window.timeline, 6))  # slot 2
    drop_files(window.timeline, [images["middle"]], frame_pos(window.timeline, 10))  # slot 3
    steps = window.document.undo_stack.count()
    _choose(window, qtbot, Mode.IMAGE_TO_VIDEO)
    assert _layout(window) == [("start.png", 0, 0.2), ("middle.png", 3, 0.2)]  # the first image starts the video
    assert window.document.undo_stack.count() == steps + 1
    assert window.params.mode.currentText() == Mode.IMAGE_TO_VIDEO.value
    _choose(window, qtbot, Mode.MULTI_FRAMES)
    assert _layout(window) == [("start.png", 0, 0.2), ("middle.png", 4, 0.5)]  # ...and the last one ends it
    _choose(window, qtbot, Mode.TEXT_TO_VIDEO)  # nothing is deleted: the words say it still conditions the video
    assert len(window.document.timeline.keyframes) == 2
    assert window.params.mode_status.text() == (
        "On the timeline: 2 keyframes (slots 0, 4). It conditions the video too.")
    assert window.params.clear_timeline_button.isVisibleTo(window.params)
    window.params.clear_timeline_button.click()  # the user asks: then the keyframes go (undoable)
    assert window.document.timeline.keyframes == [] and window.params.mode.currentText() == "Text-to-Video"
    window.undo_action.trigger()
    window.undo_action.trigger()  # undo brings back the layout and the mode shown with it
    assert window.params.mode.currentText() == Mode.MULTI_FRAMES.value
    assert _layout(window) == [("start.png", 0, 0.2), ("middle.png", 4, 0.5)]
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert window.params.mode.currentText() == Mode.TEXT_TO_VIDEO.value
    assert _layout(window) == [("start.png", 2, 0.2), ("middle.png", 3, 0.2)]


def test_dropping_media_never_changes_the_mode(five_slots, images, qtbot, tmp_path):
    import numpy as np

    from pusa_engine.media import write_mp4

    window = five_slots
    _choose(window, qtbot, Mode.MULTI_FRAMES)
    drop_files(window.timeline, [images["start"]], frame_pos(window.timeline, 0))  # one image on slot 0
    assert window.params.mode.currentText() == Mode.MULTI_FRAMES.value  # not flipped to Image-to-Video
    assert window.params.mode_status.text() == (
        "On the timeline: 1 keyframe (slot 0). Still to fill: the end frame on the dashed slot 4.")
    assert mode_guides(window.document.timeline, 17) == [Guide(4, 4, "End", "the end frame")]  # painted dashed
    clip = tmp_path / "clip.mp4"
    write_mp4(np.full((13, 32, 32, 3), 90, np.uint8), clip, 16)
    drop_files(window.timeline, [clip], frame_pos(window.timeline, 4))
    assert window.params.mode.currentText() == Mode.MULTI_FRAMES.value
    _choose(window, qtbot, Mode.VIDEO_TO_VIDEO)
    _choose(window, qtbot, Mode.TEXT_TO_VIDEO)
    timeline = window.document.timeline
    assert timeline.video is not None and len(timeline.keyframes) == 1  # modes never remove the clip either


def test_the_wheel_and_the_arrow_keys_never_apply_a_mode_by_the_way(five_slots, images, qtbot):
    from .timeline_helpers import wheel

    window = five_slots
    drop_files(window.timeline, [images["start"]], frame_pos(window.timeline, 8))  # slot 2
    box = window.params.mode
    steps = window.document.undo_stack.count()
    wheel(box, box.rect().center(), -1)  # scrolling the panel over the box
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Down)  # opens the list; nothing is chosen yet
    assert box.view().isVisible()
    box.hidePopup()
    assert box.currentText() == Mode.TEXT_TO_VIDEO.value and window.document.undo_stack.count() == steps
    assert _layout(window) == [("start.png", 2, 0.2)]


def test_video_to_video_without_a_clip_stays_chosen_and_shows_where_the_clip_goes(five_slots, qtbot):
    window = five_slots
    _choose(window, qtbot, Mode.VIDEO_TO_VIDEO)
    assert window.params.mode.currentText() == Mode.VIDEO_TO_VIDEO.value  # no flip back to Text-to-Video
    assert window.params.mode_status.text().startswith("Drop a video on the timeline")
    assert [(g.first, g.last, g.label) for g in mode_guides(window.document.timeline, 17)] == [(0, 3, "Drop a video")]
    assert not window.params.clear_timeline_button.isVisibleTo(window.params)


def test_the_mode_is_saved_and_old_projects_show_the_one_their_timeline_has():
    timeline = Timeline(keyframes=[TimelineKeyframe("a.png", 20, 0.7), TimelineKeyframe("b.png", 40, 0.1)])
    assert apply_mode(Mode.TEXT_TO_VIDEO, timeline, 81).keyframes == timeline.keyframes  # never removed
    multi = apply_mode(Mode.MULTI_FRAMES, timeline, 81)
    assert [(k.frame, k.noise) for k in multi.sorted_keyframes()] == [(0, 0.2), (80, 0.5)]
    assert multi.mode is Mode.MULTI_FRAMES and timeline.keyframes[0].frame == 20  # the original is untouched
    taken = Timeline(keyframes=[TimelineKeyframe("a.png", 8)], video=TimelineVideo("c.mp4", [0], [0.0]))
    assert apply_mode(Mode.IMAGE_TO_VIDEO, taken, 81).keyframes[0].frame == 8  # slot 0 holds the clip: it stays
    assert mode_status(apply_mode(Mode.TEXT_TO_VIDEO, taken, 81), 81) == (
        "On the timeline: c.mp4 (slot 0) and 1 keyframe (slot 2). It conditions the video too.")
    assert mode_status(apply_mode(Mode.MULTI_FRAMES, taken, 81), 81).endswith(
        "Still to fill: the end frame on the dashed slot 20.")

    base = {"format": FORMAT, "version": 1}
    clip = {"video": "c.mp4", "slots": [0, 1], "noise": [0.0, 0.3]}
    project, notes = read_project({**base, "timeline": {"video": clip}})  # saved before modes were kept
    assert project.timeline.mode is Mode.VIDEO_TO_VIDEO and notes == []
    project, notes = read_project({**base, "timeline": {"video": clip, "mode": "Multi-Frames to Video"}})
    assert project.timeline.mode is Mode.MULTI_FRAMES and notes == []
    project, notes = read_project({**base, "timeline": {"mode": "Sideways"}})
    assert project.timeline.mode is Mode.TEXT_TO_VIDEO
    assert notes == ["Timeline: the mode 'Sideways' is unknown: the timeline's own is shown"]
    assert detect_mode(Timeline(keyframes=[TimelineKeyframe("a.png", 0)])) is Mode.IMAGE_TO_VIDEO
