"""Puts the Library into the window: its tab beside the History, the A/B comparison in the player's place,
and what their buttons do (play in the player, restore into the editor, compare)."""

from __future__ import annotations

from typing import Any

from pusa_engine.request import GenerationRequest

from . import paths
from .aio import spawn
from .compare_view import CompareView
from .library import Library
from .library_media import FrameLoader
from .library_panel import LibraryPanel

Window = Any  # the MainWindow (not imported: it imports this module)


def install_library(window: Window) -> LibraryPanel:
    """Make `window.library`, `window.library_panel` (a side tab) and `window.compare_view` (a centre page)."""
    loader = FrameLoader(paths.cache_dir() / "library-thumbnails", window)
    window.library_frames = loader
    window.library = Library(window.app_settings, window.document, window)
    panel = LibraryPanel(window.library, loader, window)
    window.library_panel = panel
    window.side_tabs.addTab(panel, "Library")
    window.side_tabs.setTabToolTip(window.side_tabs.indexOf(panel), "Every result on this computer, all projects")
    window.compare_view = CompareView(loader, window)
    window.centre_pages.add_page("compare", window.compare_view)
    window.compare_view.closed.connect(lambda: window.centre_pages.show_player())
    panel.show_requested.connect(lambda video: window.jobs.show_result(video))
    panel.restore_requested.connect(lambda video: restore_from_library(window, video))
    panel.compare_requested.connect(lambda a, b: compare_results(window, a, b))
    panel.selection_changed.connect(lambda: window._update_actions() if hasattr(window, "cancel_action") else None)
    window.library.message.connect(lambda text: window.show_message(text))
    window.side_tabs.currentChanged.connect(lambda _index: _tab_changed(window))
    return panel


def _tab_changed(window: Window) -> None:
    if hasattr(window, "cancel_action"):
        window._update_actions()
    if window.side_tabs.currentWidget() is window.library_panel:
        if window.library.load_note:
            window.show_message(window.library.load_note)
            window.library.load_note = None
        spawn(window.library.refresh())  # new files in the output folders, files that are gone


def restore_from_library(window: Window, video: str) -> bool:
    entry = window.library.entry(video)
    if entry is None:
        window.show_message(f"{video} is no longer in the library")
        return False
    window.jobs.restore_request(GenerationRequest.from_dict(entry.request), entry.title)
    return True


def compare_results(window: Window, a: str, b: str) -> bool:
    first, second = window.library.entry(a), window.library.entry(b)
    if first is None or second is None:
        window.show_message("Select two results that are still in the library")
        return False
    window.compare_view.compare(first, second)
    window.centre_pages.show_page("compare")
    return True


def shutdown_library(window: Window) -> None:
    window.compare_view.pause()
    window.library_frames.shutdown()
    window.library.flush()
