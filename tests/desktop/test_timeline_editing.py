"""The timeline as an editor: the clip's band under its cards trims the out point by its right end, the in point
by its left end and moves the clip by its body, following the mouse, one undo step a drag, Esc to cancel, what
cannot be refused with the reason; at Fit a long video's cards are compact and staggered, never covering another."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtTest import QTest

from pusa_desktop.core.model import EXTENSION_NOISE
from pusa_desktop.core.timeline_clips import clip_ending_at, head_trimmed_clip
from pusa_desktop.core.timeline_geometry import TimelineGeometry
from pusa_desktop.timeline_cards import ClipSlotCard
from pusa_engine.request import latent_frames

from .conftest import drop_files, frame_pos
from .test_clip_placement import _grey_clip, _placement
from .timeline_helpers import band_y, drag_band


@pytest.fixture
def nine_slots(tiny):
    tiny.document.update_settings(frames=33)  # latent slots 0..8
    tiny.document.undo_stack.clear()
    return tiny


@pytest.fixture
def laid(nine_slots, tmp_path, qtbot):
    """A 36-frame clip dropped on slot 1: slots 1-4, clip frames 0-12, its length read."""
    clip = _grey_clip(tmp_path, "ramp.mp4", 36)
    timeline = nine_slots.timeline
    drop_files(timeline, [clip], frame_pos(timeline, 4))
    qtbot.waitUntil(lambda: timeline.clips.length(str(clip)) == 36, timeout=10_000)
    assert _placement(nine_slots) == ([1, 2, 3, 4], 1, 0)
    return nine_slots


def _right_edge(timeline, slot: int) -> int:
    left, width = timeline.grid.slot_span(slot)
    return left + width


def _left_edge(timeline, slot: int) -> int:
    return timeline.grid.slot_span(slot)[0]


def _steps(window) -> list[str]:
    stack = window.document.undo_stack
    return [stack.text(i) for i in range(stack.count())]


def test_dragging_the_right_end_trims_the_out_point_in_one_undo_step(laid, qtbot):
    window, timeline = laid, laid.timeline
    band = timeline.band
    assert band.band() == (_left_edge(timeline, 1), _right_edge(timeline, 4))
    QTest.mouseMove(timeline, QPoint(_right_edge(timeline, 4) - 2, band_y()))  # hovering the end: a resize cursor
    assert band.hovered == "right" and timeline.cursor().shape() == Qt.CursorShape.SizeHorCursor
    QTest.mouseMove(timeline, QPoint((_left_edge(timeline, 2) + _right_edge(timeline, 3)) // 2, band_y()))
    assert band.hovered == "body" and timeline.cursor().shape() == Qt.CursorShape.OpenHandCursor
    before = len(_steps(window))
    seen: list[tuple[int, tuple[int, ...], bool, str]] = []

    def look(x: float) -> None:  # mid-drag: the band's end follows the mouse, the target slots are shown
        preview = timeline.interaction.preview
        seen.append((band.band()[1] - round(x), preview.slots, preview.ok, preview.label))

    target = _right_edge(timeline, 6) - 5  # near the end of slot 6: it snaps there
    drag_band(timeline, _right_edge(timeline, 4) - 2, target, during=look)
    assert all(abs(offset) <= 3 for offset, *_ in seen)
    assert seen[-1][1:] == ((1, 2, 3, 4, 5, 6), True, "out 20 · slot 6")
    assert _placement(window) == ([1, 2, 3, 4, 5, 6], 1, 0)  # released: the out point is slot 6's last frame
    assert window.document.timeline.video.noise == [0.0, 0.3, 0.4, 0.5, 0.5, 0.5]
    assert timeline.clip_slots_shown() == [1, 2, 3, 4, 5, 6] and timeline.interaction.preview is None
    assert _steps(window)[before:] == ["Trim the clip's out point to frame 20"]  # one step for the whole drag
    bar = window.timeline_pane.inspector
    assert timeline.selection == ("clip", 1) and bar.out_box.value() == 20  # the bar above shows it

    hidden: list[list[int]] = []
    drag_band(timeline, _right_edge(timeline, 6) - 1, _right_edge(timeline, 2) + 3,
              during=lambda _x: hidden.append([c.slot for c in timeline.clip_cards() if not c.isVisible()]))
    assert hidden[-1] == [3, 4, 5, 6]  # the cards past the dragged end go while it is dragged
    assert _placement(window) == ([1, 2], 1, 0) and all(c.isVisible() for c in timeline.clip_cards())
    window.undo_action.trigger()
    assert _placement(window) == ([1, 2, 3, 4, 5, 6], 1, 0)
    window.undo_action.trigger()
    assert _placement(window) == ([1, 2, 3, 4], 1, 0) and timeline.clip_slots_shown() == [1, 2, 3, 4]
    window.redo_action.trigger()
    assert _placement(window) == ([1, 2, 3, 4, 5, 6], 1, 0)


def test_dragging_the_left_end_trims_the_in_point_and_the_frames_stay_on_their_slots(laid):
    window, timeline = laid, laid.timeline
    headers = {c.slot: c.header.text() for c in timeline.clip_cards()}
    assert headers == {1: "src 0", 2: "src 1-4", 3: "src 5-8", 4: "src 9-12"}
    drag_band(timeline, _left_edge(timeline, 1) + 2, _left_edge(timeline, 3) + 4)
    assert _placement(window) == ([3, 4], 3, 8)  # starts 2 slots later, 8 clip frames in
    assert [c.header.text() for c in timeline.clip_cards()] == ["src 8", "src 9-12"]  # slot 4 keeps its frames
    assert window.document.timeline.video.noise == [0.4, 0.5]
    assert _steps(window)[-1] == "Trim the clip's in point to frame 8 (from slot 3)"
    assert window.timeline_pane.inspector.in_box.value() == 8

    drag_band(timeline, _left_edge(timeline, 3) + 1, _left_edge(timeline, 2) - 3)  # back out by a slot
    assert _placement(window) == ([2, 3, 4], 2, 4)
    assert [c.header.text() for c in timeline.clip_cards()] == ["src 4", "src 5-8", "src 9-12"]
    assert window.document.timeline.video.noise == [0.4, 0.4, 0.5]  # the laid slot takes the first slot's noise

    steps = len(_steps(window))
    drag_band(timeline, _left_edge(timeline, 2) + 1, _left_edge(timeline, 0), release=False)
    preview = timeline.interaction.preview
    assert not preview.ok and "no frames before frame 0" in preview.label  # red, with the reason, while dragged
    QTest.mouseRelease(timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(_left_edge(timeline, 0), band_y()))
    assert _placement(window) == ([2, 3, 4], 2, 4) and len(_steps(window)) == steps  # nothing changed
    assert window.last_message == ("Cannot trim the clip: ramp.mp4 has no frames before frame 0: with its in point "
                                   "at frame 4 the clip can start at slot 1 at the earliest")
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert _placement(window) == ([1, 2, 3, 4], 1, 0)


def test_the_body_moves_the_clip_esc_cancels_and_what_cannot_be_is_refused(laid, images, qtbot):
    window, timeline = laid, laid.timeline
    drop_files(timeline, [images["end"]], frame_pos(timeline, 32))  # a keyframe on slot 8
    steps = len(_steps(window))
    middle = (_left_edge(timeline, 2) + _right_edge(timeline, 2)) // 2
    offsets: list[set[int]] = []

    def look(_x: float) -> None:  # the cards move with the band
        offsets.append({c.x() - timeline.slot_card_position(c.slot).x() for c in timeline.clip_cards()})

    drag_band(timeline, middle, middle + timeline.slot_rect(3).width() * 2, during=look)
    assert all(len(o) == 1 for o in offsets) and offsets[-1] != {0}
    assert _placement(window) == ([3, 4, 5, 6], 3, 0) and _steps(window)[steps:] == ["Move the clip to slot 3"]

    middle = (_left_edge(timeline, 4) + _right_edge(timeline, 4)) // 2
    drag_band(timeline, middle, middle + timeline.slot_rect(4).width() * 2, release=False)  # onto the keyframe
    preview = timeline.interaction.preview
    assert (preview.slots, preview.ok) == ((5, 6, 7, 8), False) and "slot 8 holds a keyframe" in preview.label
    QTest.keyClick(timeline, Qt.Key.Key_Escape)  # Esc: everything goes back, nothing changes
    assert timeline.band.drag is None and timeline.interaction.preview is None
    assert _placement(window) == ([3, 4, 5, 6], 3, 0) and len(_steps(window)) == steps + 1
    assert [c.pos() for c in timeline.clip_cards()] == [timeline.slot_card_position(s) for s in (3, 4, 5, 6)]

    drag_band(timeline, middle, middle + timeline.slot_rect(4).width() * 2)  # released there: refused
    assert window.last_message == "Cannot move the clip there: slot 8 holds a keyframe; move it first"
    drag_band(timeline, _right_edge(timeline, 6) - 1, _left_edge(timeline, 2))  # the end before the start
    assert window.last_message == "Cannot trim the clip: the clip needs at least one slot: it starts at slot 3"
    assert _placement(window) == ([3, 4, 5, 6], 3, 0) and len(_steps(window)) == steps + 1
    assert [kf.slot for kf in window.document.timeline.keyframes] == [8]


def test_trims_by_the_ends_follow_the_inspectors_rules():
    from pusa_desktop.core.model import TimelineVideo

    video = TimelineVideo("c.mp4", [1, 2, 3, 4], list(EXTENSION_NOISE), 1, 0)
    assert clip_ending_at(video, 6, 33, {5}, 36)[0].slots == [1, 2, 3, 4, 6]  # a keyframe's slot is left out
    assert clip_ending_at(video, 8, 33, set(), 26)[1] == "c.mp4 has 26 frames: the out point can be at most 25"
    moved, problem = head_trimmed_clip(video, 3, set(), 36)
    assert problem is None and (moved.slots, moved.start_slot, moved.in_frame) == ([3, 4], 3, 8)
    assert moved.source_frames(4) == video.source_frames(4)  # the frames that stay keep their slot
    assert head_trimmed_clip(video, 5, set(), 36)[1] == "the clip needs at least one slot: its last is slot 4"


def _slot_of(window, card) -> int:
    return card.slot if isinstance(card, ClipSlotCard) else window.document.timeline.keyframe(card.keyframe_id).slot


def _intersecting(rects: list[QRect]) -> list[tuple[QRect, QRect]]:
    return [(a, b) for i, a in enumerate(rects) for b in rects[i + 1:] if a.intersects(b)]


def test_a_long_video_at_fit_has_compact_cards_that_never_cover_each_other(tiny, images, tmp_path, qtbot):
    window, timeline = tiny, tiny.timeline
    window.document.update_settings(frames=241)  # 61 slots
    window.timeline_pane.set_zoom(1.0)  # Fit
    assert latent_frames(241) == 61 and timeline.grid.frame_width * 4 < 40  # slots narrower than a card
    files = [images[name] for name in ("start", "middle", "end")] * 3
    drop_files(timeline, files[:8], frame_pos(timeline, 40))  # 8 keyframes on slots 10-17, side by side
    drop_files(timeline, files[:2], frame_pos(timeline, 0))  # slots 0 and 1 (slot 0 is one frame wide)
    drop_files(timeline, files[:3], frame_pos(timeline, 232))  # the last slots, 58-60
    clip = _grey_clip(tmp_path, "ramp.mp4", 36)
    drop_files(timeline, [clip], frame_pos(timeline, 120))  # a clip on slots 30-33
    slots = sorted(kf.slot for kf in window.document.timeline.keyframes)
    assert slots == [0, 1, 10, 11, 12, 13, 14, 15, 16, 17, 58, 59, 60]
    cards = [timeline.card(k.id) for k in window.document.timeline.keyframes] + timeline.clip_cards()
    assert timeline.card_places.compact and all(card.compact for card in cards)
    rects = [card.geometry() for card in cards]
    assert _intersecting(rects) == []  # no two cards overlap
    assert all(0 <= r.left() and r.right() < timeline.width() and r.bottom() < timeline.height() for r in rects)
    for card in cards:  # every card can be clicked: its middle is the card, not one on top of it
        under = timeline.childAt(card.geometry().center())
        assert under is card or card.isAncestorOf(under)
        left, width = timeline.grid.slot_span(_slot_of(window, card))
        assert card.x() < left + width and card.geometry().right() >= left - card.width()  # near its own slot
    first = timeline.card(window.document.timeline.keyframes[0].id)
    assert first.header.text() == "s10" and first.noise.isVisible() and not first.slider.isVisible()
    qtbot.mouseClick(first, Qt.MouseButton.LeftButton, pos=first.thumbnail.geometry().center())
    assert timeline.selection == ("keyframe", first.keyframe_id)  # selected: the bar above edits its noise
    qtbot.keyClick(first, Qt.Key.Key_Up)
    assert window.document.timeline.keyframes[0].noise == pytest.approx(0.21)

    window.timeline_pane.set_zoom(window.timeline_pane.max_zoom())  # zoomed in: full cards again
    assert not timeline.card_places.compact and not first.compact and first.slider.isVisible()
    assert _intersecting([card.geometry() for card in cards]) == []


@pytest.mark.parametrize("frames", [81, 161, 241])
def test_cards_on_every_slot_never_overlap_at_any_width(frames):
    for width in range(500, 2600, 37):
        grid = TimelineGeometry(width, frames)
        places = grid.card_places(range(latent_frames(frames)))
        rects = [QRect(x, y, places.width, places.height) for x, y in places.places.values()]
        assert _intersecting(rects) == [], (width, frames)
        room = grid.slot_span(2)[1] >= grid.card_width() + 2 and len(rects) * (grid.card_width() + 2) <= width
        assert not (room and places.compact)  # full cards wherever they fit side by side
