"""The player pane: a finished video plays through QtMultimedia (QMediaPlayer + QVideoSink), painted by our canvas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QUrl

from pusa_desktop.player import VideoFileSource

FRAMES = 17
FPS = 16


@pytest.fixture(scope="module")
def numbered_clip(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """17 frames at 16 fps; frame i is a flat grey of level 12*i, so a frame's pixels tell its index."""
    from pusa_engine.media import write_mp4

    frames = np.stack([np.full((48, 64, 3), 12 * i + 20, np.uint8) for i in range(FRAMES)])
    path = tmp_path_factory.mktemp("clips") / "numbered.mp4"
    write_mp4(frames, path, FPS)
    return path, frames


def _index_of_image(image, frames: np.ndarray) -> int:
    grey = image.pixelColor(image.width() // 2, image.height() // 2).red()
    return int(np.argmin([abs(int(f[0, 0, 0]) - grey) for f in frames]))


def _wait_for_frame(qtbot, player, index: int) -> None:
    qtbot.waitUntil(lambda: player.shown_frame == index, timeout=5_000)


def test_a_video_plays_through_qtmultimedia_and_steps_frame_by_frame(window, qtbot, numbered_clip):
    path, frames = numbered_clip
    player = window.player
    window.document.update_settings(frames=FRAMES)  # the timeline's playhead maps one to one
    received = []
    player.media.sink.videoFrameChanged.connect(lambda frame: received.append(frame.startTime()))
    window.play_video(str(path))
    assert player.active_source is player.media and isinstance(player.media, VideoFileSource)
    assert player.media.player.source() == QUrl.fromLocalFile(str(path))
    qtbot.waitUntil(lambda: player.frame_count == FRAMES and player.shown_frame is not None, timeout=10_000)
    assert player.playing and player.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: len(received) >= 3, timeout=5_000)  # decoded frames reach our QVideoSink
    assert player.media.frames_received >= 3

    player.step_to(5)  # pauses, then seeks to frame 5
    assert not player.playing and player.current_frame == 5 and player.counter.text() == f"6 / {FRAMES}"
    _wait_for_frame(qtbot, player, 5)
    assert _index_of_image(player.canvas.image, frames) == 5  # the very frame, decoded by QtMultimedia
    for key, expected in ((Qt.Key.Key_Period, 6), (Qt.Key.Key_Right, 7), (Qt.Key.Key_Comma, 6), (Qt.Key.Key_End, 16)):
        qtbot.keyClick(player, key)
        _wait_for_frame(qtbot, player, expected)
        assert _index_of_image(player.canvas.image, frames) == expected
    assert player.counter.text() == f"{FRAMES} / {FRAMES}" and window.timeline._playhead == FRAMES - 1
    player.scrub.setValue(2)  # scrubbing
    _wait_for_frame(qtbot, player, 2)
    assert _index_of_image(player.canvas.image, frames) == 2 and window.timeline._playhead == 2

    grabbed = player.canvas.grab().toImage()  # the canvas paints the frame itself, so it can be grabbed
    centre = grabbed.pixelColor(grabbed.width() // 2, grabbed.height() // 2).red()
    assert abs(centre - int(frames[2, 0, 0, 0])) <= 3


def test_without_loop_the_video_stops_on_its_last_frame(window, qtbot, numbered_clip):
    path, frames = numbered_clip
    player = window.player
    player.loop_box.setChecked(False)
    window.play_video(str(path))
    qtbot.waitUntil(lambda: player.shown_frame is not None, timeout=10_000)
    qtbot.waitUntil(lambda: not player.playing, timeout=5_000)  # 17 frames at 16 fps: about a second
    assert player.shown_frame == FRAMES - 1 and _index_of_image(player.canvas.image, frames) == FRAMES - 1
    assert player.play_button.text() == "Play"
    player.step_to(3)  # stepping works on a video that ran to its end
    _wait_for_frame(qtbot, player, 3)
    assert _index_of_image(player.canvas.image, frames) == 3
    qtbot.keyClick(player, Qt.Key.Key_Space)  # plays again from the start
    qtbot.waitUntil(lambda: player.playing, timeout=5_000)
    qtbot.keyClick(player, Qt.Key.Key_Space)
    assert not player.playing


def test_a_file_that_is_not_a_video_is_reported(window, qtbot, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    window.play_video(str(bad))
    qtbot.waitUntil(lambda: "Cannot play" in window.last_message, timeout=10_000)
    assert "broken.mp4" in window.last_message
