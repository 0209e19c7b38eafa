#!/usr/bin/env bash
# One command for a newcomer: install everything (first run only takes minutes), then start Pusa Studio.
# With no model configured the app runs on its built-in demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pusa_desktop "$@"
