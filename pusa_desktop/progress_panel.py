"""Progress of the running job: phase, step i of N, seconds per step, ETA, and Cancel."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from pusa_engine.events import PhaseProgress, StepProgress


def format_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" where its text is wider than the room it has (the whole text is its
    tooltip), and asks for no more than `widest` pixels, so a long phase message never squeezes the bar."""

    def __init__(self, text: str = "", parent: QWidget | None = None, widest: int = 380) -> None:
        super().__init__(text, parent)
        self.widest = widest

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        self.setToolTip(text if self.fontMetrics().horizontalAdvance(text) > self.width() else "")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().sizeHint()
        return QSize(min(hint.width(), self.widest), hint.height())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.setToolTip(self.text() if self.fontMetrics().horizontalAdvance(self.text()) > self.width() else "")

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())
        painter.drawText(self.contentsRect(), int(self.alignment()), shown)


class ProgressPanel(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("progressPanel")
        self.phase = ElidedLabel("Idle", self, widest=200)
        self.phase.setAccessibleName("Job phase")
        self.phase.setMinimumWidth(110)
        self.bar = QProgressBar(self)
        self.bar.setAccessibleName("Job progress")
        self.bar.setTextVisible(True)
        self.bar.setFormat("")
        self.details = ElidedLabel("", self)
        self.details.setAccessibleName("Step timing")
        self.details.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.details.setMinimumWidth(150)  # narrower windows elide it ("…") rather than overlap Cancel
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
