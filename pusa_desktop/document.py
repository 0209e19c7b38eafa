"""The observable layer: a `Project` wrapped in a QObject that announces changes and keeps the undo stack.

Widgets read from `document.project` and change it only through the methods here, so every timeline
edit is one undoable command and every change is announced with a signal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from pusa_engine.events import JobResult

from .core.model import (
    EditorSettings,
    EditorState,
    Job,
    JobState,
    Mode,
    Project,
    Timeline,
    TimelineKeyframe,
    TimelineVideo,
    clamp_timeline,
    snap_frame,
    video_preset,
)
from .core.modes import apply_mode

UNDO_LIMIT = 1000  # steps kept: a day of edits must not grow the memory without end


class EditCommand(QUndoCommand):
    """One undoable edit of the editor: its settings and timeline before and after, as one pair (small:
    numbers, text and paths). Undo and redo put back both at once, so they always agree (no keyframe is
    ever left past the video's end)."""

    def __init__(self, document: ProjectDocument, text: str, before: EditorState, after: EditorState,
                 merge_key: str | None = None) -> None:
        super().__init__(text)
        self._document, self._before, self._after, self._merge_key = document, before, after, merge_key

    def id(self) -> int:  # noqa: A003 - Qt's name
        return 1 if self._merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if isinstance(other, EditCommand) and other._merge_key and other._merge_key == self._merge_key:
            self._after = other._after
            return True
        return False

    def redo(self) -> None:
        self._document._show(self._after)

    def undo(self) -> None:
        self._document._show(self._before)


class ProjectDocument(QObject):
    """The project being edited, its file path, dirty state and undo stack."""

    timeline_changed = Signal()
    settings_changed = Signal()
    queue_changed = Signal()
    history_changed = Signal()
    job_changed = Signal(str)  # job id
    project_replaced = Signal()
    path_changed = Signal(str)
    dirty_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = Project()
        self.path: Path | None = None
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        self._dirty = False
        self.revision = 0  # goes up with every change; autosave compares it
        self.undo_stack.indexChanged.connect(lambda _index: self.mark_dirty())

    # ----- file state -----------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self._dirty

    def mark_dirty(self, dirty: bool = True) -> None:
        if dirty:
            self.revision += 1
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    def replace_project(self, project: Project, path: Path | None) -> None:
        if project.timeline.mode is None:  # a project made in code: the mode its layout shows
            project.timeline.mode = project.timeline.shown_mode
        self.project = project
        self.path = path
        self.undo_stack.clear()
        self.project_replaced.emit()
        self.timeline_changed.emit()
        self.settings_changed.emit()
        self.queue_changed.emit()
        self.history_changed.emit()
        self.path_changed.emit(str(path) if path else "")
        self.mark_dirty(False)

    def set_path(self, path: Path) -> None:
        self.path = path
        self.path_changed.emit(str(path))

    # ----- settings ----------------------------------------------------------------------------------
    @property
    def settings(self) -> EditorSettings:
        return self.project.settings

    def update_settings(self, **changes: object) -> None:
        """Change parameter-panel values (undoable; typing into one field merges into one step). A change of
        frame count moves keyframes past the end back in, in the same step."""
        key = ",".join(sorted(changes))
        self.edit(f"Change {key.replace(',', ', ').replace('_', ' ')}", settings=changes, merge_key=f"settings:{key}")

    # ----- the one change path -------------------------------------------------------------------------
    @property
    def timeline(self) -> Timeline:
        return self.project.timeline

    def editor_state(self) -> EditorState:
        return EditorState(dataclasses.replace(self.project.settings), self.project.timeline.copy())

    def edit(
        self,
        text: str,
        settings: dict[str, object] | EditorSettings | None = None,
        timeline: Callable[[Timeline], None] | Timeline | None = None,
        merge_key: str | None = None,
    ) -> None:
        """Every change of settings or timeline comes here and becomes one step of the undo stack."""
        before = self.editor_state()
        after_settings = before.settings
        if isinstance(settings, EditorSettings):
            after_settings = dataclasses.replace(settings)
        elif settings:
            after_settings = dataclasses.replace(before.settings, **settings)
        after_timeline = before.timeline.copy()
        if isinstance(timeline, Timeline):
            after_timeline = timeline.copy()
        elif timeline is not None:
            timeline(after_timeline)
        if after_settings.frames != before.settings.frames or isinstance(timeline, Timeline):
            after_timeline = clamp_timeline(after_timeline, after_settings.frames)
        if after_timeline.mode is None:  # a timeline made in code (restored): the mode its layout shows, kept
            after_timeline.mode = after_timeline.shown_mode
        after = EditorState(after_settings, after_timeline)
        if after != before:
            self.undo_stack.push(EditCommand(self, text, before, after, merge_key))

    def _show(self, state: EditorState) -> None:
        settings_changed = state.settings != self.project.settings
        timeline_changed = state.timeline != self.project.timeline
        self.project.settings = dataclasses.replace(state.settings)
        self.project.timeline = state.timeline.copy()
        if settings_changed:
            self.settings_changed.emit()
        if timeline_changed:
            self.timeline_changed.emit()

    def edit_timeline(self, text: str, change: Callable[[Timeline], None], merge_key: str | None = None) -> None:
        self.edit(text, timeline=change, merge_key=merge_key)

    def free_slot_problem(self, frame: int, except_id: str | None = None) -> str | None:
        """Why a keyframe cannot go to `frame`, or None when its slot is free."""
        frames = self.settings.frames
        if not 0 <= frame < frames:
            return f"frame {frame} is outside the video (frames 0..{frames - 1})"
        slot = TimelineKeyframe("", frame).slot
        if slot in self.timeline.occupied_slots(except_id):
            return f"latent slot {slot} already holds a frame; move that one first"
        return None

    def add_keyframe(self, image: str, frame: int, noise: float = 0.2) -> TimelineKeyframe:
        keyframe = TimelineKeyframe(image, snap_frame(frame, self.settings.frames), noise)
        self.edit_timeline(f"Add keyframe {Path(image).name}", lambda t: t.keyframes.append(keyframe))
        return keyframe

    def move_keyframe(self, keyframe_id: str, frame: int) -> None:
        frame = snap_frame(frame, self.settings.frames)

        def change(t: Timeline) -> None:
            t.keyframe(keyframe_id).frame = frame

        self.edit_timeline(f"Move keyframe to frame {frame}", change)

    def set_keyframe_noise(self, keyframe_id: str, noise: float) -> None:
        def change(t: Timeline) -> None:
            t.keyframe(keyframe_id).noise = round(float(noise), 3)

        self.edit_timeline("Change keyframe noise", change, merge_key=f"noise:{keyframe_id}")

    def remove_keyframe(self, keyframe_id: str) -> None:
        def change(t: Timeline) -> None:
            t.keyframes = [kf for kf in t.keyframes if kf.id != keyframe_id]

        self.edit_timeline("Delete keyframe", change)

    def set_video(self, video: TimelineVideo | None) -> None:
        def change(t: Timeline) -> None:
            t.video = video
            if video is not None:  # keyframes sharing the clip's slots give way to it
                t.keyframes = [kf for kf in t.keyframes if kf.slot not in video.slots]

        self.edit_timeline("Place video" if video else "Remove video", change)

    def apply_video_preset(self, kind: str) -> None:
        """Lay the clip out as 'extend' (13 frames from its in point on 4 slots from its start slot) or
        'complete' (from slot 0: its first frame there and 4 more on the last slot). The user asked for these
        slots: keyframes on them give way (undoable)."""
        video = self.timeline.video
        if video is not None:
            start = video.start_slot if kind == "extend" else 0
            slots, noise = video_preset(kind, self.settings.frames, start)
            self.set_video(video.with_pairs(list(zip(slots, noise, strict=True)), start_slot=start))

    def change_clip(self, text: str, video: TimelineVideo, merge_key: str | None = None) -> None:
        """Move, slip or trim the clip (`core/timeline_clips.py` checks it first); no keyframe is touched."""

        def change(t: Timeline) -> None:
            t.video = video

        self.edit_timeline(text, change, merge_key=merge_key)

    def set_video_slot_noise(self, slot: int, noise: float) -> None:
        def change(t: Timeline) -> None:
            if t.video is not None:
                t.video = t.video.with_noise(slot, round(float(noise), 3))

        self.edit_timeline(f"Change clip noise at slot {slot}", change, merge_key=f"video-noise:{slot}")

    def remove_video_slot(self, slot: int) -> None:
        """Take one slot off the clip; taking off the last one removes the clip."""

        def change(t: Timeline) -> None:
            if t.video is not None:
                t.video = t.video.without_slot(slot)

        self.edit_timeline(f"Remove clip slot {slot}", change)

    def add_video_slot(self, slot: int) -> None:
        """Lay the clip's frames of `slot` on that slot too (a keyframe there gives way)."""

        def change(t: Timeline) -> None:
            if t.video is not None:
                t.video = t.video.with_slot(slot)
                t.keyframes = [kf for kf in t.keyframes if kf.slot != slot]

        self.edit_timeline(f"Add clip slot {slot}", change)

    def apply_mode(self, mode: Mode) -> None:
        """Choose a mode: its starting layout, in one undoable step; no keyframe or clip is removed."""
        self.edit(f"Mode: {mode.value}", timeline=apply_mode(mode, self.timeline, self.settings.frames))

    def clear_timeline(self) -> None:
        """Take every keyframe and the clip off the timeline (the user asked; undoable). The mode stays."""

        def change(t: Timeline) -> None:
            t.keyframes, t.video = [], None

        self.edit_timeline("Clear the timeline", change)

    def restore_editor(self, settings: EditorSettings, timeline: Timeline) -> None:
        """Put a job's settings and timeline back into the editor (one undoable step)."""
        self.edit("Restore settings", settings=settings, timeline=timeline)

    # ----- queue and history -------------------------------------------------------------------------
    def add_job(self, job: Job) -> None:
        self.project.queue.append(job)
        self.queue_changed.emit()
        self.mark_dirty()

    def move_job(self, job_id: str, new_index: int) -> None:
        queue = self.project.queue
        job = self.project.job(job_id)
        queue.remove(job)
        queue.insert(max(0, min(len(queue), new_index)), job)
        self.queue_changed.emit()
        self.mark_dirty()

    def reorder_queue(self, job_ids: list[str]) -> None:
        """Put the queue in the given order (ids of every job in the queue)."""
        by_id = {job.id: job for job in self.project.queue}
        if sorted(job_ids) != sorted(by_id):
            raise ValueError("the new order must list every queued job once")
        if job_ids != [job.id for job in self.project.queue]:
            self.project.queue = [by_id[i] for i in job_ids]
            self.mark_dirty()
            self.queue_changed.emit()

    def remove_job(self, job_id: str) -> Job:
        job = self.project.job(job_id)
        if job in self.project.queue:
            self.project.queue.remove(job)
            self.queue_changed.emit()
        else:
            self.project.history.remove(job)
            self.history_changed.emit()
        self.mark_dirty()
        return job

    def set_job_state(self, job_id: str, state: JobState, problems: list[str] | None = None) -> None:
        job = self.project.job(job_id)
        job.state = state
        job.problems = list(problems or [])
        self.job_changed.emit(job_id)
        self.queue_changed.emit()
        self.mark_dirty()

    def finish_job(self, job_id: str, result: JobResult, thumbnail: str | None) -> None:
        """A job succeeded: it leaves the queue and goes on top of the history."""
        job = self.project.job(job_id)
        job.state = JobState.DONE
        job.result = result
        job.thumbnail = thumbnail
        if job in self.project.queue:
            self.project.queue.remove(job)
        self.project.history.insert(0, job)
        self.queue_changed.emit()
        self.history_changed.emit()
        self.job_changed.emit(job_id)
        self.mark_dirty()

    def next_queued_job(self) -> Job | None:
        return next((j for j in self.project.queue if j.state is JobState.QUEUED), None)
