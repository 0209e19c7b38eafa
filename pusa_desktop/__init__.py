"""Pusa Studio: the desktop application for Pusa V1 video generation."""

from __future__ import annotations


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("pusa-studio")
    except (ImportError, PackageNotFoundError):
        return "0.1.0"


__version__ = _version()
