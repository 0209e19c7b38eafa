"""A/B compare: two results side by side, played in step by one clock, with the settings they differ in.

Both videos are decoded (scaled to fit the view) on a worker thread, then shown from memory: at every tick
each side shows its frame for the same moment, so two videos of the same frame rate show the same frame
index at all times, and videos of other lengths or rates stay in step by time. With the focus anywhere in the
view (but its "Back" button), Space plays or pauses both and Left/Right (or , and .) step both a frame.
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .compact_widgets import ElidedLabel
from .core.library_index import LibraryEntry
from .core.result_settings import differences, request_rows
from .images import frame_to_qimage
from .library_media import Decoded, FrameLoader
from .player_canvas import FrameCanvas

TICK_MS = 15
STEP_KEYS = {Qt.Key.Key_Left: -1, Qt.Key.Key_Comma: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Period: 1}


def compared_rows(entry: LibraryEntry) -> list[tuple[str, str]]:
    """What counts as a setting for the comparison: the request and the model (not where or when)."""
    return [*request_rows(entry.request), ("Model", entry.model)]


def frame_at(decoded: Decoded, seconds: float) -> int:
    return max(0, min(len(decoded.frames) - 1, int(seconds * decoded.fps + 1e-6)))


class CompareView(QWidget):
    """`closed` when the user goes back to the player."""

    closed = Signal()

    def __init__(self, loader: FrameLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a click on the videos gives it the keys
        self._loader = loader
        loader.loaded.connect(self._loaded)
        self.entries: tuple[LibraryEntry, LibraryEntry] | None = None
        self.decoded: dict[str, Decoded | None] = {}
        self.position = 0.0  # seconds
        self.shown: tuple[int, int] = (-1, -1)  # the frame index each side shows
        self.titles = (ElidedLabel(self), ElidedLabel(self))
        self.canvases = (FrameCanvas(self), FrameCanvas(self))
        for side, (title, canvas) in zip("AB", zip(self.titles, self.canvases, strict=True), strict=True):
            title.setObjectName(f"compareTitle{side}")
            canvas.setMinimumSize(240, 135)
            canvas.placeholder = "Decoding…"
        self.close_button = QPushButton("Back to the player", self)
        self.close_button.setToolTip("Close the comparison; the player shows again")
        self.close_button.clicked.connect(self.close_compare)
        self.play_button = QPushButton("Play", self)
        self.play_button.setAccessibleName("Play or pause both")
        self.play_button.clicked.connect(self.toggle_play)
        self.scrub = QSlider(Qt.Orientation.Horizontal, self)
        self.scrub.setAccessibleName("Scrub both videos")
        self.scrub.valueChanged.connect(lambda ms: self.seek(ms / 1000))
        self.time_label = QLabel("0.00 / 0.00 s", self)
        self.time_label.setMinimumWidth(self.time_label.fontMetrics().horizontalAdvance("00.00 / 00.00 s") + 8)
        self.loop_box = QCheckBox("Loop", self)
        self.loop_box.setChecked(True)
        self.differences = QTableWidget(0, 3, self)
        self.differences.setAccessibleName("Settings that differ")
        self.differences.setHorizontalHeaderLabels(["Setting", "A", "B"])
        self.differences.verticalHeader().setVisible(False)
        self.differences.setWordWrap(True)
        self.differences.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.differences.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.sectionResized.connect(lambda *_: self.differences.resizeRowsToContents())
        self.same_label = QLabel("", self)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self._build()
        for widget in (self.play_button, self.scrub, self.loop_box, self.differences):
            widget.installEventFilter(self)  # their own Space / arrows would not reach the view

    def _build(self) -> None:
        sides = QHBoxLayout()
        for title, canvas in zip(self.titles, self.canvases, strict=True):
            column = QVBoxLayout()
            column.setSpacing(2)
            column.addWidget(title)
            column.addWidget(canvas, 1)
            sides.addLayout(column, 1)
        transport = QHBoxLayout()
        transport.addWidget(self.play_button)
        transport.addWidget(self.scrub, 1)
        transport.addWidget(self.time_label)
        transport.addWidget(self.loop_box)
        transport.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(3)
        layout.addLayout(sides, 1)
        layout.addLayout(transport)
        layout.addWidget(self.same_label)
        layout.addWidget(self.differences)

    # ----- what is compared ----------------------------------------------------------------------------
    def compare(self, a: LibraryEntry, b: LibraryEntry) -> None:
        self.pause()
        self.entries = (a, b)
        self.decoded = {}
        self.position, self.shown = 0.0, (-1, -1)
        for side, entry, title, canvas in zip("AB", (a, b), self.titles, self.canvases, strict=True):
            title.setText(f"{side}: {entry.title} ({entry.summary})")
            title.setToolTip(f"{entry.prompt}\n{entry.video}")
            canvas.image, canvas.caption = None, ""
            canvas.placeholder = "Decoding…"
            canvas.update()
            self._loader.frames(entry.video, f"compare:{side}:{entry.video}")
        rows = differences(compared_rows(a), compared_rows(b))
        self.differences.setRowCount(len(rows))
        for row, texts in enumerate(rows):
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.differences.setItem(row, column, item)
        self.differences.resizeRowsToContents()
        self.differences.setVisible(bool(rows))
        self._fit_differences()
        plural = "s" if len(rows) != 1 else ""
        same = "A/B: the settings are the same"
        self.same_label.setText(f"A/B: {len(rows)} setting{plural} differ" if rows else same)
        self._update_controls()

    def differing(self) -> list[tuple[str, str, str]]:
        table = self.differences
        return [(table.item(r, 0).text(), table.item(r, 1).text(), table.item(r, 2).text())
                for r in range(table.rowCount())]

    def _loaded(self, key: str, value: object) -> None:
        kind, _, rest = key.partition(":")
        side, _, video = rest.partition(":")
        if kind != "compare" or self.entries is None:
            return
        entry = self.entries[0 if side == "A" else 1]
        if entry.video != video:
            return
        self.decoded[side] = value if isinstance(value, Decoded) else None
        if value is None:
            canvas = self.canvases[0 if side == "A" else 1]
            canvas.placeholder = f"{video} cannot be read"
            canvas.update()
        if self.ready:
            self.scrub.blockSignals(True)
            self.scrub.setRange(0, max(0, round(self.duration * 1000) - 1))
            self.scrub.blockSignals(False)
            self.seek(0.0)
            self.play()

    @property
    def ready(self) -> bool:
        return len(self.decoded) == 2 and all(self.decoded.values())

    @property
    def duration(self) -> float:
        return max((d.seconds for d in self.decoded.values() if d is not None), default=0.0)

    # ----- playing both --------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def play(self) -> None:
        if self.ready and not self.playing:
            if self.position >= self.duration - 1e-6:
                self.position = 0.0
            self._clock.start()
            self._timer.start()
        self._update_controls()

    def pause(self) -> None:
        self._timer.stop()
        self._update_controls()

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def step(self, frames: int) -> None:
        """Pause and show both `frames` frames later (earlier when negative), in the faster video's frames."""
        if not self.ready:
            return
        self.pause()
        fps = max(d.fps for d in self.decoded.values() if d is not None)
        self.seek(max(0, int(self.position * fps + 1e-6) + frames) / fps)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if not self._key(event):
            super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) and self._key(event):
            return True
        return super().eventFilter(watched, event)

    def _key(self, event: QKeyEvent) -> bool:
        """Space plays or pauses both, Left/Right (, and .) step a frame; False for any other key."""
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        if event.key() == Qt.Key.Key_Space:
            self.toggle_play()
        elif event.key() in STEP_KEYS:
            self.step(STEP_KEYS[event.key()])
        else:
            return False
        event.accept()
        return True

    def seek(self, seconds: float) -> None:
        """Show both videos at `seconds` (playing goes on from there)."""
        if not self.ready:
            return
        self.position = max(0.0, min(self.duration, seconds))
        self._clock.restart()
        self._show()

    def _tick(self) -> None:
        position = self.position + self._clock.restart() / 1000
        if position >= self.duration:
            if not self.loop_box.isChecked():
                self.position = self.duration
                self._show()
                self.pause()
                return
            position %= max(self.duration, 1e-6)
        self.position = position
        self._show()

    def _show(self) -> None:
        a, b = self.decoded.get("A"), self.decoded.get("B")
        if a is None or b is None:
            return
        indices = (frame_at(a, self.position), frame_at(b, self.position))
        for decoded, index, old, canvas in zip((a, b), indices, self.shown, self.canvases, strict=True):
            if index != old:
                canvas.image = frame_to_qimage(decoded.frames[index])
                canvas.caption = f"frame {index + 1} / {len(decoded.frames)}"
                canvas.update()
        self.shown = indices
        self.scrub.blockSignals(True)
        self.scrub.setValue(round(self.position * 1000))
        self.scrub.blockSignals(False)
        self.time_label.setText(f"{self.position:.2f} / {self.duration:.2f} s")

    def _update_controls(self) -> None:
        self.play_button.setText("Pause" if self.playing else "Play")
        self.play_button.setEnabled(self.ready)
        self.scrub.setEnabled(self.ready)

    def close_compare(self) -> None:
        self.pause()
        self.closed.emit()

    def _fit_differences(self) -> None:
        """As tall as its rows, at most 30 % of the view (then it scrolls)."""
        table = self.differences
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        wanted = table.horizontalHeader().height() + rows + 2 * table.frameWidth() + 2
        table.setFixedHeight(min(wanted, max(90, int(self.height() * 0.3))))

    def resizeEvent(self, event) -> None:  # noqa: N802
        self._fit_differences()
        super().resizeEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.setFocus(Qt.FocusReason.OtherFocusReason)  # opened: Space plays and pauses at once

    def hideEvent(self, event) -> None:  # noqa: N802
        self.pause()
        super().hideEvent(event)
