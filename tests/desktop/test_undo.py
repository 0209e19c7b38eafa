"""One undoable change path for settings and timeline: undo and redo always leave them agreeing."""

from __future__ import annotations

import pytest

from pusa_desktop.core.model import EditorSettings, Mode, Timeline, TimelineKeyframe, TimelineVideo


@pytest.fixture
def document(qapp):
    from pusa_desktop.document import ProjectDocument

    doc = ProjectDocument()
    doc.update_settings(frames=81)
    doc.undo_stack.clear()
    return doc


def _frames_of_keyframes(doc) -> list[int]:
    return sorted(kf.frame for kf in doc.timeline.keyframes)


def test_shortening_the_video_moves_keyframes_in_one_step_and_undo_puts_both_back(document):
    document.add_keyframe("a.png", 0)
    document.add_keyframe("b.png", 80)
    document.set_video(TimelineVideo("clip.mp4", [0, 1, 2, 3], [0.0, 0.3, 0.4, 0.5]))
    assert _frames_of_keyframes(document) == [80]  # the keyframe on slot 0 gave way to the clip
    document.update_settings(frames=9)  # 3 latent slots: the keyframe and clip slot 3 are past the end
    assert document.settings.frames == 9 and _frames_of_keyframes(document) == [8]
    assert document.timeline.video.slots == [0, 1, 2]
    document.undo_stack.undo()
    assert document.settings.frames == 81 and _frames_of_keyframes(document) == [80]
    assert document.timeline.video.slots == [0, 1, 2, 3]
    document.undo_stack.redo()
    assert document.settings.frames == 9 and _frames_of_keyframes(document) == [8]
    for _ in range(document.undo_stack.count()):  # every state on the way agrees with its frame count
        document.undo_stack.undo()
        last = document.settings.frames - 1
        assert all(kf.frame <= last for kf in document.timeline.keyframes)


def test_typing_merges_into_one_step_and_different_fields_do_not(document):
    for text in ("a", "a c", "a cat"):
        document.update_settings(prompt=text)
    document.update_settings(cfg=4.0)
    assert document.undo_stack.count() == 2
    document.undo_stack.undo()
    assert document.settings.cfg == EditorSettings.cfg and document.settings.prompt == "a cat"
    document.undo_stack.undo()
    assert document.settings.prompt == ""


def test_restoring_a_job_and_a_mode_preset_are_one_undoable_step_each(document):
    document.add_keyframe("a.png", 40)
    before = (document.settings, document.timeline.copy())
    restored = EditorSettings(prompt="restored", frames=17, seed=5, new_seed_each_run=False)
    document.restore_editor(restored, Timeline([TimelineKeyframe("r.png", 16, 0.5)]))
    assert document.settings.prompt == "restored" and [kf.image for kf in document.timeline.keyframes] == ["r.png"]
    document.undo_stack.undo()
    assert (document.settings, document.timeline) == before
    document.apply_mode(Mode.TEXT_TO_VIDEO)  # a mode never removes media...
    assert [kf.image for kf in document.timeline.keyframes] == ["a.png"]
    document.clear_timeline()  # ...clearing the timeline does, when asked
    assert document.timeline.keyframes == []
    document.undo_stack.undo()
    assert [kf.image for kf in document.timeline.keyframes] == ["a.png"]
