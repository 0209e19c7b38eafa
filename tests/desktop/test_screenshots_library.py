"""Screenshots of the welcome page, the main window with a result, the Library and the A/B comparison, at
1280x720 and 1920x1080, from real jobs on the demo model. Run under Xvfb for the real platform plugin:

    xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb PUSA_SCREENSHOT_DIR=docs/screenshots \\
        .venv/bin/python -m pytest tests/desktop/test_screenshots_library.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication

from pusa_desktop.application import apply_style

from .conftest import wait_for_job_end
from .test_library import run

pytestmark = pytest.mark.slow
JOBS = (  # (prompt, seed, steps): the sample project's keyframes, two seeds and step counts, then text only
    ("a small sailing boat crosses a calm lake at sunset, warm light, gentle waves", 2026, 6),
    ("a small sailing boat crosses a calm lake at sunset, warm light, gentle waves", 7, 4),
    ("storm clouds roll over snowy mountains, time-lapse", 11, 4),
)


@pytest.fixture(scope="module")
def shared_outputs(tmp_path_factory) -> Path:
    """One output folder for both sizes: the jobs run once (PUSA_SCREENSHOT_OUTPUTS: a folder of earlier runs)."""
    kept = os.environ.get("PUSA_SCREENSHOT_OUTPUTS")
    return Path(kept) if kept else tmp_path_factory.mktemp("screenshot-outputs")


def _save(window, qtbot, name: str, size: tuple[int, int], tmp_path: Path, least_colours: int = 40) -> Path:
    qtbot.wait(300)  # the layouts settle (wrapped labels take two passes)
    pixmap = window.grab()
    folder = Path(os.environ.get("PUSA_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}-{size[0]}x{size[1]}.png"
    assert (pixmap.width(), pixmap.height()) == size and pixmap.save(str(target))
    image = pixmap.toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 29)}
    assert len(colours) > least_colours  # a real picture, not an empty surface
    with Image.open(target) as saved:  # 256 colours: the noise videos make full-colour PNGs 2.5x bigger
        fewer = saved.convert("RGB").quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    fewer.save(target, optimize=True)
    return target


def _make_results(window, qtbot, outputs: Path) -> None:
    if len(list(outputs.glob("*.json"))) >= len(JOBS):
        return
    for i, (prompt, seed, steps) in enumerate(JOBS):
        if i == 2:
            window.document.clear_timeline()
        window.document.update_settings(prompt=prompt, seed=seed, steps=steps, new_seed_each_run=False)
        job = window.generate()
        assert job is not None, window.last_message
        wait_for_job_end(qtbot, window, job, timeout=600_000)


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_screenshots_of_the_library_compare_welcome_and_main_window(window, qtbot, tmp_path, shared_outputs, size):
    apply_style(QApplication.instance())
    window.app_settings.output_dir = str(shared_outputs)
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size)
    window.show_welcome()
    _save(window, qtbot, "welcome", size, tmp_path, least_colours=15)  # mostly text on one colour

    window.welcome.open_sample.click()
    _make_results(window, qtbot, shared_outputs)
    window.library_action.trigger()
    run(window.library.refresh())
    panel = window.library_panel
    videos = panel.gallery.videos()
    assert len(videos) == len(JOBS)
    qtbot.waitUntil(lambda: all(panel.gallery.has_thumbnail(v) for v in videos), timeout=30_000)
    # the main window: the sample project's keyframes on the timeline, its result playing, the parameters
    window.side_tabs.setCurrentIndex(0)
    window.jobs.show_result(videos[-1])
    qtbot.waitUntil(lambda: window.player.shown_frame is not None and window.player.shown_frame >= 8, timeout=30_000)
    window.player.toggle_play()
    _save(window, qtbot, "main", size, tmp_path)

    window.library_action.trigger()
    panel.select(videos[-1])
    panel.gallery.itemClicked.emit(panel.gallery.item_of(videos[-1]))
    qtbot.waitUntil(lambda: window.player.shown_frame is not None and window.player.shown_frame >= 8, timeout=30_000)
    window.player.toggle_play()
    _save(window, qtbot, "library", size, tmp_path)

    panel.select(videos[-1], videos[-2])  # the two boats: the same keyframes, other seeds and steps
    panel.compare.click()
    view = window.compare_view
    qtbot.waitUntil(lambda: view.ready and view.shown[0] >= 12, timeout=30_000)
    view.pause()
    assert ("Seed", "2026", "7") in view.differing()
    _save(window, qtbot, "compare", size, tmp_path)
