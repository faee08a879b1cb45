"""ADR-007 retention: every log group keeps its environment's retention (7, 14 or 30 days).

checkov's default check wants a year of retention, which contradicts the ADR
and is skipped inline; this check enforces the ADR instead.  It runs once per
environment with that environment's tfvars (``--var-file``), and
``SMARTSTACK_EXPECTED_RETENTION`` names the retention that environment must have.
"""

from __future__ import annotations

import os
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class LogRetentionMatchesEnvironment(BaseResourceCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            name="Log group retention is its environment's ADR-007 retention",
            id="CKV_SSTK_1",
            categories=[CheckCategories.LOGGING],
            supported_resources=["aws_cloudwatch_log_group"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        expected = os.environ.get("SMARTSTACK_EXPECTED_RETENTION")
        value = conf.get("retention_in_days", [None])[0]
        if expected is None:
            return CheckResult.UNKNOWN
        try:
            return CheckResult.PASSED if int(value) == int(expected) else CheckResult.FAILED
        except (TypeError, ValueError):
            return CheckResult.FAILED


check = LogRetentionMatchesEnvironment()
