"""The parameter panel: prompt, negative prompt, size, frames, steps, LoRA alpha, CFG, seed, fps, mode."""

from __future__ import annotations

import random
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QRegularExpressionValidator, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pusa_engine.request import CFG_RANGE, FPS_RANGE, LORA_ALPHA_RANGE, MAX_SEED, STEPS_RANGE

from .compact_widgets import ElidedLabel, GrowingTextEdit
from .core.model import RESOLUTIONS, Mode
from .core.modes import mode_status
from .document import ProjectDocument

CUSTOM = "Custom"
PROMPT_LINES = (2, 7)  # at rest: the fewest (1280x720), the most where the panel has the room (1920x1080)
NEGATIVE_LINES = (1, 4)


class ModeBox(QComboBox):
    """The mode box: a mode is applied when it is chosen from the list, so the wheel (scrolling the panel) and
    the arrow keys (stepping through modes) never apply one by the way; the arrows open the list instead."""

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        event.ignore()  # the panel scrolls

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown,
                           Qt.Key.Key_Home, Qt.Key.Key_End):
            self.showPopup()
            event.accept()
        else:
            super().keyPressEvent(event)


class SizeBox(QSpinBox):
    """A width or height box as narrow as "2048" and its arrows (Qt's own guess leaves a wide margin), so
    that the size preset, width, height and fit share one row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)  # may shrink to the hint below

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.fontMetrics().horizontalAdvance("2048") + 34), hint.height())


class ParamsPanel(QWidget):
    """Edits `document.settings`; refreshes itself when the document changes."""

    message = Signal(str)

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._updating = False
        self._watched: QWidget | None = None  # the scroll area's viewport: its height is the room there is
        self._spare = QTimer(self)  # sizes the text boxes once the layouts have settled, not in the middle
        self._spare.setSingleShot(True)
        self._spare.setInterval(0)
        self._spare.timeout.connect(self._use_spare_height)
        self.setObjectName("paramsPanel")

        self.mode = ModeBox(self)
        self.mode.addItems([m.value for m in Mode])
        self.mode.setAccessibleName("Mode")
        self.mode.setToolTip(
            "A starting layout for one of the four tasks, applied when chosen (undoable): it may move a keyframe\n"
            "to the first or last slot and shows where media go, but never removes any. Edit on from there."
        )
        self.mode.activated.connect(lambda index: self._document.apply_mode(list(Mode)[index]))
        self.mode_status = ElidedLabel(self)  # one line; the whole text is its tooltip
        self.mode_status.setObjectName("modeStatus")
        self.mode_status.setStyleSheet("color: #aeb3c0;")
        self.clear_timeline_button = QPushButton("Clear the timeline", self)
        self.clear_timeline_button.setToolTip("Take every keyframe and the clip off the timeline (undoable)")
        self.clear_timeline_button.clicked.connect(self._document.clear_timeline)
        self.clear_timeline_button.setObjectName("inlineAction")  # a line's height: no taller than the text
        self.clear_timeline_button.setMaximumHeight(self.mode_status.sizeHint().height() + 4)

        self.prompt = GrowingTextEdit(self, lines=PROMPT_LINES[0], focused_lines=PROMPT_LINES[0])
        self.prompt.setPlaceholderText("Describe the video: subject, action, camera, light…")
        self.prompt.setAccessibleName("Prompt")
        self.prompt.setToolTip("What the video should show")
        self.negative = GrowingTextEdit(self, lines=NEGATIVE_LINES[0], focused_lines=5)  # one line until edited
        self.negative.setAccessibleName("Negative prompt")
        self.negative.setToolTip("What to steer away from (Wan's standard negative prompt by default); "
                                 "click it to see and edit all of it")

        self.resolution = QComboBox(self)
        self.resolution.addItems([*RESOLUTIONS, CUSTOM])
        self.resolution.setAccessibleName("Resolution")
        self.resolution.setToolTip("Output size; width and height must be multiples of 16")
        self.resolution.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.resolution.setMinimumContentsLength(6)  # "Custom"; the list shows the full names
        self.resolution.setIconSize(QSize(0, 0))  # no icons: no room kept for one
        self.width_box = self._spin(16, 2048, 16, "Width in pixels (multiple of 16)", SizeBox)
        self.height_box = self._spin(16, 2048, 16, "Height in pixels (multiple of 16)", SizeBox)
        self.fit = QComboBox(self)
        self.fit.addItems(["crop", "pad"])
        self.fit.setToolTip("How keyframe images of another aspect are fitted: crop to fill or pad")
        self.frames = self._spin(1, 241, 4, "Pixel frames, 4n+1 (81 = 5 s at 16 fps)")
        self.frames_info = QLabel(self)
        self.steps = self._spin(*STEPS_RANGE, 1, "Denoising steps (1-50, default 10); time grows linearly")
        self.alpha = self._double(*LORA_ALPHA_RANGE, 0.1, "Pusa LoRA strength (0.1-5.0, default 1.4)")
        self.cfg = self._double(*CFG_RANGE, 0.5, "Prompt guidance (default 3.0); 1 disables the second pass")
        self.shift = self._double(0.5, 20.0, 0.5, "Schedule shift (default 5.0)")
        self.fps = self._spin(*FPS_RANGE, 1, "Frames per second of the saved video (Wan's native rate is 16)")
        self.seed = QLineEdit(self)
        self.seed.setValidator(QRegularExpressionValidator(r"\d{1,10}", self.seed))
        self.seed.setAccessibleName("Seed")
        self.seed.setToolTip(f"Random seed (0-{MAX_SEED}); the seed used is stored with every result")
        self.random_seed = QToolButton(self)
        self.random_seed.setText("Random")
        self.random_seed.setAccessibleName("New random seed")
        self.random_seed.setToolTip("Pick a new random seed now")
        self.random_seed.clicked.connect(self._new_random_seed)
        self.new_seed_each_run = QCheckBox("New seed each run", self)
        self.new_seed_each_run.setToolTip("Draw a fresh seed for every job (it is still recorded)")
        self.save_png = QCheckBox("Also save PNG frames", self)
        self.fp8 = QCheckBox("FP8 (faster, lossy)", self)
        self.fp8.setToolTip("FP8 linear layers: about 1.2x faster steps on Hopper/Ada GPUs (H100, H200, RTX 40), "
                            "output slightly different from the exact bf16 result; no effect on speed elsewhere")

        self.video_group = self._build_video_group()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 2)
        layout.addLayout(self._build_grid())
        layout.addStretch(1)
        for label, widget in (("Prompt", self.prompt), ("Negative prompt", self.negative)):
            widget.setAccessibleDescription(label)

        self.prompt.textChanged.connect(lambda: self._set(prompt=self.prompt.toPlainText()))
        self.negative.textChanged.connect(lambda: self._set(negative_prompt=self.negative.toPlainText()))
        self.resolution.currentTextChanged.connect(self._resolution_chosen)
        self.width_box.valueChanged.connect(lambda v: self._set(width=v))
        self.height_box.valueChanged.connect(lambda v: self._set(height=v))
        self.fit.currentTextChanged.connect(lambda v: self._set(fit=v))
        self.frames.editingFinished.connect(self._frames_edited)
        self.steps.valueChanged.connect(lambda v: self._set(steps=v))
        self.alpha.valueChanged.connect(lambda v: self._set(lora_alpha=round(v, 3)))
        self.cfg.valueChanged.connect(lambda v: self._set(cfg=round(v, 3)))
        self.shift.valueChanged.connect(lambda v: self._set(shift=round(v, 3)))
        self.fps.valueChanged.connect(lambda v: self._set(fps=v))
        self.seed.editingFinished.connect(self._seed_edited)
        self.new_seed_each_run.toggled.connect(lambda v: self._set(new_seed_each_run=v))
        self.save_png.toggled.connect(lambda v: self._set(save_png_frames=v))
        self.fp8.toggled.connect(lambda v: self._set(fp8=v))
        document.settings_changed.connect(self.refresh)
        document.timeline_changed.connect(self._refresh_video)
        self.refresh()

    # ----- building ----------------------------------------------------------------------------------
    def _spin(self, low: int, high: int, step: int, tip: str, kind: type[QSpinBox] = QSpinBox) -> QSpinBox:
        box = kind(self)
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setToolTip(tip)
        box.setAccessibleName(tip.split(" (")[0])
        return box

    def _double(self, low: float, high: float, step: float, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox(self)
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setDecimals(2)
        box.setToolTip(tip)
        box.setAccessibleName(tip.split(" (")[0])
        return box

    def _build_grid(self) -> QGridLayout:
        """Label, field, label, field: short fields two to a row, so that everything fits at 1280x720."""
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        grid.setColumnStretch(1, 3)  # the seed and its Random button
        grid.setColumnStretch(3, 2)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        rows: list[tuple[str, object]] = [
            ("Mode", self.mode),
            ("", self._row(self.mode_status, self.clear_timeline_button, stretch_first=True)),
            ("Prompt", self.prompt),
            ("Negative", self.negative),
            ("Size", self._row(self.resolution, self.width_box, QLabel("x", self), self.height_box, self.fit,
                               stretch_first=True)),
            ("Frames", self._row(self.frames, self.frames_info)),
            ("Steps", (self.steps, "LoRA α", self.alpha)),
            ("CFG", (self.cfg, "Shift", self.shift)),
            ("Seed", (self._row(self.seed, self.random_seed, stretch_first=True), "FPS", self.fps)),
            ("", self._row(self.new_seed_each_run, self.fp8)),
            ("", self._row(self.save_png)),
            ("Clip", self.video_group),
        ]
        for row, (label, field) in enumerate(rows):
            name = QLabel(label, self)
            top = field in (self.prompt, self.negative)
            if field in (self.prompt, self.negative):
                name.setContentsMargins(0, 5, 0, 0)  # beside the first line of text, however tall the box
            grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignRight | (Qt.AlignmentFlag.AlignTop if top else
                                                                        Qt.AlignmentFlag.AlignVCenter))
            if field is self.video_group:
                self.video_row_label = name
            if isinstance(field, tuple):
                first, second_label, second = field
                self._place(grid, first, row, 1, 1)
                grid.addWidget(QLabel(second_label, self), row, 2, right)
                self._place(grid, second, row, 3, 1)
            else:
                self._place(grid, field, row, 1, 3)
        return grid

    @staticmethod
    def _place(grid: QGridLayout, item: object, row: int, column: int, span: int) -> None:
        if isinstance(item, QWidget):
            grid.addWidget(item, row, column, 1, span)
        else:
            grid.addLayout(item, row, column, 1, span)

    def _row(self, *widgets: QWidget, stretch_first: bool = False) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        for i, widget in enumerate(widgets):
            row.addWidget(widget, 1 if stretch_first and i == 0 else 0)
        if not stretch_first:
            row.addStretch(1)
        return row

    def _build_video_group(self) -> QWidget:
        """The clip on the timeline: its presets, then a line naming it (elided; the whole is its tooltip)."""
        group = QWidget(self)
        group.setObjectName("videoClipGroup")
        group.setAccessibleName("Video clip on the timeline")
        self.video_label = ElidedLabel(group)
        self.video_label.setStyleSheet("color: #aeb3c0;")
        self.extend_button = QPushButton("Extension", group)
        self.extend_button.setToolTip("Continue the clip: its first 13 frames go on slots 0-3 (noise 0, 0.3, 0.4, 0.5)")
        self.complete_button = QPushButton("Completion", group)
        self.complete_button.setToolTip("Keep the clip's first frame (slot 0) and last 4 frames (last slot), noise 0.3")
        self.remove_video_button = QPushButton("Remove", group)
        self.remove_video_button.setToolTip("Take the clip off the timeline (undoable)")
        self.extend_button.clicked.connect(lambda: self._document.apply_video_preset("extend"))
        self.complete_button.clicked.connect(lambda: self._document.apply_video_preset("complete"))
        self.remove_video_button.clicked.connect(lambda: self._document.set_video(None))
        row = QHBoxLayout(group)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        for button in (self.extend_button, self.complete_button, self.remove_video_button):
            row.addWidget(button)
        row.addWidget(self.video_label, 1)
        return group

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        """A tall panel gives its spare height to the prompt, then the negative prompt (a short one keeps
        them at their fewest lines, and everything fits at 1280x720)."""
        super().resizeEvent(event)
        self._spare.start()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        parent = self.parentWidget()  # in a scroll area: its viewport, which may shrink below this panel
        if parent is not None and parent is not self._watched:
            self._watched = parent
            parent.installEventFilter(self)
        self._spare.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self._watched and event.type() == QEvent.Type.Resize:
            self._spare.start()
        return super().eventFilter(watched, event)

    def _use_spare_height(self) -> None:
        boxes = ((self.prompt, PROMPT_LINES), (self.negative, NEGATIVE_LINES))
        line = self.prompt.line_height()
        room = self._watched.height() if self._watched is not None else self.height()
        grown = sum(box.maximumHeight() - box.height_of(fewest) for box, (fewest, _most) in boxes)  # focused too
        spare = room - (self.layout().sizeHint().height() - grown) - line  # a line's margin
        for box, (fewest, most) in boxes:
            extra = max(0, min(most - fewest, spare // line))
            box.set_lines(fewest + extra)
            spare -= extra * line

    # ----- view -> model -----------------------------------------------------------------------------
    def _set(self, **changes: object) -> None:
        if not self._updating:
            self._document.update_settings(**changes)

    def _resolution_chosen(self, name: str) -> None:
        if name in RESOLUTIONS and not self._updating:
            width, height = RESOLUTIONS[name]
            self._document.update_settings(width=width, height=height)

    def _frames_edited(self) -> None:
        value = self.frames.value()
        fixed = max(1, 4 * round((value - 1) / 4) + 1)
        if fixed != value:
            self.message.emit(f"Frames must be 4n+1: using {fixed}")
        self._set(frames=fixed)
        self.refresh()

    def _seed_edited(self) -> None:
        text = self.seed.text().strip()
        if text and int(text) <= MAX_SEED:
            self._set(seed=int(text))
        else:
            self.message.emit(f"The seed must be a whole number from 0 to {MAX_SEED}")
            self.refresh()

    def _new_random_seed(self) -> None:
        self._document.update_settings(seed=random.randint(0, MAX_SEED))

    # ----- model -> view -----------------------------------------------------------------------------
    def refresh(self) -> None:
        s = self._document.settings
        self._updating = True
        try:
            if self.prompt.toPlainText() != s.prompt:
                self.prompt.setPlainText(s.prompt)
            if self.negative.toPlainText() != s.negative_prompt:
                self.negative.setPlainText(s.negative_prompt)
            name = next((n for n, wh in RESOLUTIONS.items() if wh == (s.width, s.height)), CUSTOM)
            self.resolution.setCurrentText(name)
            self.width_box.setValue(s.width)
            self.height_box.setValue(s.height)
            self.fit.setCurrentText(s.fit)
            self.frames.setValue(s.frames)
            self.frames_info.setText(f"{s.latent_frames} latent slots, {s.frames / max(1, s.fps):.1f} s")
            self.steps.setValue(s.steps)
            self.alpha.setValue(s.lora_alpha)
            self.cfg.setValue(s.cfg)
            self.shift.setValue(s.shift)
            self.fps.setValue(s.fps)
            self.seed.setText(str(s.seed))
            self.new_seed_each_run.setChecked(s.new_seed_each_run)
            self.save_png.setChecked(s.save_png_frames)
            self.fp8.setChecked(s.fp8)
        finally:
            self._updating = False
        self._refresh_video()

    def _refresh_video(self) -> None:
        timeline = self._document.timeline
        self.mode.setCurrentText(timeline.shown_mode.value)  # the mode chosen; dropping media never changes it
        self.mode_status.setText(mode_status(timeline, self._document.settings.frames))
        self.clear_timeline_button.setVisible(
            timeline.shown_mode is Mode.TEXT_TO_VIDEO and bool(timeline.keyframes or timeline.video)
        )
        video = self._document.timeline.video
        self.video_group.setVisible(video is not None)
        self.video_row_label.setVisible(video is not None)
        if video is not None:
            slots = ", ".join(f"{slot} ({noise:g})" for slot, noise in video.pairs())
            self.video_label.setText(
                f"{Path(video.path).name}: slots (noise) {slots}. Each slot is a card on the timeline with its "
                "own noise slider; Delete removes one."
            )
            self.video_label.setToolTip(f"{video.path}\n{self.video_label.text()}")
