"""Screenshots of the timeline as an editor, at 1280x720 and 1920x1080: the clip's right end dragged mid-trim
(timeline-trim-*), and a long video (241 frames) at Fit with compact, staggered cards (timeline-long-*).
Run under Xvfb for the real platform plugin:

    xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb PUSA_SCREENSHOT_DIR=docs/screenshots \\
        .venv/bin/python -m pytest tests/desktop/test_screenshots_timeline.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from pusa_desktop import paths
from pusa_desktop.application import apply_style

from .conftest import drop_files, frame_pos
from .test_screenshot import _panning_clip
from .timeline_helpers import band_y, drag_band

pytestmark = pytest.mark.slow
SIZES = [(1280, 720), (1920, 1080)]


def _save(window, qtbot, name: str, size: tuple[int, int], tmp_path: Path) -> Path:
    QApplication.processEvents()
    qtbot.wait(200)
    pixmap = window.grab()
    folder = Path(os.environ.get("PUSA_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}-{size[0]}.png"
    assert (pixmap.width(), pixmap.height()) == size and pixmap.save(str(target))
    return target


def _set_up(window, qtbot, size: tuple[int, int], frames: int) -> list[Path]:
    apply_style(QApplication.instance())
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size)
    samples = sorted((paths.resources_dir() / "samples").glob("*.png"))  # lake-end, lake-middle, lake-start
    window.assets.add_files([str(s) for s in samples])
    window.document.update_settings(prompt="a calm lake at sunset, a small boat drifts past, gentle ripples",
                                    width=256, height=144, frames=frames)
    window.timeline_pane.set_zoom(1.0)
    return samples


@pytest.mark.parametrize("size", SIZES)
def test_screenshot_of_the_clip_trimmed_by_its_end(window, qtbot, tmp_path, size):
    samples = _set_up(window, qtbot, size, 49)
    timeline = window.timeline
    drop_files(timeline, [samples[2]], frame_pos(timeline, 0))  # lake-start on slot 0
    drop_files(timeline, [samples[0]], frame_pos(timeline, 48))  # lake-end on slot 12
    clip = _panning_clip(tmp_path / "lake-pan.mp4", 45)
    drop_files(timeline, [clip], frame_pos(timeline, 12))  # slots 3-6
    qtbot.waitUntil(lambda: all(card.has_thumbnail for card in timeline.clip_cards()), timeout=10_000)
    left, width = timeline.grid.slot_span(6)
    target = sum(timeline.grid.slot_span(9)) - width // 3  # dragged two slots and a half on: it lands on 9
    drag_band(timeline, left + width - 2, target, steps=6, release=False)
    assert timeline.interaction.preview.ok and timeline.interaction.preview.slots == tuple(range(3, 10))
    _save(window, qtbot, "timeline-trim", size, tmp_path)
    QTest.mouseRelease(timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(target, band_y()))
    assert window.document.timeline.video.slots == list(range(3, 10))


@pytest.mark.parametrize("size", SIZES)
def test_screenshot_of_a_long_video_at_fit(window, qtbot, tmp_path, size):
    samples = _set_up(window, qtbot, size, 241)
    timeline = window.timeline
    drop_files(timeline, [samples[2], samples[1]], frame_pos(timeline, 0))  # slots 0 and 1
    drop_files(timeline, [samples[2], samples[1], samples[0]] * 2 + [samples[2]], frame_pos(timeline, 60))  # 15-21
    drop_files(timeline, [samples[1]], frame_pos(timeline, 160))  # slot 40, on its own
    drop_files(timeline, [samples[1], samples[0]], frame_pos(timeline, 236))  # 59 and 60, the end
    clip = _panning_clip(tmp_path / "lake-pan.mp4", 45)
    drop_files(timeline, [clip], frame_pos(timeline, 108))  # slots 27-30
    qtbot.waitUntil(lambda: all(card.has_thumbnail for card in timeline.clip_cards()), timeout=10_000)
    cards = [timeline.card(k.id) for k in window.document.timeline.keyframes] + timeline.clip_cards()
    assert timeline.card_places.compact
    rects = [card.geometry() for card in cards]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    qtbot.mouseClick(cards[3], Qt.MouseButton.LeftButton, pos=cards[3].thumbnail.geometry().center())
    _save(window, qtbot, "timeline-long", size, tmp_path)
