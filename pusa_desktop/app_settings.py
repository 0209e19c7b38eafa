"""The application's own settings (model folder, LoRAs, output folder, device plan), kept with QSettings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from pusa_engine.jobs.protocol import EngineSetup

from . import paths


@dataclass
class EngineConfig:
    """What the engine thread needs to build an engine. Empty model folder = the demo model."""

    model_dir: str = ""
    lora_path: str = ""  # the Pusa LoRA (Wan2.2: the high-noise expert's)
    plan: str = "auto"
    lora_low_path: str = ""  # Wan2.2: the low-noise expert's Pusa LoRA
    lightx2v_path: str = ""  # the Fast (4 steps) preset's LightX2V LoRA (Wan2.2: the high-noise expert's)
    lightx2v_low_path: str = ""  # Wan2.2: the low-noise expert's LightX2V LoRA

    @property
    def uses_demo_model(self) -> bool:
        return not self.model_dir

    def setup(self) -> EngineSetup:
        """The engine's files and plan for a job."""
        return EngineSetup(self.model_dir, self.lora_path, self.plan, self.lora_low_path)

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

    @property
    def last_export_dir(self) -> str:
        """The folder of the last export ("" before the first)."""
        return self._get("export/last_folder")

    @last_export_dir.setter
    def last_export_dir(self, value: str) -> None:
        self._qs.setValue("export/last_folder", value)

    @property
    def library_folders(self) -> list[str]:
        """Folders of results the user added to the Library (kept here too, so a rebuilt index finds them)."""
        value = self._qs.value("library/folders", [])
        return [value] if isinstance(value, str) else [str(v) for v in (value or [])]

    def add_library_folder(self, folder: str) -> None:
        self._qs.setValue("library/folders", list(dict.fromkeys([*self.library_folders, folder])))

    def layout_state(self, key: str) -> QByteArray | None:
        """A saved window geometry or splitter state (`key`: "geometry", "top_split", ...), or None."""
        value = self._qs.value(f"layout/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_layout_state(self, key: str, value: QByteArray) -> None:
        self._qs.setValue(f"layout/{key}", value)

    @property
    def cluster_address(self) -> str:
        """A Ray cluster to send jobs to ("" = this computer only): ray://HOST:10001, or HOST:PORT on a node."""
        return self._get("cluster/address").strip()

    @cluster_address.setter
    def cluster_address(self, value: str) -> None:
        self._qs.setValue("cluster/address", value.strip())

    @property
    def cluster_token(self) -> str:
        """The cluster's token ("" = RAY_AUTH_TOKEN or ~/.ray/auth_token)."""
        return self._get("cluster/token").strip()

    @cluster_token.setter
    def cluster_token(self, value: str) -> None:
        self._qs.setValue("cluster/token", value.strip())

    @property
    def use_local_engine(self) -> bool:
        """Whether this computer runs jobs too beside a cluster's workers."""
        return self._get("cluster/use_local", "1") != "0"

    @use_local_engine.setter
    def use_local_engine(self, value: bool) -> None:
        self._qs.setValue("cluster/use_local", "1" if value else "0")

    def _file(self, key: str) -> str:
        return lora_or_none(self._get(key)) or ""

    @property
    def lora_low_path(self) -> str:
        """Wan2.2: the low-noise expert's Pusa LoRA; "" when none is set."""
        return self._file("model/lora_low")

    @lora_low_path.setter
    def lora_low_path(self, value: str) -> None:
        self._qs.setValue("model/lora_low", lora_or_none(value) or "")

    @property
    def lightx2v_path(self) -> str:
        """The Fast (4 steps) preset's LightX2V LoRA (Wan2.2: the high-noise expert's); "" when none is set."""
        return self._file("model/lightx2v")

    @lightx2v_path.setter
    def lightx2v_path(self, value: str) -> None:
        self._qs.setValue("model/lightx2v", lora_or_none(value) or "")

    @property
    def lightx2v_low_path(self) -> str:
        return self._file("model/lightx2v_low")

    @lightx2v_low_path.setter
    def lightx2v_low_path(self, value: str) -> None:
        self._qs.setValue("model/lightx2v_low", lora_or_none(value) or "")

    def engine_config(self) -> EngineConfig:
        return EngineConfig(self.model_dir, self.lora_path, self.plan, self.lora_low_path, self.lightx2v_path,
                            self.lightx2v_low_path)

    def sync(self) -> None:
        self._qs.sync()
