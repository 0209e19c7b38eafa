"""Where Pusa Studio keeps its settings, projects, outputs and caches.

The user's standard locations (QStandardPaths), never the install folder. When the environment
variable PUSA_STUDIO_HOME is set, everything goes under that folder instead (tests, portable use).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QStandardPaths

from pusa_engine.locations import default_demo_dir

ORGANIZATION = "Pusa"
APPLICATION = "Pusa Studio"
HOME_ENV = "PUSA_STUDIO_HOME"


def studio_home() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def _standard(kind: QStandardPaths.StandardLocation, sub: str) -> Path:
    home = studio_home()
    if home is not None:
        path = home / sub
    else:
        if not QCoreApplication.applicationName() or QCoreApplication.applicationName() == "python":
            QCoreApplication.setOrganizationName(ORGANIZATION)
            QCoreApplication.setApplicationName(APPLICATION)
        path = Path(QStandardPaths.writableLocation(kind))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    return _standard(QStandardPaths.StandardLocation.AppConfigLocation, "config")


def data_dir() -> Path:
    return _standard(QStandardPaths.StandardLocation.AppDataLocation, "data")


def cache_dir() -> Path:
    return _standard(QStandardPaths.StandardLocation.CacheLocation, "cache")


def _user_folder(kind: QStandardPaths.StandardLocation, sub: str) -> Path:
    """A "Pusa Studio" folder in one of the user's own folders (Movies, Documents), or HOME_ENV/sub."""
    home = studio_home()
    path = home / sub if home is not None else Path(QStandardPaths.writableLocation(kind)) / APPLICATION
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_output_dir() -> Path:
    return _user_folder(QStandardPaths.StandardLocation.MoviesLocation, "outputs")


def default_projects_dir() -> Path:
    return _user_folder(QStandardPaths.StandardLocation.DocumentsLocation, "projects")


def settings_file() -> Path:
    return config_dir() / "settings.ini"


def demo_model_dir() -> Path:
    """The demo model, shared with the command line (`python -m pusa_engine` without --model)."""
    return default_demo_dir()


def sessions_dir() -> Path:
    """One folder per running instance: its lock and autosave (see session_store.py)."""
    return data_dir() / "sessions"


def project_assets_dir(project_key: str) -> Path:
    path = cache_dir() / "project-assets" / project_key
    path.mkdir(parents=True, exist_ok=True)
    return path


def thumbnails_dir() -> Path:
    path = cache_dir() / "thumbnails"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resources_dir() -> Path:
    """The `resources/` folder (icons, style, samples): beside the package, or bundled inside it."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "resources", here.parent / "resources"):
        if candidate.is_dir():
            return candidate
    return here.parent / "resources"
