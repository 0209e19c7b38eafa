"""Entry point: `python -m pusa_desktop` or the `pusa-studio` script. Also `--version` and `--self-test`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import __version__
from .application import create_application, quiet_qt_logging, setup_logging

log = logging.getLogger("pusa_desktop")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pusa-studio", description="Pusa Studio: Pusa V1 video generation")
    parser.add_argument("project", nargs="?", help="a .pusa project to open")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window offscreen, make a short video with the demo model, and exit",
    )
    return parser.parse_args(argv)


NO_DISPLAY = (
    "Pusa Studio needs a display{why}: start it from your desktop session, over `ssh -X`, or under "
    "`xvfb-run -a pusa-studio`; `pusa-studio --self-test` and the command line (`.venv/bin/pusa-engine`) need none."
)


def display_problem(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> str | None:
    """One line saying why the window cannot open on this Linux session (no X11 or Wayland display to
    reach), instead of Qt's plugin error; None when there is one, or a platform is chosen explicitly."""
    if not platform.startswith("linux") or environ.get("QT_QPA_PLATFORM"):
        return None
    wayland, display = environ.get("WAYLAND_DISPLAY", ""), environ.get("DISPLAY", "")
    if wayland:
        return None
    if not display:
        return NO_DISPLAY.format(why=" and none is set (DISPLAY and WAYLAND_DISPLAY are empty)")
    host, _, number = display.rpartition(":")
    number = number.split(".")[0]
    if host in ("", "unix") and number.isdigit() and not Path(f"/tmp/.X11-unix/X{number}").exists():
        return NO_DISPLAY.format(why=f", but the display {display} is not running")
    return None


def first_actions(window, project: str | None) -> None:
    """What the window does once it shows: recover a crashed session's work, open the project given, or on
    the first start without weights show the welcome page (what the demo model is, where the weights go)."""
    window.files.sweep_interrupted_writes()
    if window.files.offer_recovery():
        pass
    elif project:
        window.open_project(project)
    elif window.app_settings.take_first_run() and window.app_settings.engine_config().uses_demo_model:
        window.show_welcome()


def run_gui(args: argparse.Namespace) -> int:
    import qasync
    from PySide6.QtCore import QTimer

    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    quiet_qt_logging()
    from .main_window import MainWindow

    app = create_application(sys.argv)
    setup_logging()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    window.show()

    QTimer.singleShot(0, lambda: first_actions(window, args.project))  # once the loop turns: dialogs can await
    QTimer.singleShot(800, window.host.warm_up)  # once the window is drawn
    app_closed = asyncio.Event()
    app.aboutToQuit.connect(app_closed.set)
    with loop:
        loop.run_until_complete(app_closed.wait())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        print(f"Pusa Studio {__version__}")
        return 0
    if args.self_test:
        from .self_test import run_self_test

        return run_self_test()
    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
