"""The window's actions as a table (attribute, text, shortcut, handler, tip, icon), where each one sits in the
menus and on the toolbar, and the handlers that are not the window's own (media, settings, engine memory,
output folder, the Help boxes).

`build_actions(window)` makes one QAction per row, sets it on the window under the row's attribute name
(`window.generate_action`, ...), then builds the menu bar and the toolbar from `MENUS` and `TOOLBAR`. A
handler is called with the window when its action is triggered. The window imports this module; this
module never imports the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QToolBar

from pusa_engine.media_types import file_dialog_filter

from . import __version__, paths
from .settings_dialog import SettingsDialog

Keys = QKeySequence.StandardKey
MEDIA_FILTER = file_dialog_filter()  # the engine's one list of media extensions
Window = Any  # the MainWindow (not imported: it imports this module)


def icon(name: str) -> QIcon:
    path = paths.resources_dir() / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


@dataclass(frozen=True)
class ActionSpec:
    name: str  # the window's attribute
    text: str
    shortcut: Keys | str | tuple[str, ...] | None  # a tuple: several shortcuts
    handler: Callable[[Window], object] | None  # None: `make` builds an action that handles itself
    tip: str = ""
    icon: str | None = None
    make: Callable[[Window, str], QAction] | None = None  # the undo stack's own actions


FREE_MEMORY_TIP = (
    "End the engine process: all of its GPU and RAM memory goes back (the next job starts a fresh one)"
)

# In this order in `window.actions()`, so in the shortcut list.
ACTIONS = (
    ActionSpec("new_action", "&New project", Keys.New, lambda w: w.new_project(), "Start an empty project", "new"),
    ActionSpec("open_action", "&Open…", Keys.Open, lambda w: w.open_project_dialog(), "Open a .pusa project", "open"),
    ActionSpec("save_action", "&Save", Keys.Save, lambda w: w.save_project_dialog(), "Save the project", "save"),
    ActionSpec("save_as_action", "Save &As…", Keys.SaveAs, lambda w: w.save_project_dialog(True)),
    ActionSpec(
        "add_media_action", "&Add images or videos…", "Ctrl+I", lambda w: add_media_dialog(w),
        "Add files to the asset bin", "add",
    ),
    ActionSpec(
        "export_mp4_action", "Export &video (MP4, WebM, ProRes)…", "Ctrl+E", lambda w: w.exports.dialog("mp4"),
        "Export the selected result with a codec, quality, frame rate and size of your choice",
    ),
    ActionSpec("export_gif_action", "Export &GIF…", None, lambda w: w.exports.dialog("gif")),
    ActionSpec("export_png_action", "Export &PNG frames…", None, lambda w: w.exports.dialog("png")),
    ActionSpec("quit_action", "&Quit", Keys.Quit, lambda w: w.close()),
    ActionSpec(
        "undo_action", "&Undo", "Ctrl+Z", None, icon="undo",
        make=lambda w, text: w.document.undo_stack.createUndoAction(w, text),
    ),
    ActionSpec(
        "redo_action", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), None, icon="redo",
        make=lambda w, text: w.document.undo_stack.createRedoAction(w, text),
    ),
    ActionSpec("settings_action", "&Settings…", "Ctrl+,", lambda w: w.open_settings(), "Model, output, device"),
    ActionSpec(
        "generate_action", "&Generate", "Ctrl+Return", lambda w: w.generate(),
        "Generate a video (queued when a job runs)", "generate",
    ),
    ActionSpec(
        "cancel_action", "&Cancel job", "Esc", lambda w: w.runner.cancel_running(),
        "Stop the running job within a step", "cancel",
    ),
    ActionSpec("output_folder_action", "Open &output folder", None, lambda w: open_output_folder(w)),
    ActionSpec(
        "library_action", "&Library", "Ctrl+L", lambda w: w.side_tabs.setCurrentWidget(w.library_panel),
        "Every result on this computer, from all projects: search, restore, compare",
    ),
    ActionSpec("welcome_action", "&Welcome page", None, lambda w: w.show_welcome(), "What the demo model is"),
    ActionSpec("free_memory_action", "&Free engine memory", None, lambda w: free_engine_memory(w), FREE_MEMORY_TIP),
    ActionSpec("about_action", "&About Pusa Studio", None, lambda w: show_about(w)),
    ActionSpec("shortcuts_action", "&Keyboard shortcuts", "F1", lambda w: show_shortcuts(w)),
)
EXPORT_ACTIONS = ("export_mp4_action", "export_gif_action", "export_png_action")
SEPARATOR = "-"
RECENT = "recent_menu"  # the Open Recent submenu, filled when it opens
EXPORT_MENU = "export_menu"
MENUS = (
    ("&File", ("new_action", "open_action", "save_action", "save_as_action", RECENT, SEPARATOR,
               "add_media_action", EXPORT_MENU, SEPARATOR, "quit_action")),
    ("&Edit", ("undo_action", "redo_action", SEPARATOR, "settings_action")),
    ("&Job", ("generate_action", "cancel_action", "output_folder_action", "free_memory_action")),
    ("&View", ("library_action", "welcome_action")),
    ("&Help", ("shortcuts_action", "about_action")),
)
GATE = "gate"  # the reason Generate is off, beside it
TOOLBAR = (
    "new_action", "open_action", "save_action", SEPARATOR, "undo_action", "redo_action", SEPARATOR,
    "add_media_action", SEPARATOR, "generate_action", "cancel_action", GATE,
)
ICON_ONLY = ("undo_action", "redo_action")  # their text names the edit: keep the bar steady
MORE_SHORTCUTS = (
    ("Move the focused keyframe one slot", "Left / Right"),
    ("Delete the focused keyframe or clip slot", "Delete"),
    ("Player: play / pause", "Space"),
    ("Player: previous / next frame", ", / . or Left / Right"),
    ("Player: first / last frame", "Home / End"),
    ("Compare A/B: play / pause; previous / next frame", "Space; Left / Right"),
    ("Timeline: cancel a drag or a clip trim", "Esc"),
    ("Queue: run the selected job earlier / later", "Ctrl+Up / Ctrl+Down"),
)


def _make_action(window: Window, spec: ActionSpec) -> QAction:
    action = spec.make(window, spec.text) if spec.make is not None else QAction(spec.text, window)
    if isinstance(spec.shortcut, tuple):
        action.setShortcuts([QKeySequence(s) for s in spec.shortcut])
    elif spec.shortcut:
        action.setShortcut(QKeySequence(spec.shortcut))
    if spec.tip:
        action.setToolTip(spec.tip)
        action.setStatusTip(spec.tip)
    if spec.icon:
        action.setIcon(icon(spec.icon))
    if spec.handler is not None:
        handler = spec.handler
        action.triggered.connect(lambda _checked=False: handler(window))
    window.addAction(action)
    return action


def build_actions(window: Window) -> None:
    """The actions (as window attributes), the menu bar, the History's export menu and the toolbar."""
    for spec in ACTIONS:
        setattr(window, spec.name, _make_action(window, spec))
    _build_menus(window)
    export_button_menu = QMenu(window)
    for name in EXPORT_ACTIONS:
        export_button_menu.addAction(getattr(window, name))
    window.history_panel.export.setMenu(export_button_menu)
    _build_toolbar(window)


def _build_menus(window: Window) -> None:
    for title, entries in MENUS:
        menu = window.menuBar().addMenu(title)
        for entry in entries:
            if entry == SEPARATOR:
                menu.addSeparator()
            elif entry == RECENT:
                window.recent_menu = menu.addMenu("Open &Recent")
                window.recent_menu.aboutToShow.connect(lambda: fill_recent_menu(window))
            elif entry == EXPORT_MENU:
                export_menu = menu.addMenu("&Export result")
                for name in EXPORT_ACTIONS:
                    export_menu.addAction(getattr(window, name))
            else:
                menu.addAction(getattr(window, entry))


def _build_toolbar(window: Window) -> None:
    toolbar = QToolBar("Main", window)
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for entry in TOOLBAR:
        if entry == SEPARATOR:
            toolbar.addSeparator()
        elif entry == GATE:
            toolbar.addWidget(window.gate)
        else:
            toolbar.addAction(getattr(window, entry))
    window.gate.bind_action(window.generate_action)
    window.gate.watch_activation(window)
    for name in ICON_ONLY:
        button = toolbar.widgetForAction(getattr(window, name))
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    window.addToolBar(toolbar)


def fill_recent_menu(window: Window) -> None:
    """Open Recent: the remembered projects that still exist."""
    menu = window.recent_menu
    menu.clear()
    recent = [p for p in window.app_settings.recent_projects if Path(p).is_file()]
    for path in recent:
        action = menu.addAction(Path(path).name)
        action.setToolTip(path)
        action.setData(path)
        action.triggered.connect(lambda _checked=False, action=action: _open_recent(window, action))
    if not recent:
        menu.addAction("No recent projects").setEnabled(False)


def _open_recent(window: Window, action: QAction) -> None:
    if window.files.confirm_discard():
        window.open_project(str(action.data()))


def shortcuts_text(window: Window) -> str:
    rows = [
        (a.text().replace("&", ""), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
        for a in window.actions()
        if not a.shortcut().isEmpty()
    ]
    rows += MORE_SHORTCUTS
    return "\n".join(f"{keys:<24} {what}" for what, keys in rows)


# ----- handlers that are not the window's own ---------------------------------------------------------------
def add_media_dialog(window: Window) -> None:
    files, _ = QFileDialog.getOpenFileNames(window, "Add images or videos", "", MEDIA_FILTER)
    if files:
        window.assets.add_files(files)


def open_settings(window: Window) -> None:
    """The model settings, as a window-modal dialog (`window.settings_dialog`)."""
    dialog = SettingsDialog(window.app_settings, window, engine=window.host)
    dialog.setModal(True)
    dialog.accepted.connect(lambda: _settings_saved(window))
    dialog.open()
    window.settings_dialog = dialog


def _settings_saved(window: Window) -> None:
    window.update_banner()
    window.gate.refresh()
    if not window.host.busy:
        window.host.unload()
    window.show_message("Settings saved; the model loads again with the next job")


def free_engine_memory(window: Window) -> None:
    if window.host.busy:
        window.show_message("Cancel the running job first, or wait for it")
        return
    window.host.free_memory()
    window.plan_label.setText("Engine: stopped (memory given back; the next job starts it)")


def open_output_folder(window: Window) -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(window.app_settings.output_dir)))


def show_shortcuts(window: Window) -> None:
    box = QMessageBox(
        QMessageBox.Icon.NoIcon, "Keyboard shortcuts", shortcuts_text(window), QMessageBox.StandardButton.Close, window
    )
    box.setStyleSheet("QLabel { font-family: monospace; }")
    box.open()


def show_about(window: Window) -> None:
    QMessageBox.about(
        window,
        "About Pusa Studio",
        f"Pusa Studio {__version__}\nPusa V1 video generation (Wan2.1-T2V-14B + Pusa LoRA).",
    )
