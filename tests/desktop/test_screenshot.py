"""Screenshots of the main window: mid-run, a finished video playing, a clip laid on the timeline's slots.
Run under Xvfb for the real platform plugin:

    xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb PUSA_SCREENSHOT=docs/screenshot-midrun.png \\
        PUSA_SCREENSHOT_PLAYER=docs/screenshot-player.png PUSA_SCREENSHOT_VIDEO_SLOTS=docs/screenshot-video-slots.png \\
        .venv/bin/python -m pytest tests/desktop/test_screenshot.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication

from pusa_desktop import paths
from pusa_desktop.application import apply_style

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


def _save(pixmap: QPixmap, variable: str, default: Path, least_colours: int = 50) -> None:
    target = Path(os.environ.get(variable, default))
    assert pixmap.width() >= 1280 and pixmap.height() >= 720
    target.parent.mkdir(parents=True, exist_ok=True)
    assert pixmap.save(str(target))
    image = pixmap.toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 29)}
    assert len(colours) > least_colours  # a real picture, not an empty surface


def _panning_clip(target: Path, frames: int) -> Path:
    """A clip that pans across the lake sample, so its frames differ."""
    from pusa_engine.media import write_mp4

    sample = Image.open(paths.resources_dir() / "samples" / "lake-start.png").convert("RGB").resize((384, 144))
    shots = [np.asarray(sample.crop((4 * i, 0, 4 * i + 256, 144))) for i in range(frames)]
    write_mp4(np.stack(shots), target, 16)
    return target


def test_screenshot_of_a_finished_video_playing(window, qtbot, tmp_path):
    apply_style(QApplication.instance())
    samples = sorted((paths.resources_dir() / "samples").glob("*.png"))
    window.document.update_settings(
        prompt="a small sailing boat crosses a calm lake at sunset, warm light, gentle waves",
        width=256,
        height=144,
        frames=9,
        steps=2,
        new_seed_each_run=False,
        seed=2026,
    )
    drop_files(window.timeline, [samples[2]], frame_pos(window.timeline, 0))
    job_id = window.generate()
    wait_for_job_end(qtbot, window, job_id)
    player = window.player
    qtbot.waitUntil(lambda: player.active_source is player.media and player.playing, timeout=30_000)
    qtbot.waitUntil(lambda: (player.shown_frame or 0) >= 4, timeout=10_000)  # mid-play, from QtMultimedia
    QApplication.processEvents()
    _save(window.grab(), "PUSA_SCREENSHOT_PLAYER", tmp_path / "screenshot-player.png")


def test_screenshot_of_a_clip_on_the_timeline(window, qtbot, tmp_path):
    apply_style(QApplication.instance())
    samples = sorted((paths.resources_dir() / "samples").glob("*.png"))
    window.document.update_settings(
        prompt="the boat sails on across the lake as the sun sets", width=256, height=144, frames=33
    )
    clip = _panning_clip(tmp_path / "lake-pan.mp4", 33)
    window.assets.add_files([str(clip)])
    drop_files(window.timeline, [clip], frame_pos(window.timeline, 0))
    drop_files(window.timeline, [samples[0]], frame_pos(window.timeline, 32))  # lake-end as the last frame
    timeline = window.timeline
    cards = [timeline.clip_card(slot) for slot in timeline.clip_slots_shown()]
    qtbot.waitUntil(lambda: all(card.has_thumbnail for card in cards), timeout=10_000)
    qtbot.mouseClick(cards[3], Qt.MouseButton.LeftButton, pos=cards[3].thumbnail.geometry().center())
    qtbot.waitUntil(lambda: window.player.shown_frame == 12, timeout=10_000)  # the clip frame on slot 3
    QApplication.processEvents()
    _save(window.grab(), "PUSA_SCREENSHOT_VIDEO_SLOTS", tmp_path / "screenshot-video-slots.png")
