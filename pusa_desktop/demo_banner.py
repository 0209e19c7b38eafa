"""The banner over the window while the demo model (random weights) is in use."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QWidget

from .compact_widgets import ElidedLabel


class DemoBanner(QFrame):
    """Says clearly that the demo model (random weights) is in use, with a way to the model settings. One
    compact line, so that the player keeps the room at 1280x720; a narrower window elides the sentence (the
    whole of it is the tooltip)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("demoBanner")
        self.label = ElidedLabel(self)
        self.label.setText(
            "No model folder is set: Pusa Studio uses its tiny built-in demo model, so videos are noise. "
            "Set the Wan2.1 model folder and the Pusa LoRA to make real videos."
        )
        self.button = QPushButton("Model settings…", self)
        self.button.setAccessibleName("Open the model settings")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 1, 2, 1)
        layout.setSpacing(8)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
