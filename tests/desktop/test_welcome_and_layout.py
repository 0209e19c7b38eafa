"""The first start (a welcome page in the player's place, not a dialog), the sample project, the window's
geometry and panel sizes remembered, labels that fit at 1280x720 and 1920x1080, and one clear line when there
is no display."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QAbstractButton, QLabel

from pusa_desktop.app import display_problem, first_actions
from pusa_desktop.welcome import SAMPLE_PROMPT

from .conftest import TINY, wait_for_job_end

REPO = Path(__file__).resolve().parents[2]


def test_the_first_start_shows_the_welcome_page_instead_of_a_dialog(window, qtbot):
    first_actions(window, None)
    assert window.centre_pages.showing == "welcome" and window.welcome.isVisible()
    assert not getattr(window, "settings_dialog", None)  # no modal Settings over the window any more
    text = window.welcome.text.text()
    assert "demo model" in text and "random weights" in text and "noise" in text
    first_actions(window, None)  # the second start: the player
    window.centre_pages.show_player()
    assert window.centre_pages.showing == "player"
    window.show_welcome()  # View > Welcome page brings it back
    window.welcome.start_empty.click()
    assert window.centre_pages.showing == "player"


def test_choose_model_folder_opens_the_settings_with_the_folder_to_check(window, tmp_path):
    from pusa_desktop.welcome import choose_model_folder

    weights = tmp_path / "Wan2.1-T2V-14B"
    weights.mkdir()
    (tmp_path / "pusa_v1.pt").write_bytes(b"lora")
    window.show_welcome()
    choose_model_folder(window, str(weights))
    dialog = window.settings_dialog
    assert dialog.isVisible() and dialog.model_dir.text() == str(weights)
    assert dialog.lora_path.text() == str(tmp_path / "pusa_v1.pt")  # found beside the folder
    assert window.app_settings.model_dir == ""  # nothing saved until the user presses Save
    dialog.reject()


def test_the_sample_project_opens_with_its_keyframes_and_a_job_takes_the_welcome_away(window, qtbot):
    window.show_welcome()
    window.welcome.open_sample.click()
    assert window.centre_pages.showing == "player"
    assert window.document.settings.prompt == SAMPLE_PROMPT
    keyframes = window.document.timeline.sorted_keyframes()
    assert [(Path(k.image).name, k.frame, k.noise) for k in keyframes] == [
        ("lake-start.png", 0, 0.2), ("lake-middle.png", 16, 0.4), ("lake-end.png", 32, 0.5)]
    assert all(Path(k.image).is_file() for k in keyframes)
    window.show_welcome()
    window.document.clear_timeline()
    window.document.update_settings(**TINY)
    job = window.generate()
    assert job is not None and window.centre_pages.showing == "player"  # the previews need the room
    window.runner.cancel_running()
    wait_for_job_end(qtbot, window, job)


REMEMBER = """
import json, sys
from PySide6.QtWidgets import QApplication
from pusa_desktop import paths
from pusa_desktop.main_window import MainWindow
from pusa_engine.jobs.inprocess import InProcessClient

app = QApplication([])
def window():
    made = MainWindow(interactive=False, engine_client=InProcessClient(str(paths.demo_model_dir())))
    made.show()
    app.processEvents()
    return made
def split_sizes(panel, sizes=None):
    win.side_tabs.setCurrentWidget(panel)
    app.processEvents()
    if sizes:
        panel.split.setSizes(sizes)
        app.processEvents()
    return panel.split.sizes()
win = window()
if sys.argv[1] == "set":
    win.resize(1500, 900)
    win.move(120, 60)
    app.processEvents()
    win.top_split.setSizes([100, 900, 480])
    win.root_split.setSizes([700, 150])
    app.processEvents()
state = {"size": [win.width(), win.height()], "pos": [win.x(), win.y()], "top": win.top_split.sizes(),
         "root": win.root_split.sizes(),
         "library": split_sizes(win.library_panel, [200, 300] if sys.argv[1] == "set" else None),
         "history": split_sizes(win.history_panel, [300, 200] if sys.argv[1] == "set" else None)}
win.shutdown()  # what closing the window does: the layout is saved
print(json.dumps(state))
"""


def test_the_window_size_and_panel_sizes_are_remembered(studio_home, tmp_path):
    """Run twice in a child process on a 1920x1080 off-screen display (the tests' own is 800x800, too small for
    a window to keep its size)."""
    screens = tmp_path / "screens.json"
    screens.write_text(json.dumps({"screens": [{"name": "hd", "x": 0, "y": 0, "width": 1920, "height": 1080,
                                                "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screens}"}

    def run_child(step: str) -> dict:
        done = subprocess.run([sys.executable, "-c", REMEMBER, step], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run_child("set")
    assert first["size"] == [1500, 900]
    library, history = first["library"], first["history"]
    assert 0.6 < library[0] / library[1] < 0.7 and 1.4 < history[0] / history[1] < 1.6  # 2:3 and 3:2 as dragged
    second = run_child("open")
    assert second == first  # a fresh start would be 1280x720 with the default panel sizes


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_no_clipped_labels_in_the_side_panels_and_the_compare_view(window, qtbot, tmp_path, size):
    from .results_helpers import write_result
    from .test_library import run

    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size)
    outputs = Path(window.app_settings.output_dir)
    a = write_result(outputs, "a", "a red fox runs through snow", seed=1)
    b = write_result(outputs, "b", "a red fox runs through snow at night, slow motion", seed=2, steps=8)
    run(window.library.refresh())
    checked = 0
    for tab in (window.queue_panel, window.history_panel, window.library_panel):
        window.side_tabs.setCurrentWidget(tab)
        qtbot.wait(50)
        checked += _assert_nothing_clipped(tab)
    window.library_panel.select(str(a.resolve()), str(b.resolve()))
    window.library_panel.compare.click()
    qtbot.wait(50)
    checked += _assert_nothing_clipped(window.compare_view)
    window.show_welcome()
    qtbot.wait(50)
    checked += _assert_nothing_clipped(window.welcome)
    assert checked > 15
    tabs = window.side_tabs.tabBar()
    for i in range(tabs.count()):
        assert tabs.tabRect(i).width() >= tabs.fontMetrics().horizontalAdvance(tabs.tabText(i)) + 10
    player = window.player.canvas
    assert player.width() >= 0.5 * size[0] - 200  # the player gets the room


def _assert_nothing_clipped(root) -> int:
    """Every visible button's text fits its button, every one-line label fits its width."""
    checked = 0
    for button in root.findChildren(QAbstractButton):
        if button.isVisible() and button.text():
            needed = button.fontMetrics().horizontalAdvance(button.text().replace("&", ""))
            assert button.width() >= needed + 8, f"{button.text()!r}: {button.width()} < {needed + 8}"
            checked += 1
    for label in root.findChildren(QLabel):
        if label.isVisible() and label.text() and not label.wordWrap() and type(label) is QLabel:
            needed = label.fontMetrics().horizontalAdvance(label.text())
            assert label.width() >= needed, f"{label.text()!r}: {label.width()} < {needed}"
            checked += 1
    return checked


def test_no_display_gives_one_clear_line_instead_of_a_qt_error(tmp_path):
    assert "none is set" in display_problem({}, "linux")
    assert "not running" in display_problem({"DISPLAY": ":4242"}, "linux")
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "win32") is None
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PUSA_STUDIO_HOME"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-m", "pusa_desktop"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [display_problem({}, "linux")]
    assert "Traceback" not in result.stderr and "qt.qpa" not in result.stderr
