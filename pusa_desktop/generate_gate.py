"""Beside the Generate button: why it is disabled, while the request or the model files would fail a job.

`GenerateGate` watches the document, the clips read so far and the model files (`readiness.py`), shows the
first reason in a label (all of them in its tooltip) and says `ready_changed(ready, reason)` whenever the
answer changes; the window enables its Generate action from it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from .app_settings import EngineConfig
from .clip_frames import ClipFrameCache
from .core.readiness import MODEL_READY, ModelFilesCheck, ModelStatus, blocker_summary, generate_blockers
from .document import ProjectDocument

MIN_WIDTH = 160


class GenerateGate(QWidget):
    """A label with the reason Generate is off (empty while it is on); `ready` and `reason` for the window.

    In a tool bar it stays put (a tool bar hides widgets through their action only): an empty label is blank."""

    ready_changed = Signal(bool, str)  # ready, the reason it is not ("" when ready)
    _model_checked = Signal()  # from the model-check thread

    def __init__(
        self,
        document: ProjectDocument,
        config: Callable[[], EngineConfig],
        clips: ClipFrameCache,
        model_check: ModelFilesCheck,
        parent: QWidget | None = None,
    ) -> None:
        """`config` gives the engine setup the next job will use; `model_check` checks its files (the window
        passes `ModelFilesCheck(engine_file_check(host))`: the engine reads the headers, in its own process)."""
        super().__init__(parent)
        self.setObjectName("generateGate")
        self._document = document
        self._config = config
        self._clips = clips
        self._model_check = model_check
        self.blockers: list[str] = []
        self._ready: bool | None = None
        self._reason = ""
        self.label = QLabel(self)
        self.label.setObjectName("generateBlocker")
        self.label.setAccessibleName("Why Generate is disabled")
        self.label.setStyleSheet("QLabel#generateBlocker { color: #e8a33d; }")
        self.label.setMinimumWidth(1)  # the text is elided to whatever width the tool bar leaves
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._text = ""
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.label)
        document.timeline_changed.connect(self.refresh)
        document.settings_changed.connect(self.refresh)
        clips.ready.connect(self._clip_read)  # bound slots: disconnected when the gate goes
        clips.failed.connect(self._clip_failed)
        self._model_checked.connect(self.refresh)
        self.refresh()

    @property
    def ready(self) -> bool:
        return not self.blockers

    @property
    def reason(self) -> str:
        """The first reason Generate is off, with how many more there are; "" when it is on."""
        return self._reason

    def model_status(self) -> ModelStatus:
        config = self._config()
        if config.uses_demo_model:  # the engine writes the demo model itself
            return MODEL_READY
        return self._model_check.status(config.model_dir, config.lora_file, self._emit_model_checked)

    def _clip_read(self, _path: str) -> None:
        self.refresh()

    def _clip_failed(self, _path: str, _why: str) -> None:
        self.refresh()

    def _emit_model_checked(self) -> None:
        try:
            self._model_checked.emit()
        except RuntimeError:  # the window closed while the files were checked
            pass

    def refresh(self) -> None:
        """Check again (cheap: every result that needs reading a file is cached) and show the answer."""
        self.blockers = generate_blockers(
            self._document.settings,
            self._document.timeline,
            self.model_status(),
            self._clips.length,
            self._clips.error,
        )
        reason = blocker_summary(self.blockers)
        self._text = f"⚠ {reason}" if reason else ""  # beside the greyed Generate button
        self._elide()
        tip = "Generate is off until this is fixed:\n" + "\n".join(f"• {b}" for b in self.blockers)
        self.label.setToolTip(tip if self.blockers else "")
        self.label.setAccessibleDescription(f"Cannot generate: {reason}" if reason else "")
        if self.ready != self._ready or reason != self._reason:
            self._ready, self._reason = self.ready, reason
            self.ready_changed.emit(self.ready, reason)

    @property
    def text(self) -> str:
        """What the label says, before it is elided to fit."""
        return self._text

    def _elide(self) -> None:
        width = max(40, self.label.width())
        self.label.setText(self.label.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, width))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Small, so that in a tool bar the gate takes the room left over instead of pushing buttons out."""
        return QSize(MIN_WIDTH, super().sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def bind_action(self, action: QAction) -> None:
        """Keep `action` (the window's Generate) enabled only while ready; its tooltip says why not."""
        tip = action.toolTip()

        def follow(ready: bool, reason: str) -> None:
            action.setEnabled(ready)
            action.setToolTip(tip if ready else f"Cannot generate: {reason}")

        self.ready_changed.connect(follow)
        follow(self.ready, self.reason)

    def watch_activation(self, window: QObject) -> None:
        """Check again when the window comes back to the front: files may have changed meanwhile."""
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.ActivationChange and watched.isWidgetType() and watched.isActiveWindow():
            self.refresh()
        return False
