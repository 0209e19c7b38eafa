"""Entry script of the frozen Pusa Studio (PyInstaller needs a plain script, not `python -m`).

Same behaviour as `python -m pusa_desktop`: `--version`, `--self-test`, or the window. With
`--engine-process` first, the same executable is the window's engine process instead
(pusa_engine/jobs/process.py starts it that way), so the installer needs no second program.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # no-op unless a library starts a spawn child (Windows)
    if len(sys.argv) > 1 and sys.argv[1] == "--engine-process":
        from pusa_engine.jobs.process import main as engine_main

        sys.exit(engine_main(sys.argv[2:]))
    from pusa_desktop.app import main

    sys.exit(main())
