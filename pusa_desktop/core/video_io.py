"""Reading videos as numpy frames (exports, clip thumbnails, the self-test), through OpenCV and the engine's
torch-free media module. The player itself plays finished videos through QtMultimedia (`player.py`).

`pusa_engine.media` pulls in OpenCV, so it is imported inside the functions, which run off the GUI thread.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np


def _read_in_process(path: str | Path) -> tuple[np.ndarray, float] | None:
    """Decode with OpenCV inside this process. Spawning ffmpeg would fork the whole app (torch loaded),
    which holds the interpreter lock long enough to stall the window for tens of milliseconds."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    return (np.stack(frames), fps or 16.0) if frames else None


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames of a video as uint8 [T, H, W, 3] and its frame rate."""
    decoded = _read_in_process(path)
    if decoded is not None:
        return decoded
    from pusa_engine.media import read_mp4_frames, video_info

    frames = read_mp4_frames(path)
    fps = float(video_info(path).get("fps") or 16.0)
    return frames, fps


def export_mp4(video: str | Path, target: str | Path) -> Path:
    target = Path(target)
    shutil.copyfile(video, target)
    return target


def export_gif(video: str | Path, target: str | Path) -> Path:
    from pusa_engine.media import write_gif

    frames, fps = read_video(video)
    write_gif(frames, target, max(1, round(fps)))
    return Path(target)


def export_png_frames(video: str | Path, folder: str | Path) -> Path:
    from pusa_engine.media import write_png_frames

    frames, _fps = read_video(video)
    return Path(write_png_frames(frames, folder))
