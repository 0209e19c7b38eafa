"""A screenshot of the main window mid-run (run under Xvfb for the real platform plugin).

    xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb PUSA_SCREENSHOT=docs/screenshot-midrun.png \\
        .venv/bin/python -m pytest tests/desktop/test_screenshot.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from pusa_desktop import paths
from pusa_desktop.app import apply_style

from .conftest import drop_files, frame_pos, wait_for_job_end

pytestmark = pytest.mark.slow


def test_screenshot_of_the_window_mid_run(window, qtbot, tmp_path):
    apply_style(QApplication.instance())
    target = Path(os.environ.get("PUSA_SCREENSHOT", tmp_path / "screenshot-midrun.png"))
    samples = sorted((paths.resources_dir() / "samples").glob("*.png"))
    window.document.update_settings(
        prompt="a small sailing boat crosses a calm lake at sunset, warm light, gentle waves",
        width=256,
        height=144,
        frames=33,
        steps=24,
        new_seed_each_run=False,
        seed=2026,
    )
    drop_files(window.timeline, [samples[2]], frame_pos(window.timeline, 0))  # lake-start
    drop_files(window.timeline, [samples[1]], frame_pos(window.timeline, 16))
    drop_files(window.timeline, [samples[0]], frame_pos(window.timeline, 32))
    cards = [window.timeline.card(k.id) for k in window.document.timeline.sorted_keyframes()]
    cards[1].slider.setValue(40)
    cards[2].slider.setValue(50)
    grabbed = []

    def grab_at_step(job_id, event):
        if event.step == 8 and not grabbed:
            QApplication.processEvents()
            grabbed.append(window.grab())

    window.host.step_progress.connect(grab_at_step)
    job_id = window.generate()
    qtbot.waitUntil(lambda: bool(grabbed), timeout=120_000)
    window.runner.cancel_running()
    wait_for_job_end(qtbot, window, job_id)
    pixmap = grabbed[0]
    assert pixmap.width() >= 1280 and pixmap.height() >= 720
    target.parent.mkdir(parents=True, exist_ok=True)
    assert pixmap.save(str(target))
    image = pixmap.toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 29)}
    assert len(colours) > 50  # a real picture, not an empty surface
