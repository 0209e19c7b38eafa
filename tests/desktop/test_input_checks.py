"""Bad input is stopped at the door: damaged files are refused when dropped, with one message in the window;
Generate is off, with the reason beside it, while the request or the model files would fail a job."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction, QValidator

from pusa_desktop.app_settings import AppSettings, EngineConfig, lora_or_none
from pusa_desktop.clip_frames import ClipFrameCache
from pusa_desktop.core.model import EditorSettings, Timeline, TimelineKeyframe, TimelineVideo, build_request
from pusa_desktop.core.readiness import (
    CHECKING_MODEL,
    ModelFilesCheck,
    blocker_summary,
    engine_file_check,
    generate_blockers,
    request_problems,
)
from pusa_desktop.core.timeline_clips import slots_text, slots_the_clip_feeds
from pusa_desktop.core.timeline_geometry import next_free_slot
from pusa_desktop.document import ProjectDocument
from pusa_desktop.generate_gate import GenerateGate
from pusa_engine.errors import RequestError

from .conftest import TINY, drop_files, frame_pos


@pytest.fixture
def bad_media(tmp_path) -> dict[str, Path]:
    """A real PNG cut in half, an empty PNG, a 0-byte MP4 and an MP4 of random bytes, beside a good PNG."""
    folder = tmp_path / "bad"
    folder.mkdir()
    good = folder / "good.png"
    Image.fromarray((np.random.default_rng(1).random((60, 80, 3)) * 255).astype(np.uint8)).save(good)
    data = good.read_bytes()
    out = {"good": good, "truncated": folder / "truncated.png", "empty": folder / "empty.png"}
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["empty"].write_bytes(b"")
    out["empty_mp4"] = folder / "empty.mp4"
    out["empty_mp4"].write_bytes(b"")
    out["junk_mp4"] = folder / "junk.mp4"
    out["junk_mp4"].write_bytes(np.random.default_rng(2).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return out


def _demo_model(demo_model_cache: Path) -> tuple[Path, Path]:
    from pusa_engine.demo_model import ensure_demo_model

    model_dir, lora = ensure_demo_model(demo_model_cache)
    return Path(model_dir), Path(lora)


# ----- 1. images are decoded when dropped -----------------------------------------------------------------
def test_a_truncated_or_empty_image_dropped_on_the_timeline_is_refused_with_one_message(tiny, bad_media):
    timeline, undo = tiny.timeline, tiny.document.undo_stack
    steps = undo.count()
    drop = drop_files(timeline, [bad_media["truncated"], bad_media["empty"]], frame_pos(timeline, 0))
    assert not drop.isAccepted()
    assert tiny.document.timeline.keyframes == [] and undo.count() == steps  # nothing laid, nothing to undo
    assert tiny.last_message == (
        "Not placed: truncated.png is damaged or not an image (image file is truncated); empty.png is empty (0 bytes)."
    )
    assert tiny.statusBar().currentMessage() == tiny.last_message  # in the window, not only on stderr

    drop = drop_files(timeline, [bad_media["truncated"], bad_media["good"]], frame_pos(timeline, 0))
    assert drop.isAccepted()  # the good file of the same drop is placed; no "missing" card
    assert [Path(kf.image).name for kf in tiny.document.timeline.keyframes] == ["good.png"]
    card = timeline.card(tiny.document.timeline.keyframes[0].id)
    assert card.thumbnail.text() != "missing" and not card.thumbnail.pixmap().isNull()
    assert "truncated.png is damaged" in tiny.last_message


def test_the_asset_bin_and_add_media_refuse_damaged_files(window, bad_media):
    before = window.assets.count()
    added = window.assets.add_files([str(p) for p in bad_media.values()])  # what Add Media… calls
    assert added == 1 and window.assets.paths()[-1] == str(bad_media["good"])
    assert window.assets.count() == before + 1
    assert window.last_message == (
        "Not added: truncated.png is damaged or not an image (image file is truncated); empty.png is empty "
        "(0 bytes); empty.mp4 is empty (0 bytes); junk.mp4 cannot be read as a video: the file is damaged or "
        "not a video."
    )
    drop = drop_files(window.assets.viewport(), [bad_media["truncated"]], QPoint(20, 20))  # a real drop
    assert not drop.isAccepted() and window.assets.count() == before + 1
    assert window.last_message.startswith("Not added: truncated.png is damaged")


# ----- 2. clips are decoded when dropped ------------------------------------------------------------------
def test_an_empty_or_unreadable_clip_is_refused_at_the_drop(tiny, bad_media):
    timeline = tiny.timeline
    drop = drop_files(timeline, [bad_media["empty_mp4"]], frame_pos(timeline, 0))
    assert not drop.isAccepted() and tiny.document.timeline.video is None
    assert tiny.last_message == "Not placed: empty.mp4 is empty (0 bytes)."
    drop = drop_files(timeline, [bad_media["junk_mp4"]], frame_pos(timeline, 0))
    assert not drop.isAccepted() and tiny.document.timeline.video is None and timeline.clip_slots_shown() == []
    assert tiny.last_message == "Not placed: junk.mp4 cannot be read as a video: the file is damaged or not a video."


def test_slots_a_clip_cannot_feed_are_left_off():
    video = TimelineVideo("short.mp4", [0, 1, 2, 3], [0.0, 0.3, 0.4, 0.5])
    kept, dropped = slots_the_clip_feeds(video, 5)  # slot k takes frames up to 4k
    assert kept == TimelineVideo("short.mp4", [0, 1], [0.0, 0.3]) and dropped == [2, 3]
    assert slots_the_clip_feeds(video, 13) == (video, [])
    assert slots_text([2, 3]) == "2-3" and slots_text([0, 2, 4]) == "0, 2, 4"
    assert next_free_slot(1, {1, 2}, 17) == 3 and next_free_slot(4, {4}, 17) is None


# ----- 3. Generate is off while the request would fail ----------------------------------------------------
def test_the_blockers_are_the_engine_validation_plus_files_and_numbers(tmp_path, bad_media):
    settings, timeline = EditorSettings(**TINY), Timeline()
    assert generate_blockers(settings, timeline) == []
    wide = EditorSettings(**{**TINY, "width": 100, "steps": 0})
    with pytest.raises(RequestError) as refused:
        build_request(wide, timeline).validate()
    assert generate_blockers(wide, timeline) == refused.value.problems == request_problems(wide, timeline)
    assert "width and height must be positive multiples of 16 (got 100x64)" in refused.value.problems
    huge = EditorSettings(**{**TINY, "width": 2048, "height": 2048, "frames": 241})
    assert generate_blockers(huge, timeline) == request_problems(huge, timeline)  # whatever bound validate() sets
    not_numbers = EditorSettings(**{**TINY, "shift": math.nan, "cfg": math.inf})
    blockers = generate_blockers(not_numbers, timeline)
    assert "shift must be a finite number (got nan)" in blockers and "CFG must be a finite number (got inf)" in blockers

    damaged = Timeline(keyframes=[TimelineKeyframe(str(bad_media["truncated"]), 4)])
    assert generate_blockers(settings, damaged) == [
        "the keyframe on slot 1 cannot be used: truncated.png is damaged or not an image (image file is truncated)"
    ]
    clip = Timeline(video=TimelineVideo(str(bad_media["good"]), [0, 1, 2], [0.0, 0.3, 0.4]))
    assert generate_blockers(settings, clip, clip_length=lambda _path: 5) == [
        "good.png has 5 frames, but slot 2 takes its frames up to 8: remove slot 2 or use a longer clip"
    ]
    gone = Timeline(video=TimelineVideo(str(tmp_path / "gone.mp4"), [0], [0.0]))
    assert generate_blockers(settings, gone) == ["the clip gone.mp4 is missing: put it back or remove the clip"]
    assert blocker_summary(["a", "b", "c"]) == "a (+2 more)" and blocker_summary([]) == ""


def test_a_clip_that_cannot_be_read_blocks_generate(qtbot, bad_media):
    """A project opened with an unreadable clip (it was never dropped here): the cache reads it, the gate says so."""
    clips = ClipFrameCache()
    timeline = Timeline(video=TimelineVideo(str(bad_media["junk_mp4"]), [0], [0.0]))
    settings = EditorSettings(**TINY)
    assert generate_blockers(settings, timeline, clip_length=clips.length, clip_error=clips.error) == []  # reading
    qtbot.waitUntil(lambda: clips.error(str(bad_media["junk_mp4"])) is not None, timeout=30_000)
    assert generate_blockers(settings, timeline, clip_length=clips.length, clip_error=clips.error) == [
        "the clip junk.mp4 cannot be read (the file is damaged or not a video): remove it or choose another clip"
    ]


def test_the_gate_turns_generate_off_with_the_reason_and_on_again(tiny, images, qtbot):
    document = tiny.document
    action = QAction("Generate")
    action.setToolTip("Generate a video")
    gate = GenerateGate(document, EngineConfig, tiny.clips, ModelFilesCheck(engine_file_check(tiny.host)))
    qtbot.addWidget(gate)
    gate.bind_action(action)
    assert gate.ready and action.isEnabled() and gate.label.text() == ""

    with qtbot.waitSignal(gate.ready_changed) as changed:
        document.update_settings(width=100)
    assert changed.args == [False, "width and height must be positive multiples of 16 (got 100x64)"]
    assert not action.isEnabled() and action.toolTip().startswith("Cannot generate: width and height")
    assert gate.text == "⚠ width and height must be positive multiples of 16 (got 100x64)"
    assert gate.label.text().startswith("⚠ width")  # elided to the room it has; all of it in the tooltip
    assert gate.label.toolTip().endswith("\n• width and height must be positive multiples of 16 (got 100x64)")
    with qtbot.waitSignal(gate.ready_changed) as changed:
        document.update_settings(width=64)
    assert changed.args == [True, ""] and action.isEnabled() and action.toolTip() == "Generate a video"

    drop_files(tiny.timeline, [images["start"]], frame_pos(tiny.timeline, 0))
    images["start"].rename(images["start"].with_name("moved.png"))  # the file goes while the app is open
    gate.refresh()  # the window refreshes on activation and before every Generate
    assert not gate.ready and gate.blockers == [
        "the keyframe on slot 0 cannot be used: start.png does not exist (moved or deleted?)"
    ]
    assert document.project.queue == []  # nothing was queued to fail later


@pytest.fixture
def engine(demo_model_cache):
    """A real engine answering questions on a thread of this process (the window asks its engine process)."""
    from pusa_engine.jobs.inprocess import InProcessClient

    client = InProcessClient(str(demo_model_cache))
    client.start(lambda _message: None)
    yield client
    client.stop()


def test_the_model_files_are_checked_once_per_change_by_the_engine(qtbot, demo_model_cache, tmp_path, engine):
    model_dir, lora = _demo_model(demo_model_cache)
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    calls: list[tuple[str, str | None]] = []
    ask_the_engine = engine_file_check(engine)

    def counted(folder: str, lora_path: str | None) -> list[str]:
        calls.append((folder, lora_path))
        return ask_the_engine(folder, lora_path)

    document = ProjectDocument()
    document.update_settings(**TINY)
    config = EngineConfig(str(copy), str(lora))
    gate = GenerateGate(document, lambda: config, ClipFrameCache(), ModelFilesCheck(counted))
    qtbot.addWidget(gate)
    assert gate.blockers == [CHECKING_MODEL] and gate.text == "⚠ Checking the model files…"
    qtbot.waitUntil(lambda: gate.ready, timeout=60_000)
    document.update_settings(prompt="another prompt")  # refreshes: the cached answer, no second check
    assert gate.ready and len(calls) == 1

    shard = copy / "diffusion_pytorch_model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:1000])  # a download cut short: the size and time change
    gate.refresh()
    qtbot.waitUntil(lambda: not gate.ready and CHECKING_MODEL not in gate.blockers, timeout=60_000)
    assert len(calls) == 2 and any("truncated" in b and shard.name in b for b in gate.blockers)
    assert gate.blockers[0].startswith(f"model files: {shard.name} is not a safetensors file or is truncated")
    assert all(b.startswith("model files: ") for b in gate.blockers)

    config = EngineConfig(str(tmp_path / "nowhere"), "")  # found at once, without the engine (no thread)
    gate.refresh()
    assert len(calls) == 2 and gate.blockers == [
        f"model files: model folder {tmp_path / 'nowhere'} does not exist: choose the Wan2.1-T2V-14B folder in Settings"
    ]


# ----- 4. settings: an empty LoRA is no LoRA; the dialog shows every problem ------------------------------
def test_an_empty_lora_field_means_no_lora(studio_home, demo_model_cache, engine):
    assert lora_or_none("") is None and lora_or_none("  ") is None and lora_or_none(".") is None
    settings = AppSettings()
    settings.lora_path = "  "
    assert settings.lora_path == "" and settings.engine_config().lora_file is None
    model_dir, _lora = _demo_model(demo_model_cache)
    assert engine_file_check(engine)(str(model_dir), None) == []  # not ". is not a PyTorch checkpoint"


def test_the_settings_dialog_shows_every_model_problem(window, demo_model_cache, tmp_path):
    import asyncio

    import qasync

    from pusa_desktop.settings_dialog import SettingsDialog

    model_dir, _lora = _demo_model(demo_model_cache)
    broken = tmp_path / "broken-model"
    shutil.copytree(model_dir, broken)
    (broken / "Wan2.1_VAE.pth").unlink()
    (broken / "config.json").unlink()
    shard = broken / "diffusion_pytorch_model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:500])
    dialog = SettingsDialog(window.app_settings, window, engine=window.host)  # the engine reads the headers
    loop = qasync.QEventLoop(already_running=False)
    asyncio.set_event_loop(loop)
    try:
        dialog.model_dir.setText(str(model_dir))
        dialog.lora_path.setText("")
        assert loop.run_until_complete(dialog.check_model_files()) == []
        assert dialog.status.text().startswith("The model files look complete.") and "No LoRA" in dialog.status.text()
        dialog.model_dir.setText(str(broken))
        problems = loop.run_until_complete(dialog.check_model_files())
        assert "cpu" in loop.run_until_complete(dialog.load_plans())  # the engine lists the device plans
        without_engine = SettingsDialog(window.app_settings, window)  # a quick look for missing files only
        without_engine.model_dir.setText(str(broken))
        quick = loop.run_until_complete(without_engine.check_model_files())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    assert len(problems) == 3 and dialog.problems.count() == 3 and dialog.problems.wordWrap()
    assert [dialog.problems.item(i).text() for i in range(3)] == problems  # each in full, none cut short
    for expected in ("config.json is missing", "Wan2.1_VAE.pth is missing", f"{shard.name} is not a safetensors"):
        assert sum(expected in p for p in problems) == 1, (expected, problems)
    assert dialog.status.text() == "3 problems with the model files:"
    assert len(quick) == 2 and without_engine.problems.count() == 2  # the missing config.json and VAE


# ----- 5. numbers: NaN and infinity cannot be typed -------------------------------------------------------
@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", "NaN"])
def test_the_parameter_panel_takes_no_nan_or_infinity(window, qtbot, text):
    for box in (window.params.cfg, window.params.shift, window.params.alpha):
        before = box.value()
        assert box.validate(text, 0)[0] != QValidator.State.Acceptable
        box.lineEdit().selectAll()
        qtbot.keyClicks(box.lineEdit(), text)  # typed key by key: the box drops what it cannot take
        box.interpretText()
        assert math.isfinite(box.value()) and box.minimum() <= box.value() <= box.maximum()
        box.setValue(before)
        box.lineEdit().setText(text)  # pasted whole
        box.interpretText()
        box.editingFinished.emit()
        assert box.value() == before
    settings = window.document.settings
    assert all(math.isfinite(v) for v in (settings.cfg, settings.shift, settings.lora_alpha))
