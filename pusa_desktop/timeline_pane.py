"""The timeline pane: the bar for the selected card and the zoom controls above the timeline, which scrolls
sideways when zoomed in.

Zoom goes from "the whole video fits" to 40 pixels per frame (a slot 160 pixels wide): Ctrl+wheel zooms
around the mouse, the slider and the -/+ buttons around the middle, Fit shows the whole video again. The wheel
without Ctrl scrolls sideways; a card or file dragged to an edge scrolls the timeline along.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSlider, QToolButton, QVBoxLayout, QWidget

from .clip_frames import ClipFrameCache
from .core.timeline_geometry import (
    WHEEL_ZOOM,
    ZOOM_STEPS,
    canvas_width,
    clamp_zoom,
    max_zoom,
    scroll_keeping,
    slider_of_zoom,
    zoom_of_slider,
)
from .document import ProjectDocument
from .timeline import TimelineWidget
from .timeline_inspector import CardInspector

EDGE = 60  # pixels kept in view beside a dragged card


class TimelinePane(QWidget):
    """The timeline in a sideways scroll area, with the card bar and the zoom controls above it."""

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None,
                 clips: ClipFrameCache | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timelinePane")
        self.document = document
        self.zoom = 1.0
        self.scroll = QScrollArea(self)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidgetResizable(False)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # its room is kept
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.timeline = TimelineWidget(document, None, clips)
        self.scroll.setWidget(self.timeline)
        self.timeline.reveal = self.reveal
        self.timeline.zoom_requested.connect(self.zoom_at)
        self.timeline.scroll_requested.connect(lambda pixels: self.hbar.setValue(self.hbar.value() + pixels))
        self.inspector = CardInspector(self.timeline, self)

        self.zoom_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.zoom_slider.setRange(0, ZOOM_STEPS)
        self.zoom_slider.setFixedWidth(120)
        self.zoom_slider.setAccessibleName("Timeline zoom")
        self.zoom_slider.setToolTip("Zoom the timeline (Ctrl+wheel over it zooms around the mouse)")
        self.zoom_slider.valueChanged.connect(self._slider_moved)
        self.zoom_out = self._button("−", "Zoom out", lambda: self.zoom_at(1 / WHEEL_ZOOM, None))
        self.zoom_in = self._button("+", "Zoom in", lambda: self.zoom_at(WHEEL_ZOOM, None))
        self.fit = self._button("Fit", "Show the whole video", lambda: self.set_zoom(1.0))
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(4)
        bar.addWidget(self.inspector, 1)
        bar.addWidget(QLabel("Zoom", self))
        for widget in (self.zoom_out, self.zoom_slider, self.zoom_in, self.fit):
            bar.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.scroll)
        self.scroll.viewport().installEventFilter(self)
        document.timeline_changed.connect(self._fit_height)
        document.settings_changed.connect(lambda: self.set_zoom(self.zoom))  # more frames: a new zoom range
        self._fit_height()

    def _button(self, text: str, tip: str, action) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.clicked.connect(action)
        return button

    @property
    def hbar(self):
        return self.scroll.horizontalScrollBar()

    def _viewport_width(self) -> int:
        return max(1, self.scroll.viewport().width())

    def _fit_height(self) -> None:
        height = self.timeline.height() + self.hbar.sizeHint().height()
        if self.scroll.height() != height:
            self.scroll.setFixedHeight(height)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.scroll.viewport() and event.type() == QEvent.Type.Resize:
            self.set_zoom(self.zoom)
        return super().eventFilter(watched, event)

    # ----- zoom --------------------------------------------------------------------------------------------
    def max_zoom(self) -> float:
        return max_zoom(self._viewport_width(), self.document.settings.frames)

    def set_zoom(self, zoom: float, anchor: float | None = None) -> None:
        """Zoom to `zoom` (1 = fit) keeping the frame at `anchor` (pixels from the viewport's left; None: the
        middle) where it is."""
        viewport = self._viewport_width()
        anchor = viewport / 2 if anchor is None else anchor
        frame = self.timeline.grid.frame_position(self.hbar.value() + anchor)
        self.zoom = clamp_zoom(zoom, self.max_zoom())
        width = max(viewport, canvas_width(viewport, self.zoom))
        if self.timeline.width() != width:
            self.timeline.resize(width, self.timeline.height())
        self.hbar.setValue(scroll_keeping(frame, anchor, self.timeline.grid, viewport))
        self.zoom_slider.blockSignals(True)
        self.zoom_slider.setValue(slider_of_zoom(self.zoom, self.max_zoom()))
        self.zoom_slider.blockSignals(False)
        self.zoom_slider.setEnabled(self.max_zoom() > 1)

    def zoom_at(self, factor: float, x: float | None) -> None:
        """Zoom by `factor` around the timeline's `x` (Ctrl+wheel) or the middle (None)."""
        anchor = None if x is None else x - self.hbar.value()
        self.set_zoom(self.zoom * factor, anchor)

    def _slider_moved(self, position: int) -> None:
        self.set_zoom(zoom_of_slider(position, self.max_zoom()))

    def reveal(self, x: float) -> None:
        """Scroll so that the timeline's `x` is in view (a card or file dragged to an edge)."""
        self.scroll.ensureVisible(round(x), self.timeline.height() // 2, EDGE, 0)
