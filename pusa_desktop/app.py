"""Entry point: `python -m pusa_desktop` or the `pusa-studio` script. Also `--version` and `--self-test`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .application import create_application, setup_logging

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


def run_gui(args: argparse.Namespace) -> int:
    import qasync
    from PySide6.QtCore import QTimer

    from .main_window import MainWindow

    app = create_application(sys.argv)
    setup_logging()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    window.show()

    def first_actions() -> None:  # once the event loop turns, so that dialogs can await
        window.files.sweep_interrupted_writes()
        if window.files.offer_recovery():
            pass
        elif args.project:
            window.open_project(args.project)
        elif window.app_settings.take_first_run() and window.app_settings.engine_config().uses_demo_model:
            window.open_settings()  # first run with no weights: show where the model folder goes

    QTimer.singleShot(0, first_actions)
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
