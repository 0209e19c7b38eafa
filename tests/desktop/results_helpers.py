"""Finished results on disk for the Library and export tests: a real MP4 (written by the engine's own
writer) with a sidecar in the engine's format beside it, as `Engine.generate` leaves them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np

from pusa_engine.media import write_mp4
from pusa_engine.request import GenerationRequest, Keyframe

DEMO_MODEL = {"model_dir": "/cache/demo-model/Wan2.1-T2V-demo", "lora": "/cache/demo-model/pusa_v1_demo.pt"}
REAL_MODEL = {"model_dir": "/models/Wan2.1-T2V-14B", "lora": "/models/pusa_v1.pt"}


def moving_frames(frames: int, width: int, height: int, seed: int) -> np.ndarray:
    """Frames that differ from each other (a bar sweeping across a coloured field)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=3, dtype=np.uint8)
    out = np.empty((frames, height, width, 3), np.uint8)
    out[:] = base
    for i in range(frames):
        x = (i * width) // max(1, frames)
        out[i, :, x : x + max(2, width // 8)] = 255 - base
    return out


def write_result(folder: Path, name: str, prompt: str, *, seed: int = 1, steps: int = 4, fps: int = 16,
                 frames: int = 9, width: int = 64, height: int = 48, model: dict | None = None,
                 created: float | None = None, keyframes: list[Keyframe] | None = None) -> Path:
    """`folder/name.mp4` and `folder/name.json`; `created` sets both files' times (seconds since the epoch)."""
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / f"{name}.mp4"
    write_mp4(moving_frames(frames, width, height, seed), video, fps)
    request = GenerationRequest(prompt=prompt, width=width, height=height, frames=frames, steps=steps, seed=seed,
                                fps=fps, keyframes=keyframes or [])
    sidecar = {
        "request": request.to_dict(),
        "seed": seed,
        "slot_mapping": [m.__dict__ for m in request.slot_mapping()],
        "model_files": model or DEMO_MODEL,
        "engine": {"pusa_engine": "0.1.0", "diffsynth": "2.1.12", "plan": "CPU: DiT on cpu (float32)"},
        "seconds": 1.5,
    }
    video.with_suffix(".json").write_text(json.dumps(sidecar, indent=2))
    if created is not None:
        for path in (video, video.with_suffix(".json")):
            os.utime(path, (created, created))
    return video


def stream_info(path: Path) -> dict:
    """Codec, size and frame rate of a file's video stream, read back by the bundled ffmpeg."""
    import imageio_ffmpeg

    text = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                          text=True, check=False).stderr
    line = next(line for line in text.splitlines() if "Video:" in line)
    codec = line.split("Video:")[1].split()[0].strip(",")
    size = re.search(r", (\d{2,5})x(\d{2,5})", line)
    fps = re.search(r", ([\d.]+) (?:fps|tbr)", line)
    assert size is not None and fps is not None, line
    return {"codec": codec, "width": int(size.group(1)), "height": int(size.group(2)), "fps": float(fps.group(1)),
            "line": line}


def frame_count(path: Path) -> int:
    """Frames decoded from the file, one by one."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count
