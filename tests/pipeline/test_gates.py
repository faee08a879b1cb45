"""Promotion gates against the real local DynamoDB ledger."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from smartstack.core.environments import EnvironmentConfig
from smartstack.core.errors import UsageError
from smartstack.pipeline.gates import GateError, check_approver, check_gates, gate_config
from smartstack.pipeline.ledger import Attempt, Ledger
from smartstack.release.build import Manifest
from smartstack.release.store import PublishedRelease

DEV = EnvironmentConfig("dev", 7, None, Path("dev.tfvars"))
STAGING = EnvironmentConfig("staging", 14, "dev", Path("staging.tfvars"))
PROD = EnvironmentConfig(
    "prod", 30, "staging", Path("prod.tfvars"), require_approval=True, approver_must_differ=True
)
DEPLOYER = "arn:aws:sts::123456789012:assumed-role/smartstack-staging-role/alice"
ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"


def _release(release: str = "r-1", branch: str = "main", sha: str = "a" * 64) -> PublishedRelease:
    return PublishedRelease(Manifest(release, "c" * 40, branch, ()), sha)


R1 = _release()
R1_REPLACED = _release(sha="b" * 64)


def test_dev_takes_releases_from_main_only(ledger: Ledger) -> None:
    assert check_gates(DEV, ledger, R1) == "built from main"
    with pytest.raises(GateError, match="dev takes releases built from main; r-1 was built from"):
        check_gates(DEV, ledger, _release(branch="feature/x"))


def test_staging_needs_the_same_manifest_to_have_passed_dev(ledger: Ledger) -> None:
    ledger.record(Attempt("dev", "r-1", DEPLOYER, outcome="failed", manifest_sha256=R1.sha256))
    with pytest.raises(GateError, match="r-1 has not passed dev"):
        check_gates(STAGING, ledger, R1)
    ledger.record(Attempt("dev", "r-1", DEPLOYER, outcome="succeeded", manifest_sha256=R1.sha256))
    assert check_gates(STAGING, ledger, R1) == "passed dev"
    with pytest.raises(GateError, match="r-2 has not passed dev"):
        check_gates(STAGING, ledger, _release("r-2"))
    # The same id with other bytes (deleted and published again) is not what passed.
    with pytest.raises(GateError, match="r-1's manifest changed after it passed dev"):
        check_gates(STAGING, ledger, R1_REPLACED)
    # A success recorded before releases had digests: deployed again, not "replaced".
    ledger.record(Attempt("dev", "r-0", DEPLOYER, outcome="succeeded"))
    with pytest.raises(GateError, match="r-0 passed dev before releases were identified"):
        check_gates(STAGING, ledger, _release("r-0"))


def test_prod_needs_staging_and_an_approval_of_that_manifest_by_another_person(
    ledger: Ledger,
) -> None:
    ledger.record(
        Attempt("staging", "r-1", DEPLOYER, outcome="succeeded", manifest_sha256=R1.sha256)
    )
    with pytest.raises(GateError, match="prod needs an approval for r-1"):
        check_gates(PROD, ledger, R1)
    ledger.approve("prod", "r-1", R1.sha256, ALICE.replace("alice", "Alice"))
    with pytest.raises(GateError, match="another person must approve"):  # whatever the case
        check_gates(PROD, ledger, R1)
    with pytest.raises(UsageError, match="is not an IAM user"):  # not even recorded
        ledger.approve("prod", "r-1", R1.sha256, "arn:aws:sts::123456789012:assumed-role/x/bob")
    ledger.approve("prod", "r-1", "b" * 64, BOB)
    with pytest.raises(GateError, match="changed after it was approved"):
        check_gates(PROD, ledger, R1)
    ledger.approve("prod", "r-1", R1.sha256, BOB)
    assert check_gates(PROD, ledger, R1).startswith(f"passed staging; approved by {BOB}")


def test_an_approval_the_deploy_would_refuse_is_refused_when_given(ledger: Ledger) -> None:
    # Seen as a new user would: the staging deployer's `approve prod` was accepted (and shown
    # in `status`), and only the prod deploy refused it.
    with pytest.raises(GateError, match="r-1 has not passed staging; approve it once it has"):
        check_approver(PROD, ledger, R1, BOB)
    ledger.record(
        Attempt("staging", "r-1", DEPLOYER, outcome="succeeded", manifest_sha256=R1.sha256)
    )
    with pytest.raises(GateError, match="deployed r-1 to staging; another person must approve"):
        check_approver(PROD, ledger, R1, ALICE)
    for session in (DEPLOYER, "arn:aws:sts::123456789012:assumed-role/smartstack-prod-role/bob"):
        with pytest.raises(GateError, match="approvals come from a person"):
            check_approver(PROD, ledger, R1, session)
    check_approver(PROD, ledger, R1, BOB)  # someone else, as themselves: accepted


def test_the_gates_obey_the_stricter_of_checkout_and_release() -> None:
    loose = replace(PROD, require_approval=False, approver_must_differ=False)
    assert gate_config(loose, PROD).require_approval  # the checkout dropped it: kept
    assert gate_config(PROD, loose).approver_must_differ  # the release dropped it: kept
    guarded = replace(PROD, protect_from_destroy=True)
    assert gate_config(guarded, PROD).protect_from_destroy  # the release dropped it: kept
    assert gate_config(PROD, guarded).protect_from_destroy  # the checkout dropped it: kept
    with pytest.raises(GateError, match="promotes_from is 'staging' in this checkout and None"):
        gate_config(PROD, replace(PROD, promotes_from=None))
