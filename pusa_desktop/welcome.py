"""The first start: a welcome page in the player's place (not a dialog over the window) that says what the
demo model is, offers "Choose model folder…" and opens a sample project made from resources/samples/."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from . import paths
from .aio import spawn
from .core.model import DEMO_MODEL_SIZE, Project, TimelineKeyframe, snap_frame
from .core.persistence import save_project

SAMPLE_NAME = "Sample - lake at sunset.pusa"
SAMPLE_PROMPT = "a small sailing boat crosses a calm lake at sunset, warm light, gentle waves"
# (sample image, pixel frame, noise): start pinned tightly, the middle and end looser
SAMPLE_KEYFRAMES = (("lake-start.png", 0, 0.2), ("lake-middle.png", 16, 0.4), ("lake-end.png", 32, 0.5))

DEMO_TEXT = (
    "<h2>Welcome to Pusa Studio</h2>"
    "<p>Pusa Studio makes videos with <b>Pusa V1</b>: Wan2.1-T2V-14B plus the Pusa LoRA. Put images on the "
    "timeline as keyframes, write a prompt, press <b>Generate</b>, and watch every denoising step here.</p>"
    "<p><b>No model folder is set, so the built-in demo model is in use.</b> It is a tiny model with "
    "<i>random weights</i> in the official Wan2.1 file layout: every feature works with it, on a CPU, in "
    "seconds, but <b>its videos are noise</b> because it was never trained. For real videos download the "
    "Wan2.1-T2V-14B folder and <tt>pusa_v1.pt</tt> (about 70 GB; the README's “Using the real model” lists "
    "the files) and choose the folder here or in Edit &gt; Settings.</p>"
)


def sample_project(samples: Path | None = None) -> Project:
    """The sample: three lake pictures as start, middle and end keyframes, at a size the demo model runs
    in seconds."""
    samples = samples or paths.resources_dir() / "samples"
    project = Project()
    project.settings = replace(project.settings, prompt=SAMPLE_PROMPT, seed=2026, **DEMO_MODEL_SIZE)
    frames = DEMO_MODEL_SIZE["frames"]
    project.timeline.keyframes = [
        TimelineKeyframe(str(samples / name), snap_frame(frame, frames), noise)
        for name, frame, noise in SAMPLE_KEYFRAMES
    ]
    return project


def write_sample_project(folder: Path | None = None) -> Path:
    """Save the sample project into the projects folder (written again each time: it is never edited in
    place, a user's changes go to a file they save themselves)."""
    target = (folder or paths.default_projects_dir()) / SAMPLE_NAME
    missing = save_project(sample_project(), target)
    if missing:
        raise FileNotFoundError(f"the sample images are missing: {', '.join(missing)}")
    return target


class WelcomePane(QScrollArea):
    """`choose_model_folder`, `open_sample` and `dismissed` say what the user picked."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomePane")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget(self)
        body.setObjectName("welcomeBody")
        body.setStyleSheet("#welcomeBody { background: #15171b; } QLabel { background: transparent; }")
        self.text = QLabel(DEMO_TEXT, body)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setMaximumWidth(720)
        self.text.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.choose_folder = QPushButton("Choose model folder…", body)
        self.choose_folder.setAccessibleName("Choose the Wan2.1 model folder")
        self.choose_folder.setStyleSheet("QPushButton { background: #3b82f6; color: white; font-weight: bold; }")
        self.open_sample = QPushButton("Open the sample project", body)
        self.open_sample.setToolTip("Three lake pictures as start, middle and end keyframes, ready to generate")
        self.open_sample.setAccessibleName("Open the sample project")
        self.start_empty = QPushButton("Start with an empty project", body)
        self.start_empty.setAccessibleName("Close the welcome page")
        buttons = QHBoxLayout()
        for button in (self.choose_folder, self.open_sample, self.start_empty):
            buttons.addWidget(button)
        buttons.addStretch(1)
        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(self.text)
        column.addSpacing(6)
        column.addLayout(buttons)
        column.addStretch(1)
        outer = QHBoxLayout(body)
        outer.setContentsMargins(24, 12, 24, 12)
        outer.addStretch(1)
        outer.addLayout(column, 8)
        outer.addStretch(1)
        self.setWidget(body)
        self.start_empty.clicked.connect(self.dismissed)


def install_welcome(window: Any) -> WelcomePane:
    """Add the welcome page to the window's centre and wire its buttons (`window.show_welcome()` shows it)."""
    pane = WelcomePane(window)
    window.centre_pages.add_page("welcome", pane)
    pane.dismissed.connect(lambda: window.centre_pages.show_player())
    pane.choose_folder.clicked.connect(lambda: choose_model_folder(window))
    pane.open_sample.clicked.connect(lambda: open_sample_project(window))
    window.runner.job_started.connect(lambda _job: window.centre_pages.show_player(asked_by_user=False))
    window.document.project_replaced.connect(lambda: window.centre_pages.show_player(asked_by_user=False))
    return pane


def choose_model_folder(window: Any, folder: str | None = None) -> None:
    """Pick the model folder, then the Settings dialog checks it (and the LoRA) before anything is saved."""
    if folder is None:
        folder = QFileDialog.getExistingDirectory(window, "Choose the Wan2.1-T2V-14B model folder", str(Path.home()))
    if not folder:
        return
    window.open_settings()
    dialog = window.settings_dialog
    dialog.model_dir.setText(folder)
    lora = Path(folder).parent / "pusa_v1.pt"
    if not dialog.lora_path.text() and lora.is_file():
        dialog.lora_path.setText(str(lora))
    spawn(dialog.check_model_files())


def open_sample_project(window: Any) -> bool:
    """Write the sample project and open it (asking first when the current one has unsaved changes)."""
    if not window.files.confirm_discard():
        return False
    try:
        path = write_sample_project()
    except OSError as error:
        window.show_message(f"Cannot make the sample project: {error}")
        return False
    opened = window.open_project(path, remember_path=False)
    if opened:
        window.centre_pages.show_player()
        window.show_message("The sample project is open: press Generate (Ctrl+Enter) to make its video")
    return opened
