"""Noise set precisely (typed after a double-click, scrubbed, stepped with the keys, on the wide bar above the
timeline) and the timeline zoomed (Ctrl+wheel around the mouse, the slider, Fit) and scrolled."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from pusa_desktop.core.timeline_geometry import MAX_FRAME_WIDTH

from .conftest import drop_files, frame_pos
from .timeline_helpers import drag_card, scrub, wheel


def _noise(window) -> float:
    return window.document.timeline.keyframes[0].noise


def _type_noise(qtbot, card, text: str, key=Qt.Key.Key_Return) -> None:
    qtbot.mouseDClick(card.noise, Qt.MouseButton.LeftButton)
    editor = card.noise.editor
    assert editor is not None and editor.isVisible() and editor.selectedText() == editor.text()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, key)


def test_noise_is_typed_after_a_double_click_and_bad_text_is_refused(tiny, images, qtbot):
    drop_files(tiny.timeline, [images["start"]], frame_pos(tiny.timeline, 0))
    card = tiny.timeline.card(tiny.document.timeline.keyframes[0].id)
    _type_noise(qtbot, card, "0.375")
    assert _noise(tiny) == 0.375 and card.noise.text() == "noise 0.375" and card.slider.value() == 38
    assert not card.noise.editor.isVisible()
    _type_noise(qtbot, card, "0,5")  # a decimal comma is read too
    assert _noise(tiny) == 0.5
    for bad in ("abc", "1.5", "nan"):
        _type_noise(qtbot, card, bad)
        assert _noise(tiny) == 0.5 and tiny.last_message.startswith("Noise must be a number from 0 to 1")
    _type_noise(qtbot, card, "0.9", key=Qt.Key.Key_Escape)  # Esc gives up
    assert _noise(tiny) == 0.5 and card.noise.text() == "noise 0.50"


def test_noise_is_scrubbed_and_stepped_with_the_keys(tiny, images, qtbot):
    drop_files(tiny.timeline, [images["start"]], frame_pos(tiny.timeline, 0))
    card = tiny.timeline.card(tiny.document.timeline.keyframes[0].id)
    scrub(card.noise, 40)  # 0.005 a pixel, whatever the card's width
    assert _noise(tiny) == 0.4
    scrub(card.noise, -50, shift=True)  # Shift: 0.001 a pixel
    assert _noise(tiny) == 0.35
    scrub(card.noise, 400)
    assert _noise(tiny) == 1.0  # kept in range
    card.setFocus()
    qtbot.keyClick(card, Qt.Key.Key_Down)
    assert _noise(tiny) == 0.99
    qtbot.keyClick(card, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert _noise(tiny) == 0.89
    qtbot.keyClick(card, Qt.Key.Key_Up)
    assert _noise(tiny) == 0.9 and card.slider.value() == 90


def test_the_selected_card_has_a_wide_noise_control_above_the_timeline(tiny, images, qtbot):
    drop_files(tiny.timeline, [images["start"]], frame_pos(tiny.timeline, 0))
    card = tiny.timeline.card(tiny.document.timeline.keyframes[0].id)
    bar = tiny.timeline_pane.inspector
    assert not bar.noise_box.isVisibleTo(bar) and "Select a card" in bar.title.text()
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton, pos=card.header.geometry().center())
    assert bar.noise_box.isVisibleTo(bar) and bar.title.text().startswith("start.png · slot 0 · frame 0")
    assert bar.noise_slider.width() >= 1.5 * card.width() and not bar.in_box.isVisibleTo(bar)
    bar.noise_box.lineEdit().selectAll()
    qtbot.keyClicks(bar.noise_box.lineEdit(), "0.125")
    qtbot.keyClick(bar.noise_box.lineEdit(), Qt.Key.Key_Return)
    assert _noise(tiny) == 0.125 and card.noise.text() == "noise 0.125" and bar.noise_slider.value() == 125
    bar.noise_slider.setValue(640)  # a thousandth a step
    assert _noise(tiny) == 0.64 and bar.noise_box.value() == 0.64
    tiny.undo_action.trigger()  # a run of noise changes is one step
    assert _noise(tiny) == 0.2 and bar.noise_box.value() == 0.2
    qtbot.mouseClick(tiny.timeline, Qt.MouseButton.LeftButton, pos=QPoint(tiny.timeline.width() - 5, 100))
    assert tiny.timeline.selection is None and not bar.noise_box.isVisibleTo(bar)


def test_ctrl_wheel_zooms_around_the_mouse_and_the_wheel_scrolls(tiny, images, qtbot):
    tiny.document.update_settings(frames=81)
    pane, timeline = tiny.timeline_pane, tiny.timeline
    drop_files(timeline, [images["start"]], frame_pos(timeline, 40))
    viewport = pane.scroll.viewport().width()
    card = timeline.card(tiny.document.timeline.keyframes[0].id)
    narrow = card.width()
    assert (timeline.width(), pane.hbar.maximum(), pane.zoom) == (viewport, 0, 1.0)  # the whole video fits

    x = round(timeline.x_of_frame(50))
    wheel(timeline, QPoint(x, 40), 3, ctrl=True)
    assert abs(pane.zoom - 1.25**3) < 1e-6 and timeline.width() > viewport and pane.hbar.maximum() > 0
    assert timeline.frame_at(pane.hbar.value() + x) == 50  # the frame under the mouse stays under it
    assert card.width() > narrow and pane.zoom_slider.value() > 0  # wider cards: a wider noise control
    before = pane.hbar.value()
    wheel(timeline, QPoint(x, 40), -2)  # the wheel alone scrolls sideways
    assert pane.hbar.value() > before

    pane.zoom_slider.setValue(pane.zoom_slider.maximum())
    assert abs(timeline.grid.frame_width - MAX_FRAME_WIDTH) < 0.5
    pane.fit.click()
    assert (pane.zoom, timeline.width(), pane.zoom_slider.value()) == (1.0, viewport, 0)
    pane.zoom_in.click()
    assert pane.zoom == 1.25
    tiny.document.update_settings(frames=9)  # 9 frames always fit: nothing to zoom
    assert pane.zoom == 1.0 and not pane.zoom_slider.isEnabled() and timeline.width() == viewport


def test_a_card_dragged_to_the_edge_scrolls_the_timeline_along(tiny, images):
    tiny.document.update_settings(frames=81)
    pane, timeline = tiny.timeline_pane, tiny.timeline
    drop_files(timeline, [images["start"]], frame_pos(timeline, 8))
    pane.set_zoom(4.0, 0)
    pane.hbar.setValue(0)
    card = timeline.card(tiny.document.timeline.keyframes[0].id)
    edge = pane.scroll.viewport().width() + 20  # past the right edge of what is shown
    drag_card(card, timeline, edge, release=False)
    assert pane.hbar.value() > 0  # scrolled so the dragged card stays in view
    assert card.x() + card.width() > pane.scroll.viewport().width()
