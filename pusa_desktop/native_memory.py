"""Native memory a long session frees but glibc keeps: handed back to the system once a minute.

Python's own objects stay bounded over hours of work (the soak's allocation report levels off at about 25 MB
once the undo history and the caches are full), yet the window's heap kept growing about 1 MB a minute: Qt's
images, decoded frames and thread-pool work are freed into glibc's per-thread arenas, which fragment and are
rarely returned. Two glibc calls fix that: fewer arenas (`mallopt(M_ARENA_MAX, 2)`, set before the window
exists) and `malloc_trim(0)`, which gives free pages in the middle of the heaps back with `madvise`. Elsewhere
(macOS, Windows, musl) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache

M_ARENA_MAX = -8  # glibc's mallopt parameter number
TRIM_EVERY_MS = 60_000


@cache
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas(count: int = 2) -> bool:
    """Fewer malloc arenas for the threads to come (True when glibc took the setting)."""
    libc = _libc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Give the heaps' free pages back to the system (True when glibc released any)."""
    libc = _libc()
    return bool(libc and libc.malloc_trim(0))


def start_trimming(parent) -> object:
    """A timer, owned by `parent`, that trims once a minute while the event loop runs."""
    from PySide6.QtCore import QTimer

    timer = QTimer(parent)
    timer.setInterval(TRIM_EVERY_MS)
    timer.timeout.connect(trim)
    timer.start()
    return timer
