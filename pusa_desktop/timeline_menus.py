"""The timeline's right-click menus: a clip card's (the Extension and Completion presets, a slot or the whole
clip off) and an empty slot's while a clip is placed (lay the clip's frames for that slot there)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from .timeline import TimelineWidget


def clip_menu(timeline: TimelineWidget, slot: int) -> QMenu:
    """The clip card's menu: the two presets, this slot off, the whole clip off."""
    document = timeline.document
    menu = QMenu(timeline)
    video = document.timeline.video
    start = video.start_slot if video is not None else 0
    menu.addAction(f"Extension: 13 clip frames on 4 slots from slot {start}",
                   lambda: document.apply_video_preset("extend"))
    menu.addAction(
        "Completion: first frame on slot 0, last 4 frames on the last slot",
        lambda: document.apply_video_preset("complete"),
    )
    menu.addSeparator()
    menu.addAction(f"Remove slot {slot} (Delete)", lambda: document.remove_video_slot(slot))
    menu.addAction("Remove the clip", lambda: document.set_video(None))
    return menu


def slot_menu(timeline: TimelineWidget, slot: int) -> QMenu | None:
    """An empty slot's menu while a clip is placed (from its start on): lay the clip's frames for that slot."""
    document = timeline.document
    video = document.timeline.video
    if video is None or slot in document.timeline.occupied_slots() or slot < video.start_slot:
        return None
    first, last = video.source_frames(slot)
    frames = f"frame {first}" if first == last else f"frames {first}-{last}"
    menu = QMenu(timeline)
    action = menu.addAction(
        f"Lay clip {frames} of {Path(video.path).name} on slot {slot}",
        lambda: document.add_video_slot(slot),
    )
    length = timeline.clips.length(video.path)
    if length is not None and last >= length:  # the clip has no frames for this slot
        action.setEnabled(False)
        action.setText(f"{action.text()} (the clip has only {length} frames)")
    return menu
