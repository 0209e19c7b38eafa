"""A dropped video lays its frames on latent slots as cards: one per slot, own noise, Delete, undo, presets.
(Where it starts, its in and out points, moving it: `test_clip_placement.py`.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from pusa_desktop.core.model import JobState
from pusa_desktop.core.readiness import generate_blockers
from pusa_engine.request import VideoCondition

from .conftest import drop_files, frame_pos, wait_for_job_end


def _grey_clip(folder: Path, name: str, frames: int) -> Path:
    """Frame i is a flat grey of level 20 + 11*i, so a thumbnail tells which clip frame it shows."""
    from pusa_engine.media import write_mp4

    path = folder / name
    write_mp4(np.stack([np.full((48, 64, 3), 20 + 11 * i, np.uint8) for i in range(frames)]), path, 16)
    return path


def _clip_frame_shown(card) -> int:
    image = card.thumbnail.pixmap().toImage()
    return round((image.pixelColor(image.width() // 2, image.height() // 2).red() - 20) / 11)


def _video(window) -> tuple[list[int], list[float]]:
    video = window.document.timeline.video
    return (video.slots, video.noise) if video is not None else ([], [])


@pytest.fixture
def clips(tmp_path) -> dict[str, Path]:
    return {
        "exact": _grey_clip(tmp_path, "exact.mp4", 17),  # as long as the video: completion takes its real ends
        "long": _grey_clip(tmp_path, "long.mp4", 21),
        "short": _grey_clip(tmp_path, "short.mp4", 5),
    }


@pytest.fixture
def five_slots(tiny):
    tiny.document.update_settings(frames=17)  # latent slots 0..4
    return tiny


def test_a_dropped_video_becomes_one_card_per_slot_with_its_own_noise(five_slots, clips, qtbot):
    window, timeline = five_slots, five_slots.timeline
    drop = drop_files(timeline, [clips["exact"]], frame_pos(timeline, 0))  # a real drop of a file URL
    assert drop.isAccepted()
    assert _video(window) == ([0, 1, 2, 3], [0.0, 0.3, 0.4, 0.5])  # the Extension preset
    assert timeline.clip_slots_shown() == [0, 1, 2, 3]
    assert [timeline.clip_card(s).slider.value() for s in range(4)] == [0, 30, 40, 50]
    cards = [timeline.clip_card(s) for s in range(4)]
    assert all(a.geometry().right() < b.geometry().left() for a, b in zip(cards, cards[1:], strict=False))
    assert "clip frames 5-8 on latent slot 2" in cards[2].toolTip()
    assert [card.header.text() for card in cards] == ["src 0", "src 1-4", "src 5-8", "src 9-12"]  # no tooltip needed
    qtbot.waitUntil(lambda: all(card.has_thumbnail for card in cards), timeout=10_000)  # read off the GUI thread
    assert [_clip_frame_shown(card) for card in cards] == [0, 4, 8, 12]  # the clip frame that lands on each slot
    assert window.params.video_group.isVisibleTo(window.params) and "exact.mp4" in window.params.video_label.text()
    qtbot.mouseClick(cards[2], Qt.MouseButton.LeftButton, pos=cards[2].thumbnail.geometry().center())
    player = window.player  # a click shows the card's clip frame in the player, through QtMultimedia
    qtbot.waitUntil(lambda: player.source == str(clips["exact"]) and player.shown_frame == 8, timeout=10_000)
    centre = player.canvas.image.pixelColor(player.canvas.image.width() // 2, player.canvas.image.height() // 2)
    assert abs(centre.red() - (20 + 11 * 8)) <= 3 and not player.playing and "slot 2" in player.canvas.caption
    assert timeline._playhead == 8
    qtbot.mouseClick(cards[1], Qt.MouseButton.LeftButton, pos=cards[1].thumbnail.geometry().center())
    qtbot.waitUntil(lambda: player.shown_frame == 4, timeout=5_000)

    cards[2].slider.setValue(55)  # one drag, one undo step
    cards[2].slider.setValue(70)
    assert _video(window) == ([0, 1, 2, 3], [0.0, 0.3, 0.7, 0.5]) and cards[2].noise.text() == "noise 0.70"
    expected = VideoCondition(str(clips["exact"]), [0, 1, 2, 3], [0.0, 0.3, 0.7, 0.5])
    assert window.runner.editor_request().video == expected  # the engine request stays one VideoCondition
    cards[3].setFocus()
    qtbot.keyClick(cards[3], Qt.Key.Key_Delete)
    assert _video(window) == ([0, 1, 2], [0.0, 0.3, 0.7]) and timeline.clip_slots_shown() == [0, 1, 2]
    window.undo_action.trigger()
    assert _video(window) == ([0, 1, 2, 3], [0.0, 0.3, 0.7, 0.5]) and timeline.clip_slots_shown() == [0, 1, 2, 3]
    window.undo_action.trigger()
    assert _video(window)[1] == [0.0, 0.3, 0.4, 0.5] and timeline.clip_card(2).slider.value() == 40
    window.redo_action.trigger()
    assert timeline.clip_card(2).slider.value() == 70
    for slot in (0, 1, 2, 3):
        timeline.clip_card(slot).setFocus()
        qtbot.keyClick(timeline.clip_card(slot), Qt.Key.Key_Delete)
    assert window.document.timeline.video is None and timeline.clip_slots_shown() == []
    assert not window.params.video_group.isVisibleTo(window.params)


def test_completion_and_extension_presets_and_a_slot_added_by_hand(five_slots, clips, qtbot):
    window, timeline = five_slots, five_slots.timeline
    drop_files(timeline, [clips["exact"]], frame_pos(timeline, 0))
    completion, extension = (
        next(a for a in timeline.clip_menu(1).actions() if a.text().startswith(kind))
        for kind in ("Completion", "Extension")
    )
    completion.trigger()
    assert _video(window) == ([0, 4], [0.3, 0.3]) and timeline.clip_slots_shown() == [0, 4]
    qtbot.waitUntil(lambda: timeline.clip_card(4).has_thumbnail, timeout=10_000)
    assert _clip_frame_shown(timeline.clip_card(0)) == 0
    assert _clip_frame_shown(timeline.clip_card(4)) == 16  # the last slot holds the clip's last 4 frames, 13-16
    assert timeline.clip_problem is None

    menu = timeline.slot_menu(2)  # right-click on a free slot
    assert timeline.slot_menu(4) is None and "frames 5-8" in menu.actions()[0].text()
    menu.actions()[0].trigger()
    assert _video(window) == ([0, 2, 4], [0.3, 0.3, 0.3])
    request = window.runner.editor_request()
    assert [(m.slot, m.noise) for m in request.slot_mapping()] == [(0, 0.3), (2, 0.3), (4, 0.3)]
    extension.trigger()
    assert _video(window) == ([0, 1, 2, 3], [0.0, 0.3, 0.4, 0.5])
    window.params.complete_button.click()
    assert _video(window) == ([0, 4], [0.3, 0.3])
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert _video(window) == ([0, 2, 4], [0.3, 0.3, 0.3])
    window.params.remove_video_button.click()
    assert window.document.timeline.video is None


def test_a_clip_shorter_than_its_slots_is_laid_only_where_it_has_frames(five_slots, clips, qtbot, images):
    window, timeline = five_slots, five_slots.timeline
    drop = drop_files(timeline, [clips["short"]], frame_pos(timeline, 0))  # 5 frames; slots 0-3 need 13
    assert drop.isAccepted()
    assert _video(window) == ([0, 1], [0.0, 0.3]) and timeline.clip_slots_shown() == [0, 1]  # decoded at the drop
    assert window.last_message.startswith(
        "Video short.mp4: its frames from 0 on slots 0-1: the new video continues it. short.mp4 has only "
        "5 frames: slots 2-3 would need its frames up to 12, so they were left off."
    )
    qtbot.waitUntil(lambda: timeline.clip_card(1).has_thumbnail, timeout=10_000)
    assert [_clip_frame_shown(timeline.clip_card(s)) for s in (0, 1)] == [0, 4] and timeline.clip_problem is None
    lay = timeline.slot_menu(2).actions()[0]  # the clip has no frames for slot 2: offered, greyed, with the reason
    assert not lay.isEnabled() and lay.text().endswith("(the clip has only 5 frames)")
    assert window.runner.editor_request().video == VideoCondition(str(clips["short"]), [0, 1], [0.0, 0.3])

    window.params.complete_button.click()  # Completion asks for the last slot, frames 13-16: explained
    assert _video(window) == ([0, 4], [0.3, 0.3])
    qtbot.waitUntil(lambda: timeline.clip_problem is not None, timeout=10_000)
    assert "short.mp4 has 5 frames" in window.last_message and "up to 16" in window.last_message
    blockers = generate_blockers(window.document.settings, window.document.timeline, clip_length=timeline.clips.length)
    assert blockers == [
        "short.mp4 has 5 frames, but slot 4 takes its frames up to 16: remove slot 4 or use a longer clip"
    ]

    drop_files(timeline, [images["end"]], frame_pos(timeline, 16))  # a keyframe on slot 4
    drop_files(timeline, [clips["long"]], frame_pos(timeline, 0))
    window.params.complete_button.click()  # slot 4 now holds the clip: the keyframe gives way (undoable)
    assert window.document.timeline.keyframes == [] and _video(window) == ([0, 4], [0.3, 0.3])
    qtbot.waitUntil(lambda: timeline.clip_problem is not None and "long.mp4" in timeline.clip_problem, timeout=10_000)
    assert "not its last 4 (17-20)" in window.last_message

    window.document.update_settings(frames=9)  # fewer slots: the clip's slot past the end goes
    assert _video(window) == ([0], [0.3]) and timeline.clip_slots_shown() == [0]


@pytest.mark.slow
def test_a_job_with_clip_slots_runs_on_the_engine(tiny, tmp_path, qtbot):
    clip = _grey_clip(tmp_path, "nine.mp4", 9)
    drop_files(tiny.timeline, [clip], frame_pos(tiny.timeline, 0))  # 9 frames = slots 0..2
    assert _video(tiny) == ([0, 1, 2], [0.0, 0.3, 0.4])
    tiny.timeline.clip_card(1).slider.setValue(25)
    job_id = tiny.generate()
    wait_for_job_end(qtbot, tiny, job_id)
    job = tiny.document.project.job(job_id)
    assert job.state is JobState.DONE, job.problems
    assert job.request.video == VideoCondition(str(clip), [0, 1, 2], [0.0, 0.25, 0.4])


def test_a_video_in_the_asset_bin_shows_its_first_frame(window, clips, qtbot):
    window.assets.add_files([str(clips["long"])])
    items = [window.assets.item(i) for i in range(window.assets.count())]
    item = next(item for item in items if item.text() == "long.mp4")
    qtbot.waitUntil(lambda: not item.icon().isNull(), timeout=10_000)
    image = item.icon().pixmap(64, 64).toImage()
    assert abs(image.pixelColor(image.width() // 2, image.height() // 2).red() - 20) <= 3  # the clip's frame 0
