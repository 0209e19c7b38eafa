"""Shared fixtures for the desktop tests: an isolated studio home, the demo model, the real window."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

TINY = {
    "prompt": "a red ball rolls across a table",
    "width": 64,
    "height": 64,
    "frames": 9,
    "steps": 3,
    "new_seed_each_run": False,
    "seed": 1234,
}
JOB_TIMEOUT_MS = 120_000


@pytest.fixture(scope="session")
def demo_model_cache(tmp_path_factory) -> Path:
    """The demo model, written once per test session and shared by every window."""
    from pusa_engine.demo_model import ensure_demo_model

    cache = tmp_path_factory.mktemp("demo-model")
    ensure_demo_model(cache)
    return cache


@pytest.fixture
def studio_home(tmp_path, monkeypatch, demo_model_cache) -> Path:
    """PUSA_STUDIO_HOME for this test; the shared demo model is linked in where the app looks for it."""
    home = tmp_path / "home"
    monkeypatch.setenv("PUSA_STUDIO_HOME", str(home))
    from pusa_desktop import paths

    paths.cache_dir()
    os.symlink(demo_model_cache, paths.demo_model_dir(), target_is_directory=True)
    return home


@pytest.fixture
def window(qtbot, studio_home):
    from pusa_desktop import paths
    from pusa_desktop.main_window import MainWindow
    from pusa_engine.jobs.inprocess import InProcessClient

    win = MainWindow(interactive=False, engine_client=InProcessClient(str(paths.demo_model_dir())))
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


@pytest.fixture
def tiny(window):
    """The window set up for a tiny, fast request (64x64, 9 frames = 3 latent slots, 3 steps)."""
    window.document.update_settings(**TINY)
    window.document.undo_stack.clear()  # the set-up is not part of the user's edits
    return window


@pytest.fixture
def images(tmp_path) -> dict[str, Path]:
    """A few small PNG keyframes and a file that is not an image."""
    folder = tmp_path / "media"
    folder.mkdir()
    out = {}
    for name, colour in (("start", (200, 40, 40)), ("middle", (40, 200, 40)), ("end", (40, 40, 200))):
        image = Image.new("RGB", (80, 60), colour)
        ImageDraw.Draw(image).ellipse((20, 10, 60, 50), fill=(240, 240, 240))
        out[name] = folder / f"{name}.png"
        image.save(out[name])
    out["text"] = folder / "notes.txt"
    out["text"].write_text("not an image")
    return out


def drop_files(widget, files: list[Path], pos: QPoint) -> QDropEvent:
    """Deliver a real drag-enter + drop with file URLs, as a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    enter = QDragEnterEvent(  # a QPoint: PySide6 6.11 has no QPointF overload for the enter event
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(
        QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, drop)
    return drop


def frame_pos(timeline, frame: int) -> QPoint:
    return QPoint(round(timeline.x_of_frame(frame)), 30)


def wait_for_job_end(qtbot, window, job_id: str, timeout: int = JOB_TIMEOUT_MS) -> None:
    from pusa_desktop.core.model import JobState

    def ended() -> None:
        assert window.document.project.job(job_id).state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)
        assert window.host.current_job != job_id

    qtbot.waitUntil(ended, timeout=timeout)
