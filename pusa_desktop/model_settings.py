"""The settings rows that follow the model family: read off the model folder as it is typed (Wan2.2-A14B has a
folder per expert), they show one Pusa LoRA or one per expert, the LightX2V LoRA(s) of the Fast preset, the
LoRA strengths, and the speed preset (Standard, or Fast: 4 steps, CFG 1, the LightX2V LoRA stacked on).

The files are this computer's settings; the strengths and the preset are the project's settings, changed
through the document as one undoable edit when the dialog is saved.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QWidget

from pusa_engine.families import WAN21, ModelFamily, detect_family
from pusa_engine.locations import default_demo_dir
from pusa_engine.lora_specs import (
    DEMO_LIGHTX2V_FILE,
    FOUR_STEP_CFG,
    FOUR_STEP_STEPS,
    LIGHTX2V,
    LORA_ALPHA_RANGE,
    four_step_loras,
)

from .app_settings import AppSettings, lora_or_none

STANDARD, FAST = "Standard (10 steps, CFG 3)", "Fast (4 steps)"
Browse = Callable[[QLineEdit, bool], QWidget]


def family_of(model_dir: str) -> ModelFamily:
    return detect_family(model_dir) if model_dir.strip() else WAN21


def is_fast(settings) -> bool:
    """Whether the project's settings are those of the Fast preset (a LightX2V LoRA in the stack)."""
    return any(spec.role == LIGHTX2V for spec in getattr(settings, "loras", []))


class FamilyFields:
    """The family-dependent rows of the settings dialog (`add_rows`), kept in step with the model folder."""

    def __init__(self, parent: QWidget, settings: AppSettings, document, lora_edit: QLineEdit) -> None:
        self._document = document
        self.lora_high = lora_edit  # the dialog's LoRA field: Wan2.1's one LoRA, or the high-noise expert's
        self.family_label = QLabel(parent)
        self.family_label.setAccessibleName("Model family")
        self.lora_low = self._edit(parent, settings.lora_low_path, "Low-noise Pusa LoRA",
                                   "Wan2.2: low_noise_pusa.safetensors (Hugging Face RaphaelLiu/Pusa-Wan2.2-V1)")
        self.lightx2v = self._edit(parent, settings.lightx2v_path, "LightX2V LoRA",
                                   "The step-distillation LoRA of the Fast (4 steps) preset")
        self.lightx2v_low = self._edit(parent, settings.lightx2v_low_path, "Low-noise LightX2V LoRA",
                                       "Wan2.2: the low-noise expert's LightX2V LoRA for the Fast preset")
        current = document.settings if document is not None else None
        self.alpha_high = self._alpha(parent, "Pusa LoRA strength", current.lora_alpha if current else 1.4)
        self.alpha_low = self._alpha(parent, "Low-noise Pusa LoRA strength", current.lora_alpha_low if current else 1.4)
        self.speed = QComboBox(parent)
        self.speed.setAccessibleName("Speed preset")
        self.speed.setToolTip("Fast: the LightX2V LoRA stacked on the Pusa LoRA, 4 steps at CFG 1 (about 5x fewer "
                              "passes); Standard: 10 steps at CFG 3")
        self.speed.addItems([STANDARD, FAST])
        self.speed.setCurrentText(FAST if current is not None and is_fast(current) else STANDARD)
        self.speed.setEnabled(document is not None)
        self._form: QFormLayout | None = None
        self.low_label = QLabel("low noise", parent)

    @staticmethod
    def _edit(parent: QWidget, text: str, name: str, tip: str) -> QLineEdit:
        edit = QLineEdit(text, parent)
        edit.setAccessibleName(name)
        edit.setPlaceholderText("empty = none")
        edit.setToolTip(tip)
        return edit

    @staticmethod
    def _alpha(parent: QWidget, name: str, value: float) -> QDoubleSpinBox:
        box = QDoubleSpinBox(parent)
        box.setRange(*LORA_ALPHA_RANGE)
        box.setSingleStep(0.1)
        box.setDecimals(2)
        box.setValue(value)
        box.setAccessibleName(name)
        return box

    def add_rows(self, form: QFormLayout, browse: Browse) -> None:
        """Rows after the dialog's LoRA row: family, low-noise LoRA, LightX2V LoRA(s), strengths, speed."""
        self._form = form
        row = form.getWidgetPosition(self.lora_high.parentWidget())[0]
        form.insertRow(row, "Model family", self.family_label)
        form.insertRow(row + 2, "Low-noise Pusa LoRA", browse(self.lora_low, False))
        form.insertRow(row + 3, "LightX2V LoRA", browse(self.lightx2v, False))
        form.insertRow(row + 4, "Low-noise LightX2V LoRA", browse(self.lightx2v_low, False))
        strengths = QWidget(self.family_label.parentWidget())
        pair = QHBoxLayout(strengths)
        pair.setContentsMargins(0, 0, 0, 0)
        self.low_label = QLabel("low noise", strengths)
        for widget in (self.alpha_high, self.low_label, self.alpha_low):
            pair.addWidget(widget)
        form.insertRow(row + 5, "Pusa LoRA strength", strengths)
        form.insertRow(row + 6, "Speed", self.speed)

    def follow(self, model_dir: str) -> ModelFamily:
        """Show the rows of the folder's family; returns the family."""
        family = family_of(model_dir)
        two = family.has_experts
        demo = " (the built-in demo model)" if not model_dir.strip() else ""
        self.family_label.setText(f"{family.title}{demo}" + (": two experts (high noise, low noise)" if two else ""))
        if self._form is not None:
            self._label(self.lora_high, "High-noise Pusa LoRA" if two else "LoRA file")
            self._label(self.lightx2v, "High-noise LightX2V LoRA" if two else "LightX2V LoRA")
            for edit in (self.lora_low, self.lightx2v_low):
                self._form.setRowVisible(edit.parentWidget(), two)
        self.alpha_low.setVisible(two)
        self.low_label.setVisible(two)
        return family

    def _label(self, edit: QLineEdit, text: str) -> None:
        label = self._form.labelForField(edit.parentWidget())
        if isinstance(label, QLabel):
            label.setText(text)

    # ---- saving ---------------------------------------------------------------------------------------------
    def lightx2v_files(self, family: ModelFamily, model_dir: str) -> dict[str, str]:
        """The Fast preset's LoRA per expert ("" = Wan2.1's one DiT); the demo model's own when none is set."""
        high, low = lora_or_none(self.lightx2v.text()), lora_or_none(self.lightx2v_low.text())
        if family.has_experts:
            return {k: v for k, v in (("high", high), ("low", low)) if v}
        if high is None and not model_dir.strip():
            demo = Path(default_demo_dir()) / DEMO_LIGHTX2V_FILE
            high = str(demo)
        return {"": high} if high else {}

    def problem(self, model_dir: str) -> str | None:
        """Why the chosen preset cannot be saved, or None."""
        if self.speed.currentText() != FAST:
            return None
        family = family_of(model_dir)
        if len(self.lightx2v_files(family, model_dir)) < len(family.experts):
            which = "both LightX2V LoRAs (high and low noise)" if family.has_experts else "the LightX2V LoRA"
            return f"The Fast (4 steps) preset needs {which}: choose the file{'s' * family.has_experts} first."
        return None

    def save(self, settings: AppSettings, model_dir: str) -> None:
        settings.lora_low_path = lora_or_none(self.lora_low.text()) or ""
        settings.lightx2v_path = lora_or_none(self.lightx2v.text()) or ""
        settings.lightx2v_low_path = lora_or_none(self.lightx2v_low.text()) or ""
        if self._document is None:
            return
        family = family_of(model_dir)
        current = self._document.settings
        changes: dict[str, object] = {"lora_alpha": round(self.alpha_high.value(), 3),
                                      "lora_alpha_low": round(self.alpha_low.value(), 3)}
        if self.speed.currentText() == FAST:
            changes.update(steps=FOUR_STEP_STEPS, cfg=FOUR_STEP_CFG,
                           loras=[*(s for s in current.loras if s.role != LIGHTX2V),
                                  *four_step_loras(self.lightx2v_files(family, model_dir))])
        elif is_fast(current):  # back to Standard: the family's steps and CFG, the LightX2V LoRA off the stack
            changes.update(steps=family.defaults.steps, cfg=family.defaults.cfg,
                           loras=[s for s in current.loras if s.role != LIGHTX2V])
        changed = {k: v for k, v in changes.items() if getattr(current, k) != v}
        if changed:  # one undoable step of its own (never merged with edits typed in the panel)
            preset = self.speed.currentText() if {"steps", "loras"} & set(changed) else "LoRA strengths"
            self._document.edit(f"Settings: {preset}", settings=changed)
