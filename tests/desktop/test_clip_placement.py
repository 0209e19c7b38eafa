"""A dropped clip starts at the slot it was dropped on; its in and out points trim the clip frames that feed the
slots; each card shows its source frames; the clip moves by dragging or with the arrow keys, never over a
keyframe; all of it reaches the engine's request and is saved with the project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from pusa_desktop.core.persistence import load_project, save_project
from pusa_desktop.core.project_reader import FORMAT, read_project
from pusa_desktop.core.timeline_clips import slipped_clip, trimmed_clip
from pusa_engine.request import VideoCondition

from .conftest import drop_files, frame_pos
from .timeline_helpers import drag_card

STEP = 6  # clip frame i is a flat grey of level 20 + STEP * i


def _grey_clip(folder: Path, name: str, frames: int) -> Path:
    from pusa_engine.media import write_mp4

    path = folder / name
    write_mp4(np.stack([np.full((48, 64, 3), 20 + STEP * i, np.uint8) for i in range(frames)]), path, 16)
    return path


def _frame_shown(card) -> int:
    image = card.thumbnail.pixmap().toImage()
    return round((image.pixelColor(image.width() // 2, image.height() // 2).red() - 20) / STEP)


def _placement(window) -> tuple[list[int], int, int]:
    video = window.document.timeline.video
    return video.slots, video.start_slot, video.in_frame


@pytest.fixture
def nine_slots(tiny):
    tiny.document.update_settings(frames=33)  # latent slots 0..8
    return tiny


@pytest.fixture
def clip(tmp_path) -> Path:
    return _grey_clip(tmp_path, "ramp.mp4", 36)


def test_a_clip_starts_at_the_slot_it_is_dropped_on_and_leaves_keyframes_alone(nine_slots, clip, images, qtbot):
    window, timeline = nine_slots, nine_slots.timeline
    drop_files(timeline, [images["middle"]], frame_pos(timeline, 20))  # a keyframe on slot 5
    drop_files(timeline, [clip], frame_pos(timeline, 10))  # dropped on slot 3
    assert _placement(window) == ([3, 4, 6], 3, 0)  # the Extension's 4 slots from 3; slot 5 keeps its keyframe
    assert [kf.slot for kf in window.document.timeline.keyframes] == [5]
    assert "Slot 5 holds a keyframe, so the clip was not laid there." in window.last_message
    cards = timeline.clip_cards()
    assert [card.header.text() for card in cards] == ["src 0", "src 1-4", "src 9-12"]  # each slot's source frames
    qtbot.waitUntil(lambda: all(card.has_thumbnail for card in cards), timeout=10_000)
    assert [_frame_shown(card) for card in cards] == [0, 4, 12]
    request = window.runner.editor_request()
    assert request.video == VideoCondition(str(clip), [3, 4, 6], [0.0, 0.3, 0.5], start_slot=3, in_frame=0)
    assert [(m.slot, m.source_frames) for m in request.slot_mapping() if m.source == str(clip)] == [
        (3, (0, 0)), (4, (1, 4)), (6, (9, 12))]
    qtbot.mouseClick(cards[1], Qt.MouseButton.LeftButton, pos=cards[1].thumbnail.geometry().center())
    qtbot.waitUntil(lambda: window.player.shown_frame == 4, timeout=10_000)  # the clip's frame 4 in the player...
    assert timeline._playhead == 16  # ...lands on pixel frame 16, the last of slot 4


def test_in_and_out_points_trim_the_clip_frames_that_feed_the_slots(nine_slots, clip, qtbot):
    window, timeline = nine_slots, nine_slots.timeline
    drop_files(timeline, [clip], frame_pos(timeline, 4))  # slot 1
    assert _placement(window) == ([1, 2, 3, 4], 1, 0)
    qtbot.waitUntil(lambda: timeline.clips.length(str(clip)) == 36, timeout=10_000)
    card = timeline.clip_card(2)
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton, pos=card.header.geometry().center())
    bar = window.timeline_pane.inspector
    assert bar.in_box.isVisibleTo(bar) and "slot 2 · clip frames 1-4" in bar.title.text()
    assert (bar.start_box.value(), bar.in_box.value(), bar.out_box.value()) == (1, 0, 12)

    bar.in_box.lineEdit().selectAll()  # typed: counts on Enter
    qtbot.keyClicks(bar.in_box.lineEdit(), "5")
    qtbot.keyClick(bar.in_box.lineEdit(), Qt.Key.Key_Return)
    assert _placement(window) == ([1, 2, 3, 4], 1, 5)
    cards = timeline.clip_cards()
    assert [c.header.text() for c in cards] == ["src 5", "src 6-9", "src 10-13", "src 14-17"]
    qtbot.waitUntil(lambda: [_frame_shown(c) for c in cards] == [5, 9, 13, 17], timeout=10_000)
    assert bar.in_box.maximum() == 23  # 36 frames, 13 of them used from the in point
    assert bar.out_box.value() == 17

    bar.out_box.setValue(13)  # the out point: the last clip frame used; slots past it go
    assert _placement(window) == ([1, 2, 3], 1, 5)
    bar.out_box.setValue(25)  # and more are laid up to it
    assert _placement(window)[0] == [1, 2, 3, 4, 5, 6]
    assert window.document.timeline.video.noise == [0.0, 0.3, 0.4, 0.5, 0.5, 0.5]
    bar.start_box.setValue(2)  # the whole clip later by a slot: the same clip frames on each card
    assert _placement(window) == ([2, 3, 4, 5, 6, 7], 2, 5)
    assert timeline.selection == ("clip", 3) and timeline.clip_card(3).header.text() == "src 6-9"
    assert window.runner.editor_request().video.start_slot == 2

    window.undo_action.trigger()
    assert _placement(window) == ([1, 2, 3, 4, 5, 6], 1, 5)
    window.undo_action.trigger()  # both out points: one run of changes to one box, one step
    assert _placement(window) == ([1, 2, 3, 4], 1, 5)
    window.undo_action.trigger()
    assert _placement(window) == ([1, 2, 3, 4], 1, 0)
    assert [c.header.text() for c in timeline.clip_cards()] == ["src 0", "src 1-4", "src 5-8", "src 9-12"]


def test_trims_that_cannot_be_are_refused_with_the_reason(nine_slots, clip, images):
    window = nine_slots
    drop_files(window.timeline, [clip], frame_pos(window.timeline, 4))
    drop_files(window.timeline, [images["end"]], frame_pos(window.timeline, 28))  # slot 7
    window.timeline.select(("clip", 2))
    bar = window.timeline_pane.inspector
    bar.start_box.setValue(4)  # slots 4-7: one holds the keyframe
    assert window.last_message == "Cannot move the clip there: slot 7 holds a keyframe; move it first"
    assert bar.start_box.value() == 1 and _placement(window) == ([1, 2, 3, 4], 1, 0)  # the box shows it as it is
    video = window.document.timeline.video
    assert slipped_clip(video, 30, 36) == (None, "ramp.mp4 has 36 frames: with these slots the in point can be at "
                                                 "most 23; trim the out point first")
    assert trimmed_clip(video, 40, 33, set(), 36)[1] == "ramp.mp4 has 36 frames: the out point can be at most 35"
    assert "past the last slot 8" in trimmed_clip(video, 35, 33, set(), 36)[1]
    assert trimmed_clip(video, 4, 33, {1}, 36)[1] is None  # a trim never removes a keyframe: its slot is skipped


def test_a_clip_moves_by_dragging_or_with_the_arrows_never_over_a_keyframe(nine_slots, clip, images, qtbot):
    window, timeline = nine_slots, nine_slots.timeline
    drop_files(timeline, [images["end"]], frame_pos(timeline, 32))  # slot 8
    drop_files(timeline, [clip], frame_pos(timeline, 0))
    assert _placement(window) == ([0, 1, 2, 3], 0, 0)
    card = timeline.clip_card(1)
    others: list[list[int]] = []

    def look(_x: float) -> None:  # the whole clip follows the dragged card
        offsets = [c.x() - timeline.slot_card_position(c.slot).x() for c in timeline.clip_cards()]
        others.append(offsets)

    drag_card(card, timeline, timeline.x_of_frame(10), during=look)  # slot 1's card to slot 3
    assert all(len(set(offsets)) == 1 for offsets in others) and others[-1][0] > 0
    assert _placement(window) == ([2, 3, 4, 5], 2, 0)
    focused = timeline.clip_card(3)
    assert focused.hasFocus() and timeline.selection == ("clip", 3)  # the same clip frames, still selected
    qtbot.keyClick(focused, Qt.Key.Key_Right)
    assert _placement(window) == ([3, 4, 5, 6], 3, 0)
    for _ in range(2):
        qtbot.keyClick(timeline.clip_card(timeline.selection[1]), Qt.Key.Key_Right)
    assert _placement(window) == ([4, 5, 6, 7], 4, 0)  # one more would cover the keyframe on slot 8: refused
    assert "slot 8 holds a keyframe" in window.last_message
    assert [kf.slot for kf in window.document.timeline.keyframes] == [8]
    window.undo_action.trigger()  # the arrow nudges are one step
    assert _placement(window) == ([2, 3, 4, 5], 2, 0)


def test_the_placement_is_saved_and_old_projects_still_open(nine_slots, clip, tmp_path):
    window = nine_slots
    drop_files(window.timeline, [clip], frame_pos(window.timeline, 8))
    bar = window.timeline_pane.inspector
    window.timeline.select(("clip", 2))
    bar.in_box.setValue(3)
    save_project(window.document.project, tmp_path / "p.pusa")
    opened, messages = load_project(tmp_path / "p.pusa", tmp_path / "assets")
    assert messages == [] and (opened.timeline.video.start_slot, opened.timeline.video.in_frame) == (2, 3)
    assert opened.timeline.video.slots == [2, 3, 4, 5]

    old = {"format": FORMAT, "version": 1, "timeline": {"video": {"path": "c.mp4", "slots": [0, 1], "noise": [0, 0.3]}}}
    project, notes = read_project(old)  # saved before clips had a start slot and an in point
    assert notes == [] and (project.timeline.video.start_slot, project.timeline.video.in_frame) == (0, 0)
    bad = {"format": FORMAT, "timeline": {"video": {"video": "c.mp4", "slots": [0], "noise": [0.0], "start_slot": 2}}}
    project, notes = read_project(bad)
    assert project.timeline.video is None and notes == ["Timeline: the video clip has slot 0 before its start slot 2: "
                                                        "removed"]
