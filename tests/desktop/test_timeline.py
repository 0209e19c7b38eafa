"""The timeline: real drops of files, refusals, moving, noise sliders, delete, undo and redo."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from pusa_desktop.core.model import Mode
from pusa_desktop.core.timeline_geometry import TimelineGeometry, keyframe_noise_for_slot

from .conftest import drop_files, frame_pos


def _slots(window) -> dict[str, int]:
    return {kf.image.split("/")[-1]: kf.slot for kf in window.document.timeline.keyframes}


def _drag_card(card, timeline, to_frame: int) -> None:
    """Press on the card, move the mouse with the button held, release over `to_frame`."""
    start = QPointF(card.width() / 2, 10)
    target_in_timeline = QPoint(round(timeline.x_of_frame(to_frame)), card.y() + 10)
    target = QPointF(card.mapFromParent(target_in_timeline))
    left, no_mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(
        card, QMouseEvent(QEvent.Type.MouseButtonPress, start, card.mapToGlobal(start), left, left, no_mods)
    )
    for fraction in (0.3, 0.7, 1.0):
        point = start + (target - start) * fraction
        QApplication.sendEvent(
            card,
            QMouseEvent(QEvent.Type.MouseMove, point, card.mapToGlobal(point), Qt.MouseButton.NoButton, left, no_mods),
        )
    QApplication.sendEvent(
        card,
        QMouseEvent(
            QEvent.Type.MouseButtonRelease, target, card.mapToGlobal(target), left, Qt.MouseButton.NoButton, no_mods
        ),
    )


def test_dropped_images_become_keyframes_at_their_latent_slots(tiny, images):
    timeline = tiny.timeline
    drop = drop_files(timeline, [images["start"]], frame_pos(timeline, 0))
    assert drop.isAccepted()
    drop_files(timeline, [images["end"]], frame_pos(timeline, 6))  # frames 5-8 are slot 2
    assert _slots(tiny) == {"start.png": 0, "end.png": 2}
    frames = {kf.image.split("/")[-1]: kf.frame for kf in tiny.document.timeline.keyframes}
    assert frames == {"start.png": 0, "end.png": 8}  # snapped to the slot's last pixel frame
    noise = {kf.image.split("/")[-1]: kf.noise for kf in tiny.document.timeline.keyframes}
    assert noise == {"start.png": 0.2, "end.png": 0.5}  # the reference defaults for start and end frames
    card = timeline.card(tiny.document.timeline.keyframes[1].id)
    assert "Latent slot 2 (pixel frames 5-8)" in card.toolTip()
    assert not card.thumbnail.pixmap().isNull()


def test_several_files_dropped_at_once_fill_the_next_free_slots(tiny, images):
    drop_files(tiny.timeline, [images["start"], images["middle"]], frame_pos(tiny.timeline, 0))
    assert _slots(tiny) == {"start.png": 0, "middle.png": 1}
    drop_files(tiny.timeline, [images["end"]], frame_pos(tiny.timeline, 2))  # slot 1 is taken
    assert _slots(tiny)["end.png"] == 2
    tiny.document.remove_keyframe(tiny.document.timeline.keyframes[0].id)
    drop_files(tiny.timeline, [images["start"], images["text"], images["middle"]], frame_pos(tiny.timeline, 0))
    assert _slots(tiny) == {"start.png": 0, "middle.png": 1, "end.png": 2}  # one message for the whole drop:
    assert tiny.last_message == (
        "No free latent slot at or after frame 0 for middle.png. Not an image or video, so not placed: "
        "notes.txt. Drop PNG, JPEG or WebP images, or MP4 videos."
    )


def test_the_timeline_arithmetic_is_plain_python(tiny):
    timeline = tiny.timeline
    grid = TimelineGeometry(timeline.width(), tiny.document.settings.frames)
    assert timeline.grid == grid
    assert [grid.frame_at(grid.x_of_frame(frame)) for frame in range(9)] == list(range(9))
    assert [grid.slot_at(grid.x_of_frame(frame)) for frame in (0, 1, 4, 5, 8)] == [0, 1, 1, 2, 2]
    assert (timeline.slot_rect(1).left(), timeline.slot_rect(1).width()) == grid.slot_span(1)
    assert timeline.slot_card_position(2).x() == grid.slot_card_x(2)
    assert timeline.slot_rect(2).center().x() == grid.slot_span(2)[0] + (grid.slot_span(2)[1] - 1) // 2
    assert (keyframe_noise_for_slot(0, 9), keyframe_noise_for_slot(2, 9)) == (0.2, 0.5)  # start and end frames


def test_a_file_that_is_not_an_image_is_refused_with_a_message(tiny, images):
    drop = drop_files(tiny.timeline, [images["text"]], frame_pos(tiny.timeline, 4))
    assert not drop.isAccepted()
    assert tiny.document.timeline.keyframes == []
    assert "notes.txt" in tiny.last_message and "Not an image" in tiny.last_message
    assert "notes.txt" in tiny.statusBar().currentMessage()


def test_keyframes_move_by_dragging_and_refuse_an_occupied_slot(tiny, images):
    drop_files(tiny.timeline, [images["start"], images["middle"]], frame_pos(tiny.timeline, 0))
    start, middle = tiny.document.timeline.keyframes
    _drag_card(tiny.timeline.card(middle.id), tiny.timeline, 7)
    assert tiny.document.timeline.keyframe(middle.id).frame == 8
    assert tiny.timeline.card(middle.id).x() > tiny.timeline.card(start.id).x()
    _drag_card(tiny.timeline.card(middle.id), tiny.timeline, 0)  # slot 0 holds "start"
    assert tiny.document.timeline.keyframe(middle.id).frame == 8
    assert "already holds a frame" in tiny.last_message


def test_noise_sliders_delete_undo_and_redo(tiny, images, qtbot):
    drop_files(tiny.timeline, [images["start"]], frame_pos(tiny.timeline, 0))
    keyframe_id = tiny.document.timeline.keyframes[0].id
    card = tiny.timeline.card(keyframe_id)
    for value in (30, 45, 60):  # one slider drag: one undo step
        card.slider.setValue(value)
    assert tiny.document.timeline.keyframe(keyframe_id).noise == 0.6
    assert "0.60" in card.noise_label.text()
    _drag_card(card, tiny.timeline, 4)
    assert tiny.document.timeline.keyframe(keyframe_id).frame == 4
    stack = tiny.document.undo_stack
    assert stack.count() == 3  # add, noise, move

    tiny.undo_action.trigger()
    assert tiny.document.timeline.keyframe(keyframe_id).frame == 0
    tiny.undo_action.trigger()
    assert tiny.document.timeline.keyframe(keyframe_id).noise == 0.2
    assert tiny.timeline.card(keyframe_id).slider.value() == 20
    tiny.redo_action.trigger()
    tiny.redo_action.trigger()
    assert (tiny.document.timeline.keyframe(keyframe_id).noise, tiny.document.timeline.keyframe(keyframe_id).frame) == (
        0.6,
        4,
    )

    card = tiny.timeline.card(keyframe_id)
    card.setFocus()
    qtbot.keyClick(card, Qt.Key.Key_Left)  # arrow keys move a focused keyframe one slot
    assert tiny.document.timeline.keyframe(keyframe_id).frame == 0
    qtbot.keyClick(card, Qt.Key.Key_Right)
    assert tiny.document.timeline.keyframe(keyframe_id).frame == 4
    qtbot.keyClick(card, Qt.Key.Key_Delete)
    assert tiny.document.timeline.keyframes == []
    tiny.undo_action.trigger()
    assert tiny.document.timeline.keyframes[0].id == keyframe_id
    assert tiny.undo_action.shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [s.toString() for s in tiny.redo_action.shortcuts()]


def test_images_dragged_from_the_asset_bin_land_on_the_timeline(tiny, images):
    tiny.assets.add_files([str(images["middle"]), str(images["text"])])
    assert "notes.txt" in tiny.last_message
    item = next(tiny.assets.item(i) for i in range(tiny.assets.count()) if tiny.assets.item(i).text() == "middle.png")
    mime = tiny.assets.mimeData([item])
    assert [u.toLocalFile() for u in mime.urls()] == [str(images["middle"])]
    drop_files(tiny.timeline, [images["middle"]], frame_pos(tiny.timeline, 3))
    assert _slots(tiny) == {"middle.png": 1}


def test_a_dropped_video_is_laid_on_slots_and_modes_are_undoable_presets(tiny, images, tmp_path):
    import numpy as np

    from pusa_engine.media import write_mp4

    tiny.document.update_settings(frames=17)  # 5 slots
    clip = tmp_path / "clip.mp4"
    write_mp4(np.full((13, 64, 64, 3), 120, np.uint8), clip, 16)
    drop_files(tiny.timeline, [images["end"]], frame_pos(tiny.timeline, 16))
    drop_files(tiny.timeline, [clip], frame_pos(tiny.timeline, 0))
    video = tiny.document.timeline.video
    assert (video.slots, video.noise) == ([0, 1, 2, 3], [0.0, 0.3, 0.4, 0.5])
    assert tiny.params.video_group.isVisibleTo(tiny.params)
    request = tiny.runner.editor_request()
    assert [m.slot for m in request.slot_mapping()] == [0, 1, 2, 3, 4]

    tiny.params.mode.setCurrentText(Mode.TEXT_TO_VIDEO.value)
    tiny.params.apply_mode_button.click()
    assert tiny.document.timeline.keyframes == [] and tiny.document.timeline.video is None
    tiny.undo_action.trigger()
    assert tiny.document.timeline.video is not None and len(tiny.document.timeline.keyframes) == 1


def test_files_dropped_on_the_asset_bin_are_added_once(window, images):
    before = window.assets.count()  # the sample keyframes shipped in resources/
    assert before >= 3
    drop_files(window.assets.viewport(), [images["start"], images["end"]], QPoint(20, 20))
    drop_files(window.assets.viewport(), [images["start"]], QPoint(20, 20))
    assert window.assets.count() == before + 2
    assert str(images["end"]) in window.assets.paths()
