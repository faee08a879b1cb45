#!/usr/bin/env bash
# Least privilege, measured (docs/local-iam.md): runs the suite's sessions of the
# environment roles on one local platform with IAM enforced — the pipeline module (first
# deploy, no-op redeploy, promotion, approval, failed deploys, rollback, unlock, all as
# GitHub jobs of their environment) and the stack module (each role's plan, an operator's
# secrets session) — then prints `smartstack iam report` for the three roles: each
# statement's grants, those exercised and those never exercised.
#
#   bash scripts/least-privilege.sh [report-file]
set -euo pipefail
cd "$(dirname "$0")/.."
report="${1:-$(mktemp -t smartstack-iam-report.XXXXXX)}"
bash scripts/setup.sh >/dev/null
SMARTSTACK_TEST_WORKERS=0 SMARTSTACK_TEST_IAM_REPORT="$report" \
  .venv/bin/pytest -q -p no:cacheprovider tests/pipeline/test_deploy.py tests/infra/test_stack.py
cat "$report"
