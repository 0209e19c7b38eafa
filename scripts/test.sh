#!/usr/bin/env bash
# The whole test suite: lint, layer contracts, then pytest (engine, desktop under Xvfb, packaging).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/lint-imports
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
exec .venv/bin/python -m pytest -q "$@"
