"""Entry script of the frozen Pusa Studio (PyInstaller needs a plain script, not `python -m`).

Same behaviour as `python -m pusa_desktop`: `--version`, `--self-test`, or the window.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # no-op unless a library starts a spawn child (Windows)
    from pusa_desktop.app import main

    sys.exit(main())
