"""Pusa Studio: the desktop application for Pusa V1 video generation."""

from __future__ import annotations

from pusa_engine import __version__  # one version for the whole distribution (pyproject.toml's); no torch

__all__ = ["__version__"]
