"""The Library tab in the real window: every result on this machine, searched and filtered; one click plays
it; restore keeps the user's seed choice; A/B compare plays two results in step and lists what differs;
the History shows the same readable form; the index survives restarts and is rebuilt when damaged."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import qasync
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from pusa_desktop import paths
from pusa_desktop.core.library_index import DEMO_MODEL_NAME
from pusa_desktop.core.model import Job
from pusa_desktop.library import UNTITLED, index_file
from pusa_engine.events import JobResult
from pusa_engine.request import GenerationRequest, Keyframe

from .results_helpers import REAL_MODEL, write_result


def run(coroutine):
    loop = qasync.QEventLoop(already_running=False)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def _results(window, tmp_path):
    """Three results in the output folder and one in another folder, made over two months."""
    now, outputs = time.time(), Path(window.app_settings.output_dir)
    fox = write_result(outputs, "fox", "a red fox runs through snow", seed=1, steps=4, created=now - 60)
    fox2 = write_result(outputs, "fox2", "a red fox runs through snow", seed=2, steps=6, created=now - 30)
    boat = write_result(outputs, "boat", "a sailing boat on a calm lake", seed=3, model=REAL_MODEL, created=now - 5)
    old = write_result(tmp_path / "elsewhere", "old", "an old fox in autumn leaves", seed=4, created=now - 90 * 86400)
    return fox, fox2, boat, old


def _open_library(window, tmp_path):
    videos = _results(window, tmp_path)
    window.library.add_folder(str(videos[3].parent))
    window.library_action.trigger()
    assert window.side_tabs.currentWidget() is window.library_panel
    run(window.library.refresh())
    return [str(v.resolve()) for v in videos]


def _click(qtbot, gallery, video):
    item = gallery.item_of(video)
    gallery.scrollToItem(item)
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=gallery.visualItemRect(item).center())


def test_search_and_filters_narrow_the_gallery_of_every_result(window, qtbot, tmp_path):
    fox, fox2, boat, old = _open_library(window, tmp_path)
    panel = window.library_panel
    assert panel.gallery.videos() == [boat, fox2, fox, old]  # newest first, from both folders
    assert panel.count.text() == "4 of 4"
    qtbot.waitUntil(lambda: all(panel.gallery.has_thumbnail(v) for v in (boat, fox2, fox, old)), timeout=20_000)
    qtbot.keyClicks(panel.search, "fox snow")
    assert panel.gallery.videos() == [fox2, fox] and panel.count.text() == "2 of 4"
    panel.search.clear()
    panel.model.setCurrentText("Wan2.1-T2V-14B + pusa_v1.pt")
    assert panel.gallery.videos() == [boat]
    panel.model.setCurrentText(DEMO_MODEL_NAME)
    panel.date.setCurrentText("Today")
    assert panel.gallery.videos() == [fox2, fox]
    panel.date.setCurrentText("Older than 30 days")
    assert panel.gallery.videos() == [old]
    panel.date.setCurrentIndex(0)
    panel.model.setCurrentIndex(0)
    window.library.index.set_project(fox, "Winter")
    window.library.changed.emit()
    panel.project.setCurrentText("Winter")
    assert panel.gallery.videos() == [fox]


def test_one_click_plays_a_result_and_shows_its_settings_as_a_form(window, qtbot, tmp_path):
    fox, fox2, boat, old = _open_library(window, tmp_path)
    panel = window.library_panel
    _click(qtbot, panel.gallery, boat)
    assert window.player.source == boat
    qtbot.waitUntil(lambda: window.player.shown_frame is not None, timeout=20_000)
    rows = dict(panel.form.rows)
    assert rows["Prompt"] == "a sailing boat on a calm lake" and rows["Seed"] == "3"
    assert rows["Model"] == "Wan2.1-T2V-14B + pusa_v1.pt" and rows["File"] == boat
    assert "{" not in panel.form.text()
    assert window.current_result_path() == boat and window.export_mp4_action.isEnabled()
    qtbot.waitUntil(lambda: window.player.shown_frame >= 3, timeout=20_000)  # it plays
    _click(qtbot, panel.gallery, fox)  # another one while the first plays: it plays (it froze here before)
    assert window.player.source == fox and dict(panel.form.rows)["Seed"] == "1"
    qtbot.waitUntil(lambda: window.player.shown_frame is not None and window.player.shown_frame >= 3, timeout=20_000)


def test_restore_puts_a_result_into_the_editor_and_keeps_the_seed_choice(window, tmp_path):
    missing_image = tmp_path / "gone.png"
    video = write_result(Path(window.app_settings.output_dir), "kf", "a fox at dawn", seed=77, steps=5,
                         keyframes=[Keyframe(str(missing_image), 0, 0.3)])
    window.library_action.trigger()
    run(window.library.refresh())
    panel = window.library_panel
    key = str(video.resolve())
    for keep_new_seed in (True, False):
        window.document.update_settings(new_seed_each_run=keep_new_seed, prompt="something else", steps=9)
        panel.select(key)
        panel.restore.click()
        settings = window.document.settings
        assert (settings.prompt, settings.steps, settings.seed) == ("a fox at dawn", 5, 77)
        assert settings.new_seed_each_run is keep_new_seed  # was switched off by every restore before
        assert [(k.frame, k.noise) for k in window.document.timeline.keyframes] == [(0, 0.3)]
        assert "gone.png" in window.last_message and "seed 77" in window.last_message
        assert ("a new one is drawn each run" in window.last_message) is keep_new_seed
    assert window.runner.editor_request().seed == 77  # the box is off: the same seed runs again
    window.document.undo_stack.undo()
    assert window.document.settings.prompt == "something else"  # one undoable step


def test_compare_plays_two_results_in_step_and_lists_what_differs(window, qtbot, tmp_path):
    fox, fox2, boat, old = _open_library(window, tmp_path)
    panel, view = window.library_panel, window.compare_view
    panel.select(fox)
    assert not panel.compare.isEnabled()
    panel.select(fox, fox2)
    assert panel.compare.isEnabled()
    panel.compare.click()
    assert window.centre_pages.showing == "compare"
    assert view.differing() == [("Steps", "4", "6"), ("Seed", "1", "2")]
    qtbot.waitUntil(lambda: view.ready and view.playing, timeout=20_000)
    qtbot.waitUntil(lambda: view.shown[0] >= 3, timeout=10_000)
    assert view.shown[0] == view.shown[1]  # same length and rate: the same frame on both sides
    view.pause()
    view.seek(0.3)
    assert view.shown == (4, 4)
    assert view.canvases[0].caption == "frame 5 / 9"
    # a job that starts meanwhile does not take the comparison away; the user's click does
    window.jobs.play_video(boat)
    assert window.centre_pages.showing == "compare"
    _click(qtbot, panel.gallery, boat)
    assert window.centre_pages.showing == "player"
    panel.select(fox, boat)  # different models: the model is one of the differences
    panel.compare.click()
    assert ("Model", DEMO_MODEL_NAME, "Wan2.1-T2V-14B + pusa_v1.pt") in view.differing()
    view.close_button.click()
    assert window.centre_pages.showing == "player"


def test_space_plays_and_pauses_the_comparison_and_the_arrows_step_a_frame(window, qtbot, tmp_path):
    fox, fox2, *_ = _open_library(window, tmp_path)
    panel, view = window.library_panel, window.compare_view
    panel.select(fox, fox2)
    panel.compare.click()
    qtbot.waitUntil(lambda: view.ready and view.playing, timeout=20_000)
    assert window.focusWidget() is view  # opened: the keys are the comparison's
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert not view.playing and view.play_button.text() == "Play"
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert view.playing and view.play_button.text() == "Pause"
    view.pause()
    view.seek(0.3)
    assert view.shown == (4, 4)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.shown == (5, 5) and view.canvases[1].caption == "frame 6 / 9"
    qtbot.keyClick(view, Qt.Key.Key_Left)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.shown == (3, 3) and not view.playing
    qtbot.keyClick(view.scrub, Qt.Key.Key_Right)  # the scrub bar or the loop box focused: the same keys
    assert view.shown == (4, 4)
    qtbot.keyClick(view.loop_box, Qt.Key.Key_Space)
    assert view.playing and view.loop_box.isChecked()  # Space played, it did not untick Loop
    qtbot.keyClick(view.play_button, Qt.Key.Key_Space)
    assert not view.playing  # once, not twice (the button's own Space would click it again)


def test_hovering_a_thumbnail_plays_its_frames(window, qtbot, tmp_path):
    fox, *_ = _open_library(window, tmp_path)
    gallery = window.library_panel.gallery
    centre = QPointF(gallery.visualItemRect(gallery.item_of(fox)).center())
    move = QMouseEvent(QEvent.Type.MouseMove, centre, gallery.viewport().mapToGlobal(centre),
                       Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(gallery.viewport(), move)  # the mouse moves over the thumbnail, no button down
    qtbot.waitUntil(lambda: gallery.hovered_frames >= 3, timeout=20_000)
    still = gallery.hovered_frames
    leave = QEvent(QEvent.Type.Leave)
    QApplication.sendEvent(gallery.viewport(), leave)
    qtbot.wait(300)
    assert gallery.hovered_frames == still  # it stops when the mouse leaves


def test_results_of_the_open_project_join_the_library_named_after_it(window, tmp_path):
    video = write_result(Path(window.app_settings.output_dir), "made", "a heron takes off", seed=5)
    job = Job(GenerationRequest(prompt="a heron takes off", seed=5))
    window.document.add_job(job)
    window.document.finish_job(job.id, JobResult(str(video), str(video.with_suffix(".json")), 5, 9, 16, 1.0), None)
    entry = window.library.entry(str(video))
    assert entry is not None and entry.project == UNTITLED  # in the library before any scan
    assert window.save_project(tmp_path / "Birds.pusa")
    assert window.library.entry(str(video)).project == "Birds"
    # the History shows the same readable form, and a click plays the result
    history = window.history_panel
    window.side_tabs.setCurrentWidget(history)
    assert ("Prompt", "a heron takes off") in history.details.rows and "{" not in history.details.text()
    history.list.itemClicked.emit(history.list.item(0))
    assert window.player.source == str(video)


def test_the_index_survives_a_restart_and_a_damaged_one_is_rebuilt(window, qtbot, tmp_path):
    from pusa_desktop.main_window import MainWindow
    from pusa_engine.jobs.inprocess import InProcessClient

    fox, fox2, boat, old = _open_library(window, tmp_path)
    window.shutdown()  # writes the index
    saved = json.loads(index_file().read_text())
    assert {e["video"] for e in saved["entries"]} == {fox, fox2, boat, old}

    def reopen():
        win = MainWindow(interactive=False, engine_client=InProcessClient(str(paths.demo_model_dir())))
        qtbot.addWidget(win)
        win.show()
        return win

    again = reopen()
    again.library_action.trigger()
    assert set(again.library_panel.gallery.videos()) == {fox, fox2, boat, old}  # before any scan
    again.shutdown()
    index_file().write_text('{"format": "pusa-studio-library", "entries": [tru')
    damaged = reopen()
    damaged.library_action.trigger()
    assert damaged.library_panel.gallery.videos() == []
    assert "damaged" in damaged.last_message
    run(damaged.library.refresh())
    assert "rebuilt: 4 results" in damaged.last_message
    assert set(damaged.library_panel.gallery.videos()) == {fox, fox2, boat, old}
    damaged.shutdown()
    assert len(json.loads(index_file().read_text())["entries"]) == 4
