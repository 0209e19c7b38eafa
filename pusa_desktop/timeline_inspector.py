"""The bar above the timeline for the selected card: where it is, its noise on a wide slider and in a box to
type it (three decimals), and for a clip where it starts and its in and out points.

The clip's start slot moves the whole clip; its in point is the clip frame its start slot takes (the slots
after it take the next frames, 4 each); its out point is the last clip frame used, so lowering it takes slots
off the end and raising it lays more. Every change goes through the document (one undoable step; a run of
changes to one field is one step); a value that cannot be is refused with one line, and the box shows what
is on the timeline again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox, QWidget

from pusa_engine.request import latent_frames, pixel_frames_of_slot

from .core.model import TimelineVideo
from .core.timeline_clips import moved_clip, out_frame, slipped_clip, trimmed_clip
from .core.timeline_geometry import frames_text

if TYPE_CHECKING:
    from .timeline import TimelineWidget

NOISE_STEPS = 1000  # the wide slider: 0.001 per step
HINT = ("Select a card to edit it. Drag (Shift: by slot), \u2190/\u2192 nudge, \u2191/\u2193 noise, "
        "double-click noise to type, drag clip ends to trim, Ctrl+wheel zooms.")


def _spin(parent: QWidget, tip: str, name: str) -> QSpinBox:
    box = QSpinBox(parent)
    box.setKeyboardTracking(False)  # typed numbers count when Enter is pressed or the box is left
    box.setToolTip(tip)
    box.setAccessibleName(name)
    return box


class CardInspector(QWidget):
    """The selected card's place and noise, and the clip's start slot, in and out points."""

    def __init__(self, timeline: TimelineWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cardInspector")
        self.timeline = timeline
        self.document = timeline.document
        self._updating = False
        self.title = QLabel(self)
        self.title.setMinimumWidth(120)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never pushes the rest
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.noise_label = QLabel("Noise", self)
        self.noise_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.noise_slider.setRange(0, NOISE_STEPS)
        self.noise_slider.setMinimumWidth(160)
        self.noise_slider.setAccessibleName("Selected card's noise")
        self.noise_slider.setToolTip("Noise of the selected card: 0 keeps its frame exactly, 1 leaves only a hint")
        self.noise_box = QDoubleSpinBox(self)
        self.noise_box.setRange(0.0, 1.0)
        self.noise_box.setDecimals(3)
        self.noise_box.setSingleStep(0.01)
        self.noise_box.setKeyboardTracking(False)
        self.noise_box.setAccessibleName("Selected card's noise value")
        self.noise_box.setToolTip("Type the noise (0-1, three decimals); arrows step by 0.01")
        self.start_box = _spin(self, "The slot of the new video that takes the clip's in point (moves the clip)",
                               "Clip start slot")
        self.in_box = _spin(self, "The clip's in point: the clip frame its start slot takes", "Clip in point")
        self.out_box = _spin(self, "The clip's out point: the last clip frame used (a slot takes 4 frames)",
                             "Clip out point")
        self.out_box.setSingleStep(4)
        self.clip_labels = [QLabel(text, self) for text in ("Start slot", "In", "Out")]
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(6)
        layout.addWidget(self.title, 1)
        for widget in (self.noise_label, self.noise_slider, self.noise_box):
            layout.addWidget(widget)
        for label, box in zip(self.clip_labels, (self.start_box, self.in_box, self.out_box), strict=True):
            layout.addWidget(label)
            layout.addWidget(box)
        self.noise_slider.valueChanged.connect(lambda v: self._set_noise(v / NOISE_STEPS))
        self.noise_box.valueChanged.connect(self._set_noise)
        self.start_box.valueChanged.connect(self._set_start)
        self.in_box.valueChanged.connect(self._set_in)
        self.out_box.valueChanged.connect(self._set_out)
        timeline.selection_changed.connect(self.refresh)
        self.refresh()

    # ----- model -> view -------------------------------------------------------------------------------
    def _video(self) -> TimelineVideo | None:
        return self.document.timeline.video

    def refresh(self) -> None:
        selection = self.timeline.selection
        self._updating = True
        try:
            keyframe = clip_slot = None
            if selection is not None and selection[0] == "keyframe":
                keyframe = next((k for k in self.document.timeline.keyframes if k.id == selection[1]), None)
            elif selection is not None and self._video() is not None:
                clip_slot = int(selection[1])
            video = self._video()
            editing = keyframe is not None or (video is not None and clip_slot in video.slots)
            for widget in (self.noise_label, self.noise_slider, self.noise_box):
                widget.setVisible(editing)
            for widget in (*self.clip_labels, self.start_box, self.in_box, self.out_box):
                widget.setVisible(clip_slot is not None and video is not None and editing)
            if keyframe is not None:
                first, last = pixel_frames_of_slot(keyframe.slot)
                self._show(f"{Path(keyframe.image).name} · slot {keyframe.slot} · frame {keyframe.frame} "
                           f"(pixel {frames_text(first, last)})", keyframe.noise)
            elif video is not None and clip_slot in video.slots:
                first, last = video.source_frames(clip_slot)
                self._show(f"{Path(video.path).name} · slot {clip_slot} · clip {frames_text(first, last)}",
                           video.noise_at(clip_slot))
                self._show_clip(video)
            else:
                self.title.setText(HINT)
                self.title.setToolTip(HINT)
        finally:
            self._updating = False

    def _show(self, title: str, noise: float) -> None:
        self.title.setText(title)
        self.title.setToolTip(title)
        self.noise_slider.setValue(round(noise * NOISE_STEPS))
        self.noise_box.setValue(noise)

    def _show_clip(self, video: TimelineVideo) -> None:
        last_slot = latent_frames(self.document.settings.frames) - 1
        length = self.timeline.clips.length(video.path)
        span = video.frames_needed() - video.in_frame
        self.start_box.setRange(0, last_slot)
        self.start_box.setValue(video.start_slot)
        self.in_box.setRange(0, max(video.in_frame, (length - span) if length is not None else 10**6))
        self.in_box.setValue(video.in_frame)
        self.out_box.setRange(video.in_frame, max(out_frame(video), (length - 1) if length is not None else 10**6))
        self.out_box.setValue(out_frame(video))
        self.in_box.setSuffix(f" / {length}" if length is not None else "")

    # ----- view -> model -------------------------------------------------------------------------------
    def _set_noise(self, noise: float) -> None:
        selection = self.timeline.selection
        if self._updating or selection is None:
            return
        if selection[0] == "keyframe":
            self.document.set_keyframe_noise(str(selection[1]), noise)
        else:
            self.document.set_video_slot_noise(int(selection[1]), noise)

    def _keyframe_slots(self) -> set[int]:
        return {kf.slot for kf in self.document.timeline.keyframes}

    def _apply(self, video: TimelineVideo | None, problem: str | None, text: str, key: str, what: str) -> None:
        if problem or video is None:
            self.timeline.message.emit(f"Cannot {what}: {problem}")
            self.refresh()
            return
        self.document.change_clip(text, video, merge_key=key)

    def _set_start(self, start: int) -> None:
        video = self._video()
        if self._updating or video is None or self.timeline.selection is None:
            return
        moved, problem = moved_clip(video, start, self.document.settings.frames, self._keyframe_slots())
        slot = int(self.timeline.selection[1]) + start - video.start_slot
        self._apply(moved, problem, f"Move the clip to slot {start}", "clip-move", "move the clip there")
        if moved is not None and problem is None:
            self.timeline.select(("clip", slot))  # the same clip frames, on their new slot

    def _set_in(self, in_frame: int) -> None:
        video = self._video()
        if self._updating or video is None:
            return
        slipped, problem = slipped_clip(video, in_frame, self.timeline.clips.length(video.path))
        self._apply(slipped, problem, f"Set the clip's in point to frame {in_frame}", "clip-in", "set the in point")

    def _set_out(self, out: int) -> None:
        video = self._video()
        if self._updating or video is None:
            return
        trimmed, problem = trimmed_clip(video, out, self.document.settings.frames, self._keyframe_slots(),
                                        self.timeline.clips.length(video.path))
        self._apply(trimmed, problem, f"Set the clip's out point to frame {out}", "clip-out", "set the out point")
