"""`pusa-studio --self-test`: the real window, offscreen, makes a short video on the demo model.

Prints a log and returns 0 when the video was written and reads back with the expected frames,
non-zero with the reason otherwise. Used by the packaging checks on a fresh install.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

SELF_TEST_TIMEOUT_S = 900
SETTINGS = {
    "prompt": "a red ball rolls across a table",
    "width": 64,
    "height": 64,
    "frames": 9,
    "steps": 2,
    "new_seed_each_run": False,
    "seed": 7,
}


class SelfTestLog:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[{time.monotonic() - self.start:7.2f} s] {text}", flush=True)


def _sample_image(folder: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 96), (40, 90, 160))
    ImageDraw.Draw(image).ellipse((24, 24, 72, 72), fill=(220, 60, 40))
    path = folder / "self-test-keyframe.png"
    image.save(path)
    return path


async def _run(window, say: SelfTestLog, scratch: Path) -> int:
    from .app_settings import EngineConfig
    from .core.video_io import read_video
    from .engine_host import job_outcome

    window.runner.engine_config_override = EngineConfig(plan="cpu")  # always the demo model
    window.document.update_settings(**SETTINGS)
    window.document.add_keyframe(str(_sample_image(scratch)), 0, noise=0.2)
    say("window open; queued a 64x64, 9-frame, 2-step job with one keyframe on the demo model")
    job_id = window.generate()
    if job_id is None:
        say(f"FAIL: the request was refused: {window.last_message}")
        return 2
    ended = await asyncio.wait_for(job_outcome(window.host, job_id), SELF_TEST_TIMEOUT_S)
    say(f"engine: {window.plan_label.text()} (process {window.host.engine_pid})")
    if ended.outcome != "done" or ended.result is None:
        say(f"FAIL: the job ended as {ended.outcome}: {'; '.join(ended.problems)}")
        return 3
    result = ended.result
    previews = window.previews_received.get(job_id, 0)
    say(f"job done in {result.seconds:.1f} s; {previews} step preview(s); video {result.video_path}")
    frames, fps = await asyncio.get_running_loop().run_in_executor(None, read_video, result.video_path)
    say(f"video reads back: {frames.shape[0]} frames of {frames.shape[2]}x{frames.shape[1]} at {fps:g} fps")
    problems = []
    if frames.shape[0] != SETTINGS["frames"]:
        problems.append(f"expected {SETTINGS['frames']} frames, got {frames.shape[0]}")
    if frames.shape[1:3] != (SETTINGS["height"], SETTINGS["width"]):
        problems.append(f"expected {SETTINGS['width']}x{SETTINGS['height']}, got {frames.shape[2]}x{frames.shape[1]}")
    if previews != SETTINGS["steps"]:
        problems.append(f"expected {SETTINGS['steps']} previews, got {previews}")
    if not Path(result.sidecar_path).is_file():
        problems.append(f"no settings sidecar at {result.sidecar_path}")
    if not window.document.project.history:
        problems.append("the history is empty")
    heavy = [m for m in ("torch", "diffsynth") if m in sys.modules]
    if heavy:
        problems.append(f"the window's process imported {', '.join(heavy)}: the engine must run in its own process")
    else:
        say("the window's process never imported torch; the engine ran in its own process")
    for problem in problems:
        say(f"FAIL: {problem}")
    return 4 if problems else 0


def run_self_test() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    say = SelfTestLog()
    with tempfile.TemporaryDirectory(prefix="pusa-self-test-") as scratch:
        os.environ.setdefault("PUSA_STUDIO_HOME", str(Path(scratch) / "home"))
        try:
            import qasync

            from . import __version__
            from .application import create_application
            from .main_window import MainWindow

            say(
                f"Pusa Studio {__version__} self-test; Python {sys.version.split()[0]}; "
                f"home {os.environ['PUSA_STUDIO_HOME']}"
            )
            app = create_application([sys.argv[0]])
            loop = qasync.QEventLoop(app)
            asyncio.set_event_loop(loop)
            window = MainWindow(interactive=False)
            window.show()
            try:
                code = loop.run_until_complete(_run(window, say, Path(scratch)))
            finally:
                window.shutdown()
                window.close()
                loop.close()
        except Exception:  # noqa: BLE001 - the self-test reports every failure as text
            say("FAIL: " + traceback.format_exc())
            code = 1
    say("self-test passed" if code == 0 else f"self-test FAILED (code {code})")
    return code
