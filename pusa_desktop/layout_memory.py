"""The window's geometry and the sizes of its panels, saved when it closes and put back when it opens."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QSplitter

Window = Any  # the MainWindow (not imported: it imports this module)


def _splitters(window: Window) -> dict[str, QSplitter]:
    """Every splitter the user can drag, by the name its state is saved under."""
    found = {"top_split": window.top_split}
    if isinstance(getattr(window, "root_split", None), QSplitter):
        found["root_split"] = window.root_split
    for name, owner in (("history_split", "history_panel"), ("library_split", "library_panel")):
        split = getattr(getattr(window, owner, None), "split", None)
        if isinstance(split, QSplitter):
            found[name] = split
    return found


def restore_layout(window: Window) -> bool:
    """Put back the saved geometry and panel sizes; False when none were saved (the first start)."""
    settings = window.app_settings
    geometry = settings.layout_state("geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    for name, split in _splitters(window).items():
        state = settings.layout_state(name)
        if state is not None:
            split.restoreState(state)
            split.setProperty("userSized", True)  # library_panel.USER_SIZED: the user's sizes, not the defaults
    return geometry is not None


def save_layout(window: Window) -> None:
    settings = window.app_settings
    settings.set_layout_state("geometry", window.saveGeometry())
    for name, split in _splitters(window).items():
        settings.set_layout_state(name, split.saveState())
