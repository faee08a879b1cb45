#!/usr/bin/env bash
# The main job: install what is missing, start the local platform, bootstrap
# the state backend and apply every environment's stack.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/setup.sh"
exec "$repo/.venv/bin/smartstack" up "$@"
