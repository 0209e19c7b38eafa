"""Where the built-in demo model lives: one folder for the command line and the desktop app alike.

$PUSA_STUDIO_HOME/cache/demo-model when that variable is set, else the user's cache folder. Pure Python.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "PUSA_STUDIO_HOME"


def default_demo_dir() -> Path:
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "cache" / "demo-model"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pusa-studio" / "demo-model"
