"""The deployments ledger, lease and approvals against the real local DynamoDB."""

from __future__ import annotations

import threading

import pytest

from smartstack.core.errors import LeaseHeldError, UsageError
from smartstack.pipeline.ledger import Attempt, Ledger, StepRecord


def test_history_is_newest_first_and_per_environment(ledger: Ledger) -> None:
    first = Attempt(
        "dev",
        "r-aaa",
        "alice",
        started="2026-11-26T00:00:00.000+00:00",
        steps=[StepRecord("migrate", "succeeded", 1.5)],
        outcome="succeeded",
    )
    second = Attempt(
        "dev", "r-bbb", "bob", started="2026-11-26T01:00:00.000+00:00", outcome="rolled back"
    )
    other = Attempt("prod", "r-aaa", "carol", outcome="succeeded")
    for attempt in (first, second, other):
        ledger.record(attempt)
    history = ledger.history("dev")
    assert [a.release for a in history] == ["r-bbb", "r-aaa"]
    assert history[1].steps == [StepRecord("migrate", "succeeded", 1.5)]
    assert history[1] == first


def test_of_two_concurrent_leases_exactly_one_is_granted(ledger: Ledger) -> None:
    results: list[str] = []
    barrier = threading.Barrier(2)

    def contend(holder: str) -> None:
        barrier.wait()
        try:
            with ledger.lease("dev", holder, holder):
                results.append(f"granted {holder}")
                barrier_done.wait()
        except LeaseHeldError as exc:
            results.append(str(exc))
            barrier_done.wait()

    barrier_done = threading.Barrier(2)
    threads = [threading.Thread(target=contend, args=(h,)) for h in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted = [r for r in results if r.startswith("granted")]
    refused = [r for r in results if not r.startswith("granted")]
    assert len(granted) == 1 and len(refused) == 1
    winner = granted[0].split()[1]
    assert refused[0].startswith(f"dev is being deployed by {winner} since 20")
    assert ledger.current_lease("dev") is None


def test_unlock_shows_and_releases_a_stale_lease(ledger: Ledger) -> None:
    stale = ledger.lease("dev", "ci-run-7", "att1")
    stale.__enter__()  # a deploy that died without releasing
    held = ledger.unlock("dev")
    assert (held.holder, held.attempt_id) == ("ci-run-7", "att1")
    assert ledger.current_lease("dev") is None
    with pytest.raises(UsageError, match="dev has no lease"):
        ledger.unlock("dev")


def test_approvals_are_per_environment_and_release(ledger: Ledger) -> None:
    ledger.approve("prod", "r-aaa", "arn:aws:sts::123456789012:assumed-role/admin/dana")
    approval = ledger.approval("prod", "r-aaa")
    assert approval is not None and approval.approver.endswith("/dana")
    assert ledger.approval("prod", "r-bbb") is None
    assert ledger.approval("staging", "r-aaa") is None
