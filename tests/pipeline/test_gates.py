"""Promotion gates against the real local DynamoDB ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartstack.core.environments import EnvironmentConfig
from smartstack.pipeline.gates import GateError, check_approver, check_gates
from smartstack.pipeline.ledger import Attempt, Ledger

DEV = EnvironmentConfig("dev", 7, None, Path("dev.tfvars"))
STAGING = EnvironmentConfig("staging", 14, "dev", Path("staging.tfvars"))
PROD = EnvironmentConfig(
    "prod", 30, "staging", Path("prod.tfvars"), require_approval=True, approver_must_differ=True
)
ALICE = "arn:aws:sts::123456789012:assumed-role/admin/alice"
BOB = "arn:aws:sts::123456789012:assumed-role/admin/bob"


def test_dev_takes_releases_from_main_only(ledger: Ledger) -> None:
    assert check_gates(DEV, ledger, "r-1", "main") == "built from main"
    with pytest.raises(GateError, match="dev takes releases built from main; r-1 was built from"):
        check_gates(DEV, ledger, "r-1", "feature/x")


def test_staging_needs_the_same_release_to_have_passed_dev(ledger: Ledger) -> None:
    ledger.record(Attempt("dev", "r-1", ALICE, outcome="failed"))
    with pytest.raises(GateError, match="r-1 has not passed dev"):
        check_gates(STAGING, ledger, "r-1", "main")
    ledger.record(Attempt("dev", "r-1", ALICE, outcome="succeeded"))
    assert check_gates(STAGING, ledger, "r-1", "main") == "passed dev"
    with pytest.raises(GateError, match="r-2 has not passed dev"):
        check_gates(STAGING, ledger, "r-2", "main")


def test_prod_needs_staging_and_an_approval_by_someone_else(ledger: Ledger) -> None:
    ledger.record(Attempt("staging", "r-1", ALICE, outcome="succeeded"))
    with pytest.raises(GateError, match="prod needs an approval for r-1"):
        check_gates(PROD, ledger, "r-1", "main")
    ledger.approve("prod", "r-1", ALICE)
    with pytest.raises(GateError, match="another person must approve"):
        check_gates(PROD, ledger, "r-1", "main")
    ledger.approve("prod", "r-1", BOB)
    assert check_gates(PROD, ledger, "r-1", "main").startswith(f"passed staging; approved by {BOB}")


def test_an_approval_the_deploy_would_refuse_is_refused_when_given(ledger: Ledger) -> None:
    # Seen as a new user would: the staging deployer's `approve prod` was accepted (and shown
    # in `status`), and only the prod deploy refused it.
    with pytest.raises(GateError, match="r-1 has not passed staging; approve it once it has"):
        check_approver(PROD, ledger, "r-1", BOB)
    ledger.record(Attempt("staging", "r-1", ALICE, outcome="succeeded"))

    with pytest.raises(GateError, match="deployed r-1 to staging; another person must approve"):
        check_approver(PROD, ledger, "r-1", ALICE)
    check_approver(PROD, ledger, "r-1", BOB)  # someone else: accepted
