"""Pusa V1 video generation: the Wan2.1-T2V-14B files + Pusa LoRA, a vectorized-timestep sampler.

Importing the package is cheap (no torch): `pusa_engine.GenerationRequest`, the event and error types
are pure Python, and `pusa_engine.Engine` (torch, diffsynth) is imported the first time it is asked for.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

# The version when neither the installed metadata nor pyproject.toml can be read (a frozen app built
# from an uninstalled checkout); a test keeps it equal to pyproject.toml's.
_FALLBACK_VERSION = "0.1.0"


def _version() -> str:
    """The distribution's version, from pyproject.toml: as installed, else read from the source tree."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("pusa-studio")
    except (ImportError, PackageNotFoundError):
        pass
    try:
        text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
        found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
        if found:
            return found.group(1)
    except OSError:
        pass
    return _FALLBACK_VERSION


__version__ = _version()

# The public names, each imported from its module on first use.
__all__ = [
    "__version__",
    "Engine", "available_plans",
    "GenerationRequest", "Keyframe", "VideoCondition", "SizeLimit",
    "CancelToken", "JobResult", "Phase", "PhaseProgress", "StepProgress",
    "PusaError", "RequestError", "ModelFilesError", "InputMediaError", "OutputError", "OutOfMemoryError",
    "JobCancelled",
]
_MODULE_OF = {
    **dict.fromkeys(("Engine", "available_plans"), "engine"),
    **dict.fromkeys(("GenerationRequest", "Keyframe", "VideoCondition", "SizeLimit"), "request"),
    **dict.fromkeys(("CancelToken", "JobResult", "Phase", "PhaseProgress", "StepProgress"), "events"),
    **dict.fromkeys(("PusaError", "RequestError", "ModelFilesError", "InputMediaError", "OutputError",
                     "OutOfMemoryError", "JobCancelled"), "errors"),
}


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
