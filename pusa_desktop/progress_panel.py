"""Progress of the running job: phase, step i of N, seconds per step, ETA, and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QSizePolicy, QWidget

from pusa_engine.events import PhaseProgress, StepProgress

from .compact_widgets import ElidedLabel


def format_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _row_label(parent: QWidget, text: str, narrowest: int, widest: int) -> ElidedLabel:
    label = ElidedLabel(parent)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
    label.setMinimumWidth(narrowest)
    label.setMaximumWidth(widest)
    label.setText(text)
    return label


class ProgressPanel(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("progressPanel")
        # one-line labels that end in "…" (the whole text in the tooltip) within these widths, so a long phase
        # message neither squeezes the bar nor runs under Cancel in a 1024-pixel window
        self.phase = _row_label(self, "Idle", 110, 200)
        self.phase.setAccessibleName("Job phase")
        self.bar = QProgressBar(self)
        self.bar.setAccessibleName("Job progress")
        self.bar.setTextVisible(True)
        self.bar.setFormat("")
        self.details = _row_label(self, "", 150, 380)
        self.details.setAccessibleName("Step timing")
        self.details.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setAccessibleName("Cancel the running job")
        self.cancel.setToolTip("Stop the running job within a step (Esc)")
        self.cancel.setEnabled(False)
        self.cancel.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.phase)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.cancel)

    def job_started(self, title: str) -> None:
        self.phase.setText("Starting…")
        self.bar.setRange(0, 0)
        self.details.setText(title)
        self.cancel.setEnabled(True)

    def show_phase(self, event: PhaseProgress) -> None:
        self.phase.setText(event.phase.value.capitalize())
        if event.phase.name != "DENOISING":
            if event.total > 0:
                self.bar.setRange(0, event.total)
                self.bar.setValue(event.done)
                self.bar.setFormat(f"{event.done} / {event.total}")
            else:
                self.bar.setRange(0, 0)
            eta = getattr(event, "eta_seconds", None)
            words = [f"ETA {format_seconds(eta)}"] if eta is not None else []
            if event.message:  # e.g. "optimizing the decoder for this size (once)"
                words.append(event.message)
            if words:
                self.details.setText(" · ".join(words))

    def show_step(self, event: StepProgress) -> None:
        self.phase.setText("Denoising")  # the bar says which step
        self.bar.setRange(0, event.total)
        self.bar.setValue(event.step)
        self.bar.setFormat(f"step {event.step} / {event.total}")
        self.details.setText(f"{event.seconds_per_step:.2f} s/step · ETA {format_seconds(event.eta_seconds)}")

    def job_ended(self, text: str, done: bool = False) -> None:
        """The job ended: its outcome stays, its timing goes (no stale s/step or ETA)."""
        self.phase.setText(text)
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if done else 0)
        self.bar.setFormat("")
        self.details.setText("")
        self.cancel.setEnabled(False)
