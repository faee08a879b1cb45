#!/usr/bin/env bash
# Least privilege, measured (docs/local-iam.md): runs the pipeline tests on one local
# platform with IAM enforced — first deploys, no-op redeploys, promotion, approval, failed
# deploys, rollback and unlock as GitHub jobs of their environment, and an operator's
# secrets session through each environment's role — then prints `smartstack iam report`
# for the three roles: each statement's grants, those exercised and those never exercised.
# (One module: the record names resources by ARN, and a reset of the local AWS renews the
# ids in them, such as the keys'.)
#
#   bash scripts/least-privilege.sh [report-file]
set -euo pipefail
cd "$(dirname "$0")/.."
report="${1:-$(mktemp -t smartstack-iam-report.XXXXXX)}"
bash scripts/setup.sh >/dev/null
SMARTSTACK_TEST_WORKERS=0 SMARTSTACK_TEST_IAM_REPORT="$report" \
  .venv/bin/pytest -q -p no:cacheprovider tests/pipeline/test_deploy.py
cat "$report"
