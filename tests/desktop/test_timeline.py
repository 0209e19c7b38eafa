"""The timeline: real drops of files (several, in the drag's order), refusals, cards that follow the mouse when
dragged, nudges, delete, undo and redo."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from pusa_desktop.core.model import Mode
from pusa_desktop.core.timeline_geometry import TimelineGeometry, keyframe_noise_for_slot, spread_slots

from .conftest import drop_files, frame_pos
from .timeline_helpers import drag_card, drag_files_over, release_card


def _slots(window) -> dict[str, int]:
    return {kf.image.split("/")[-1]: kf.slot for kf in window.document.timeline.keyframes}


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
    assert card.header.text() == "slot 2 · f8"  # the slot and frame, on the card itself
    assert card.noise.text() == "noise 0.50" and not card.thumbnail.pixmap().isNull()


def test_several_files_spread_from_the_drop_point_in_the_order_they_were_dragged(tiny, images):
    tiny.document.update_settings(frames=25)  # slots 0..6
    timeline = tiny.timeline
    drop_files(timeline, [images["start"]], frame_pos(timeline, 12))  # slot 3 is taken
    order = [images["end"], images["start"], images["middle"]]  # not alphabetical: the order of the drag
    drag_files_over(timeline, order, frame_pos(timeline, 6))  # over slot 2: the slots they would take, numbered
    preview = timeline.interaction.preview
    assert (preview.slots, preview.ok, preview.numbered) == ((2, 4, 5), True, True)
    steps = tiny.document.undo_stack.count()
    drop_files(timeline, order, frame_pos(timeline, 6))
    placed = sorted(tiny.document.timeline.keyframes, key=lambda kf: kf.slot)
    assert [(kf.image.split("/")[-1], kf.slot) for kf in placed] == [
        ("end.png", 2), ("start.png", 3), ("start.png", 4), ("middle.png", 5)]
    assert timeline.interaction.preview is None
    assert tiny.last_message.startswith("3 images on slots 2, 4, 5, in the order they were dragged.")
    assert tiny.document.undo_stack.count() == steps + 1  # one drop, one undo step
    tiny.undo_action.trigger()
    assert _slots(tiny) == {"start.png": 3}
    assert spread_slots(5, 3, {6}, 25) == [5]  # past the last slot nothing is laid


def test_a_drop_past_the_free_slots_says_what_was_left(tiny, images):
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
    narrow = TimelineGeometry(1272, 81)  # slot 0 is one frame wide: its card pushes slot 1's aside, not over it
    xs = narrow.card_xs({0, 1, 2})
    assert xs[0] + narrow.card_width() < xs[1] and xs[1] + narrow.card_width() < xs[2]
    left, span = narrow.slot_span(1)
    assert xs[1] < left + span  # and each card still stands on its own slot


def test_a_file_that_is_not_an_image_is_refused_with_a_message(tiny, images):
    drop = drop_files(tiny.timeline, [images["text"]], frame_pos(tiny.timeline, 4))
    assert not drop.isAccepted()
    assert tiny.document.timeline.keyframes == []
    assert "notes.txt" in tiny.last_message and "Not an image" in tiny.last_message
    assert "notes.txt" in tiny.statusBar().currentMessage()


def test_a_dragged_card_follows_the_mouse_shows_its_target_and_snaps_on_release(tiny, images):
    tiny.document.update_settings(frames=17)  # slots 0..4
    timeline = tiny.timeline
    drop_files(timeline, [images["start"], images["middle"]], frame_pos(timeline, 0))
    start, middle = tiny.document.timeline.keyframes
    card = timeline.card(middle.id)
    seen: list[tuple[int, int, tuple[int, ...], bool, str]] = []

    def look(x: float) -> None:  # mid-drag: where the card is, what the timeline shows, what the card says
        preview = timeline.interaction.preview
        seen.append((card.x() + card.width() // 2, round(x), preview.slots, preview.ok, card.header.text()))

    target = timeline.x_of_frame(10) + 7  # inside slot 3, off its centre
    drag_card(card, timeline, target, during=look)
    for centre, cursor, _slots_shown, _ok, _header in seen:
        assert abs(centre - cursor) <= 2  # the card moved with the mouse, not only on release
    assert seen[-1][2:] == ((3,), True, "slot 3 · f12")  # the target slot, shown while dragging
    assert tiny.document.timeline.keyframe(middle.id).frame == 12  # released: snapped to slot 3
    assert card.pos() == timeline.slot_card_position(3) and timeline.interaction.preview is None

    drag_card(card, timeline, timeline.x_of_frame(0), release=False)  # slot 0 holds "start": shown in red
    preview = timeline.interaction.preview
    assert (preview.slots, preview.ok) == ((0,), False) and "already holds a frame" in preview.label
    release_card(card, timeline, timeline.x_of_frame(0))
    assert tiny.document.timeline.keyframe(middle.id).frame == 12  # refused: back on its slot, with the reason
    assert "already holds a frame" in tiny.last_message and card.pos() == timeline.slot_card_position(3)
    assert tiny.document.timeline.keyframe(start.id).frame == 0


def test_shift_drag_moves_slot_by_slot_and_escape_puts_the_card_back(tiny, images, qtbot):
    tiny.document.update_settings(frames=17)
    timeline = tiny.timeline
    drop_files(timeline, [images["start"]], frame_pos(timeline, 4))  # slot 1
    keyframe = tiny.document.timeline.keyframes[0]
    card = timeline.card(keyframe.id)
    positions: list[int] = []
    drag_card(card, timeline, timeline.x_of_frame(14) + 9, shift=True, steps=6,
              during=lambda _x: positions.append(card.x()))
    slot_xs = {timeline.grid.slot_card_x(slot) for slot in range(5)}
    assert set(positions) <= slot_xs  # with Shift the card only ever stands on a slot
    assert tiny.document.timeline.keyframe(keyframe.id).slot == 4

    drag_card(card, timeline, timeline.x_of_frame(6), release=False)
    assert card.dragging and timeline.interaction.preview.slots == (2,)
    qtbot.keyClick(card, Qt.Key.Key_Escape)
    assert not card.dragging and timeline.interaction.preview is None
    assert card.pos() == timeline.slot_card_position(4) and tiny.document.timeline.keyframe(keyframe.id).slot == 4


def test_noise_sliders_keys_delete_undo_and_redo(tiny, images, qtbot):
    drop_files(tiny.timeline, [images["start"]], frame_pos(tiny.timeline, 0))
    keyframe_id = tiny.document.timeline.keyframes[0].id
    card = tiny.timeline.card(keyframe_id)
    for value in (30, 45, 60):  # one slider drag: one undo step
        card.slider.setValue(value)
    assert tiny.document.timeline.keyframe(keyframe_id).noise == 0.6
    assert card.noise.text() == "noise 0.60"
    drag_card(card, tiny.timeline, tiny.timeline.x_of_frame(4))
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
    keyframe = tiny.document.timeline.keyframe(keyframe_id)
    assert (keyframe.noise, keyframe.frame) == (0.6, 4)

    card = tiny.timeline.card(keyframe_id)
    card.setFocus()
    qtbot.keyClick(card, Qt.Key.Key_Left)  # arrow keys nudge a focused keyframe one slot
    assert tiny.document.timeline.keyframe(keyframe_id).frame == 0
    qtbot.keyClick(card, Qt.Key.Key_Left)  # nothing before slot 0: said, not done
    assert tiny.document.timeline.keyframe(keyframe_id).frame == 0 and "slot 0" in tiny.last_message
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


def test_a_dropped_video_is_laid_on_slots_and_modes_never_remove_it(tiny, images, tmp_path):
    import numpy as np

    from pusa_engine.media import write_mp4

    tiny.document.update_settings(frames=17)  # 5 slots
    clip = tmp_path / "clip.mp4"
    write_mp4(np.full((13, 64, 64, 3), 120, np.uint8), clip, 16)
    drop_files(tiny.timeline, [images["end"]], frame_pos(tiny.timeline, 16))
    drop_files(tiny.timeline, [clip], frame_pos(tiny.timeline, 0))
    video = tiny.document.timeline.video
    assert (video.slots, video.noise, video.start_slot, video.in_frame) == ([0, 1, 2, 3], [0.0, 0.3, 0.4, 0.5], 0, 0)
    assert tiny.params.video_group.isVisibleTo(tiny.params)
    request = tiny.runner.editor_request()
    assert [m.slot for m in request.slot_mapping()] == [0, 1, 2, 3, 4]
    assert tiny.params.mode.currentText() == Mode.TEXT_TO_VIDEO.value  # dropping media never changes the mode

    tiny.document.apply_mode(Mode.TEXT_TO_VIDEO)
    assert tiny.document.timeline.video is not None and len(tiny.document.timeline.keyframes) == 1


def test_files_dropped_on_the_asset_bin_are_added_once(window, images):
    before = window.assets.count()  # the sample keyframes shipped in resources/
    assert before >= 3
    drop_files(window.assets.viewport(), [images["start"], images["end"]], QPoint(20, 20))
    drop_files(window.assets.viewport(), [images["start"]], QPoint(20, 20))
    assert window.assets.count() == before + 2
    assert str(images["end"]) in window.assets.paths()
