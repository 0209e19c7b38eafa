"""The application's own settings (model folder, LoRA, output folder, device plan), kept with QSettings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings

from . import paths


@dataclass
class EngineConfig:
    """What the engine thread needs to build an engine. Empty model folder = the demo model."""

    model_dir: str = ""
    lora_path: str = ""
    plan: str = "auto"

    @property
    def uses_demo_model(self) -> bool:
        return not self.model_dir

    @property
    def lora_file(self) -> str | None:
        """The LoRA to merge; None when the field is empty ("no LoRA", never the path ".")."""
        return lora_or_none(self.lora_path)


def lora_or_none(lora_path: str) -> str | None:
    """An empty LoRA field (or one saved as "." by an older version) means no LoRA."""
    lora_path = lora_path.strip()
    return lora_path if lora_path and lora_path != "." else None


class AppSettings:
    """Typed access to the QSettings file in the user's config folder."""

    def __init__(self) -> None:
        self._qs = QSettings(str(paths.settings_file()), QSettings.Format.IniFormat)

    def _get(self, key: str, default: str = "") -> str:
        value = self._qs.value(key, default)
        return str(value) if value is not None else default

    @property
    def model_dir(self) -> str:
        return self._get("model/folder").strip()

    @model_dir.setter
    def model_dir(self, value: str) -> None:
        self._qs.setValue("model/folder", value.strip())

    @property
    def lora_path(self) -> str:
        """The LoRA file; "" when none is set."""
        return lora_or_none(self._get("model/lora")) or ""

    @lora_path.setter
    def lora_path(self, value: str) -> None:
        self._qs.setValue("model/lora", lora_or_none(value) or "")

    @property
    def plan(self) -> str:
        return self._get("model/plan", "auto") or "auto"

    @plan.setter
    def plan(self, value: str) -> None:
        self._qs.setValue("model/plan", value)

    @property
    def output_dir(self) -> Path:
        value = self._get("output/folder")
        return Path(value) if value else paths.default_output_dir()

    @output_dir.setter
    def output_dir(self, value: str | Path) -> None:
        self._qs.setValue("output/folder", str(value))

    @property
    def recent_projects(self) -> list[str]:
        value = self._qs.value("projects/recent", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in (value or [])]

    def add_recent_project(self, path: str) -> None:
        recent = [p for p in self.recent_projects if p != path]
        self._qs.setValue("projects/recent", [path, *recent][:8])

    def take_first_run(self) -> bool:
        """True the first time it is asked on this computer (for this settings file), then False."""
        first = self._get("app/first_run_done") != "1"
        self._qs.setValue("app/first_run_done", "1")
        return first

    def engine_config(self) -> EngineConfig:
        return EngineConfig(self.model_dir, self.lora_path, self.plan)

    def sync(self) -> None:
        self._qs.sync()
