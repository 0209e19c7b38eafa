"""The window gives freed native memory back: glibc's calls answer, and the app starts its trimming timer."""

from __future__ import annotations

import ctypes
import sys

import pytest

from pusa_desktop import native_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_trim_returns_freed_pages_to_the_system():
    def rss_kb() -> int:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
        return 0

    native_memory.trim()
    blocks = [ctypes.create_string_buffer(100_000) for _ in range(2000)]  # 200 MB in small heap blocks
    keep = blocks[::50]  # every 50th stays: the heap cannot shrink from its top
    del blocks
    before = rss_kb()
    assert native_memory.trim() is True
    assert rss_kb() < before - 100_000  # over 100 MB of the freed 196 MB handed back
    del keep


def test_the_app_trims_once_a_minute(qapp):
    from pusa_desktop.application import create_application

    sheet, style = qapp.styleSheet(), qapp.style().name()
    try:
        app = create_application(["pusa-studio"])
        timer = getattr(app, "native_memory_timer", None)
        assert timer is not None and timer.isActive() and timer.interval() == native_memory.TRIM_EVERY_MS
    finally:  # the other tests run with the plain style
        qapp.setStyleSheet(sheet)
        qapp.setStyle(style)


def test_arena_limit_is_accepted_on_linux():
    assert native_memory.limit_arenas() is sys.platform.startswith("linux")
