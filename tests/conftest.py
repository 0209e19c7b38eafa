"""Shared fixtures: the demo model, written once per test session in the official layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory) -> tuple[Path, Path]:
    from pusa_engine.demo_model import write_demo_model

    return write_demo_model(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """A few real image and video files of odd sizes to condition on."""
    from pusa_engine.media import write_mp4

    d = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    for name, size in (("red.png", (90, 60)), ("green.jpg", (40, 100)), ("blue.webp", (77, 77))):
        arr = np.zeros((size[1], size[0], 3), np.uint8)
        arr[..., "rgb".index(name[0]) if name[0] in "rgb" else 0] = 200
        arr += rng.integers(0, 40, arr.shape, dtype=np.uint8)
        Image.fromarray(arr).save(d / name)
    frames = rng.integers(0, 255, (81, 48, 64, 3), dtype=np.uint8)
    write_mp4(frames, d / "clip.mp4", 16)
    (d / "notes.txt").write_text("not an image")
    return d
