#!/usr/bin/env bash
# The whole test suite: installs what is missing, then lint, types, OpenTofu
# formatting and pytest against the real local platform (which the tests start).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bash scripts/setup.sh

source scripts/versions.env
tofu=${SMARTSTACK_CACHE:-$HOME/.cache/smartstack}/bin/tofu-$OPENTOFU_VERSION

echo "== ruff"
.venv/bin/ruff check src tests bench
echo "== mypy"
.venv/bin/mypy
echo "== tofu fmt"
TF_CLI_CONFIG_FILE=${SMARTSTACK_CACHE:-$HOME/.cache/smartstack}/tofu.rc "$tofu" fmt -check -recursive infrastructure
echo "== pytest"
.venv/bin/python -m pytest "$@"
