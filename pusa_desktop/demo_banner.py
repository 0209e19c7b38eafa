"""The banner over the window while the demo model (random weights) is in use."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class DemoBanner(QFrame):
    """Says clearly that the demo model (random weights) is in use, with a way to the model settings."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("demoBanner")
        self.label = QLabel(
            "No model folder is set: Pusa Studio uses its tiny built-in demo model, so videos are noise. "
            "Set the Wan2.1 model folder and the Pusa LoRA to make real videos.",
            self,
        )
        self.label.setWordWrap(True)
        self.button = QPushButton("Model settings…", self)
        self.button.setAccessibleName("Open the model settings")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
