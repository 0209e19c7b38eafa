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


@pytest.fixture
def styled():
    """The app's real look (resources/style.qss): its paddings make every field taller than Qt's plain one."""
    from PySide6.QtWidgets import QApplication

    from pusa_desktop.application import apply_style

    app = QApplication.instance()
    style, sheet = app.style().name(), app.styleSheet()
    apply_style(app)
    yield app
    app.setStyleSheet(sheet)
    app.setStyle(style)


@pytest.mark.parametrize("clip", [False, True], ids=["keyframes", "keyframes-and-clip"])
def test_at_1280x720_the_parameters_fit_the_library_shows_two_rows_and_the_player_gets_the_room(
        window, qtbot, styled, clip):
    from pusa_desktop.core.model import TimelineVideo
    from pusa_desktop.core.timeline_geometry import HEIGHT_WITH_CLIP, HEIGHT_WITHOUT_CLIP

    from .results_helpers import write_result
    from .test_library import run

    window.resize(1280, 720)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (1280, 720))
    window.show_welcome()
    window.welcome.open_sample.click()  # three keyframes on the timeline, as in the screenshots
    outputs = Path(window.app_settings.output_dir)
    results = [write_result(outputs, f"r{i}", f"a red fox runs through snow, take {i}", seed=i) for i in range(7)]
    if clip:
        window.document.set_video(TimelineVideo(video=str(results[0])))
    window.side_tabs.setCurrentIndex(0)
    qtbot.wait(100)
    params, scroll = window.params, window.side_tabs.widget(0)
    assert not scroll.verticalScrollBar().isVisible() and not scroll.horizontalScrollBar().isVisible()
    assert params.minimumSizeHint().height() <= scroll.viewport().height()
    assert params.minimumSizeHint().width() <= scroll.viewport().width()
    fields = [params.mode, params.prompt, params.negative, params.resolution, params.width_box, params.height_box,
              params.fit, params.frames, params.steps, params.alpha, params.cfg, params.shift, params.seed,
              params.random_seed, params.fps, params.new_seed_each_run, params.fp8, params.save_png]
    if clip:
        fields += [params.extend_button, params.complete_button, params.remove_video_button]
    viewport = scroll.viewport().rect()
    for field in fields:  # each one shows whole, inside the panel
        top_left = field.mapTo(scroll.viewport(), field.rect().topLeft())
        assert field.isVisible() and viewport.contains(field.rect().translated(top_left)), field.accessibleName()
    assert params.mode_status.toolTip() == params.mode_status.text()  # one elided line; the tooltip has it all
    assert params.prompt.height() >= 2 * params.prompt.line_height()

    window.side_tabs.setCurrentWidget(window.library_panel)
    run(window.library.refresh())
    qtbot.wait(100)
    gallery = window.library_panel.gallery
    assert len(gallery.videos()) == len(results)
    assert gallery.viewport().height() >= 2 * gallery.gridSize().height()  # two whole rows of thumbnails
    assert gallery.viewport().width() >= 3 * gallery.gridSize().width()  # of three each
    assert window.library_panel.form.viewport().height() >= 5 * gallery.fontMetrics().lineSpacing()
    assert window.banner.height() <= 30  # one line
    clip_caption = HEIGHT_WITH_CLIP - HEIGHT_WITHOUT_CLIP if clip else 0  # a clip's caption under its cards
    assert window.player.canvas.height() >= 330 - clip_caption  # the player gets the room (it had 323)


def test_the_negative_prompt_is_one_line_until_edited_and_a_tall_panel_shows_more(window, qtbot, styled):
    negative, prompt = window.params.negative, window.params.prompt
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (1280, 720))
    qtbot.wait(50)
    assert negative.lines == 1 and negative.height() < 2 * negative.line_height() + 12
    negative.setFocus()
    qtbot.waitUntil(lambda: negative.height() >= 5 * negative.line_height())  # room to read and edit it all
    prompt.setFocus()
    qtbot.waitUntil(lambda: negative.height() < 2 * negative.line_height() + 12)
    negative.setPlainText("blurry")  # still a plain-text box: the document follows it
    assert window.document.settings.negative_prompt == "blurry"
    window.resize(1920, 1080)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (1920, 1080))
    qtbot.waitUntil(lambda: prompt.lines > 3 and negative.lines > 1)  # the spare height goes to the prompts
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: not window.side_tabs.widget(0).verticalScrollBar().isVisible() and negative.lines == 1)


def test_a_long_value_in_the_settings_form_shows_its_start_and_more_on_click(qtbot):
    from pusa_desktop.library_form import SettingsForm

    form = SettingsForm()
    qtbot.addWidget(form)
    long = "bright tones, overexposed, static, blurred details, " * 6
    form.set_rows([("Prompt", "a fox"), ("Negative prompt", long), ("Seed", "7")])
    [value] = [label for label in form.widget().findChildren(QLabel) if label.accessibleName() == "Negative prompt"]
    assert value.text().count("overexposed") <= 2 and value.text().endswith(">more</a>")
    value.linkActivated.emit("more")
    assert value.text().count("overexposed") == 6 and value.text().endswith(">less</a>")
    value.linkActivated.emit("less")
    assert value.text().count("overexposed") <= 2
    assert form.rows[1] == ("Negative prompt", long)  # the rows (and the text copied from the form) are whole
