#!/usr/bin/env bash
# The whole test suite: installs what is missing, then lint, types and pytest
# (unit tests, the CLI, static checks of the OpenTofu code, and everything against
# the real local platform, which the tests start and stop themselves).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bash scripts/setup.sh

echo "== ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== import contract (layers)"
.venv/bin/lint-imports --no-cache
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
# The slowest tests are printed in every run, so a regression shows where it happens.
.venv/bin/python -m pytest --durations=15 "$@"
