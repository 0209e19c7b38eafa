#!/usr/bin/env bash
# Installs what Pusa Studio needs on a Debian/Ubuntu machine: the system libraries Qt and the tests use,
# then a virtual environment in .venv with the project and its dev tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  xvfb xauth                                    # a virtual screen for screenshots and GUI tests
  libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-image0 libxcb-render-util0
  libxcb-xinerama0 libxcb-randr0 libpulse0      # Qt's xcb platform and multimedia backend
  binutils                                      # PyInstaller reads shared libraries with objdump
  desktop-file-utils                            # validates the .desktop entry the installer writes
)
missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,cluster]"  # cluster: Ray, for the cluster commands and tests
