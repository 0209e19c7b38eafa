"""The settings dialog follows the model family (Wan2.2-A14B: a LoRA and a strength per expert) and offers the
Fast (4 steps) preset, which stacks the LightX2V LoRA on the project's settings and runs as a real job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pusa_desktop.core.model import JobState
from pusa_desktop.core.readiness import quick_model_problems
from pusa_desktop.model_settings import FAST, STANDARD
from pusa_desktop.settings_dialog import SettingsDialog
from pusa_engine.lora_specs import LoraSpec

from .conftest import wait_for_job_end


@pytest.fixture(scope="module")
def demo22(tmp_path_factory):
    from pusa_engine.demo_model import write_demo_files

    return write_demo_files(tmp_path_factory.mktemp("demo22"), "wan2.2")


def _label(dialog: SettingsDialog, edit) -> str:
    form = dialog.layout().itemAt(0).layout()
    return form.labelForField(edit.parentWidget()).text()


def test_the_rows_follow_the_model_family(window, demo22, demo_model_cache):
    dialog = SettingsDialog(window.app_settings, window)
    fields = dialog.family
    dialog.model_dir.setText(str(demo22.model_dir))
    assert fields.family_label.text().startswith("Wan2.2-T2V-A14B: two experts")
    assert _label(dialog, dialog.lora_path) == "High-noise Pusa LoRA"
    assert fields.lora_low.isVisibleTo(dialog) and fields.alpha_low.isVisibleTo(dialog)
    dialog.model_dir.setText(str(demo_model_cache / "Wan2.1-T2V-demo"))
    assert fields.family_label.text() == "Wan2.1-T2V-14B" and _label(dialog, dialog.lora_path) == "LoRA file"
    assert not fields.lora_low.isVisibleTo(dialog) and not fields.alpha_low.isVisibleTo(dialog)


def test_both_loras_and_strengths_are_saved(window, demo22):
    dialog = SettingsDialog(window.app_settings, window)
    dialog.model_dir.setText(str(demo22.model_dir))
    dialog.lora_path.setText(str(demo22.loras["high"]))
    dialog.family.lora_low.setText(str(demo22.loras["low"]))
    dialog.family.alpha_high.setValue(1.5)
    dialog.family.alpha_low.setValue(1.3)
    dialog.accept()
    config = window.app_settings.engine_config()
    assert config.setup().lora_low_path == str(demo22.loras["low"]) == window.app_settings.lora_low_path
    settings = window.document.settings
    assert (settings.lora_alpha, settings.lora_alpha_low) == (1.5, 1.3)
    assert quick_model_problems(str(demo22.model_dir), str(demo22.loras["high"])) == []


def test_a_missing_expert_folder_is_found_at_once(demo22, tmp_path):
    import shutil

    copy = tmp_path / "w22"
    shutil.copytree(demo22.model_dir, copy)
    (copy / "low_noise_model" / "config.json").unlink()
    problems = quick_model_problems(str(copy), None)
    assert len(problems) == 1 and "low_noise_model/config.json is missing" in problems[0]


def test_the_fast_preset_needs_its_lora(window, demo22):
    dialog = SettingsDialog(window.app_settings, window)
    dialog.model_dir.setText(str(demo22.model_dir))
    dialog.family.speed.setCurrentText(FAST)
    dialog.accept()
    assert "needs both LightX2V LoRAs" in dialog.status.text() and window.document.settings.loras == []


def test_the_fast_preset_runs_four_steps_with_the_lightx2v_lora(tiny, qtbot):
    """On the demo model (no folder set) the Fast preset takes the demo's own LightX2V LoRA."""
    dialog = SettingsDialog(tiny.app_settings, tiny)
    dialog.family.speed.setCurrentText(FAST)
    dialog.accept()
    settings = tiny.document.settings
    assert (settings.steps, settings.cfg) == (4, 1.0)
    assert [(s.alpha, s.expert, s.role) for s in settings.loras] == [(1.0, "", "lightx2v")]
    assert Path(settings.loras[0].path).name == "lightx2v_demo.safetensors"
    job_id = tiny.generate()
    wait_for_job_end(qtbot, tiny, job_id)
    job = tiny.document.project.job(job_id)
    assert job.state is JobState.DONE, job.problems
    side = json.loads(Path(job.result.sidecar_path).read_text())
    assert [e["role"] for e in side["lora_stack"]] == ["pusa", "lightx2v"] and side["request"]["steps"] == 4
    # back to Standard: the family's steps and CFG, the LightX2V LoRA off the stack (one undoable edit)
    again = SettingsDialog(tiny.app_settings, tiny)
    assert again.family.speed.currentText() == FAST
    again.family.speed.setCurrentText(STANDARD)
    again.accept()
    assert (tiny.document.settings.steps, tiny.document.settings.cfg, tiny.document.settings.loras) == (10, 3.0, [])
    tiny.document.undo_stack.undo()
    assert tiny.document.settings.loras == [LoraSpec(settings.loras[0].path, 1.0, "", "lightx2v")]
