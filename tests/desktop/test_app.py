"""Starting the app: --version, --self-test, standard locations, the layer rule, settings and the banner."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, env_home: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PUSA_STUDIO_HOME": str(env_home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "pusa_desktop", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_version_prints_and_exits(tmp_path):
    from pusa_desktop import __version__

    result = _run("--version", env_home=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"Pusa Studio {__version__}"


@pytest.mark.slow
def test_self_test_runs_a_job_through_the_real_window(tmp_path):
    result = _run("--self-test", env_home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "video reads back: 9 frames of 64x64" in result.stdout
    assert "self-test passed" in result.stdout
    assert "the window's process never imported torch" in result.stdout
    assert list((tmp_path / "home" / "outputs").glob("*.mp4"))  # honoured PUSA_STUDIO_HOME


def test_opening_the_window_loads_no_torch(tmp_path):
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from pusa_desktop.main_window import MainWindow\n"
        "w = MainWindow(interactive=False); w.show(); app.processEvents()\n"
        "heavy = [m for m in ('torch', 'diffsynth', 'safetensors', 'cv2', 'pusa_engine.engine') if m in sys.modules]\n"
        "w.shutdown()\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "PUSA_STUDIO_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_every_location_goes_under_pusa_studio_home(studio_home, window):
    from pusa_desktop import paths

    for folder in (
        paths.config_dir(),
        paths.data_dir(),
        paths.cache_dir(),
        paths.default_output_dir(),
        paths.default_projects_dir(),
        window.app_settings.output_dir,
    ):
        assert studio_home in folder.parents or folder == studio_home
    window.app_settings.plan = "cpu"
    window.app_settings.sync()
    assert paths.settings_file().is_file() and studio_home in paths.settings_file().parents


def test_first_run_shows_the_demo_banner_and_the_model_settings(window, qtbot, tmp_path):
    import qasync

    assert window.banner.isVisible() and "demo model" in window.banner.label.text()
    window.banner.button.click()
    dialog = window.settings_dialog
    assert dialog.isVisible() and dialog.model_dir.accessibleName() == "Model folder"
    loop = qasync.QEventLoop(already_running=False)
    asyncio.set_event_loop(loop)
    try:
        dialog.model_dir.setText(str(tmp_path / "empty-model"))
        (tmp_path / "empty-model").mkdir()
        problems = loop.run_until_complete(dialog.check_model_files())
        assert problems and dialog.problems.count() == len(problems)
        assert "problem" in dialog.status.text()
        plans = loop.run_until_complete(dialog.load_plans())
        assert "cpu" in plans or "auto" in plans
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    dialog.model_dir.setText(str(tmp_path / "weights"))
    dialog.accept()
    assert window.app_settings.model_dir == str(tmp_path / "weights")
    assert not window.banner.isVisible()


def test_a_bad_request_is_refused_with_every_problem_shown(tiny):
    tiny.document.update_settings(width=70)
    assert tiny.generate() is None
    assert "multiples of 16" in tiny.last_message
    assert tiny.document.project.queue == []


def test_controls_have_accessible_names_and_shortcuts(window):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QSlider

    unnamed = [
        widget
        for cls in (QAbstractSpinBox, QComboBox, QLineEdit, QSlider)
        for widget in window.findChildren(cls)
        if widget.isVisibleTo(window)
        and not widget.accessibleName()
        and not widget.toolTip()
        and not isinstance(widget.parent(), (QAbstractSpinBox, QComboBox))
    ]
    assert unnamed == []
    assert all(b.text() or b.accessibleName() for b in window.findChildren(QAbstractButton) if b.isVisibleTo(window))
    assert window.generate_action.shortcut().toString() == "Ctrl+Return"
    assert window.save_action.shortcut().toString() == "Ctrl+S"


def test_the_engine_libraries_can_be_imported_ahead_of_the_first_job(window, qtbot):
    with qtbot.waitSignal(window.host.plan_described, timeout=120_000) as blocker:
        window.host.warm_up()
    assert blocker.args[0].startswith("ready")
    assert "ready" in window.plan_label.text()


def test_first_run_is_reported_once(studio_home):
    from pusa_desktop.app_settings import AppSettings

    assert AppSettings().take_first_run() is True
    assert AppSettings().take_first_run() is False


def test_the_shortcut_list_names_the_common_actions(window):
    text = window.shortcuts_text()
    for expected in ("Generate", "Ctrl+Return", "Undo", "Ctrl+Z", "Save", "Delete"):
        assert expected in text
    assert window.history_panel.export.menu().actions()[0] is window.export_mp4_action


def test_a_fresh_project_on_the_demo_model_starts_at_a_size_a_cpu_runs_in_seconds(window, tmp_path):
    from pusa_desktop.core.model import DEMO_MODEL_SIZE

    settings = window.document.project.settings
    assert (settings.width, settings.height, settings.frames) == tuple(DEMO_MODEL_SIZE.values())
    assert not window.document.dirty
    window.app_settings.model_dir = str(tmp_path / "Wan2.1-T2V-14B")
    window.new_project()
    settings = window.document.project.settings
    assert (settings.width, settings.height, settings.frames) == (832, 480, 81)
