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
# One worker per core (SMARTSTACK_TEST_WORKERS to change; 0 runs in this process), each
# with a local platform of its own (free ports, its own state directory).  Whole files go
# to one worker, so a module's expensive fixtures (applied environments) are made once.
# The slowest tests are printed in every run, so a regression shows where it happens.
workers=${SMARTSTACK_TEST_WORKERS:-auto}
.venv/bin/python -m pytest -n "$workers" --dist loadfile --durations=15 "$@"
