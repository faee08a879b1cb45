"""The deployments ledger, lease and approvals against the real local DynamoDB."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from smartstack.aws.target import AwsTarget
from smartstack.core.errors import LeaseHeldError, LeaseLostError, UsageError
from smartstack.core.naming import artifacts_bucket_name
from smartstack.pipeline.deploy import last_fingerprint
from smartstack.pipeline.ledger import (
    Attempt,
    AttemptOutcome,
    Ledger,
    StepOutcome,
    StepRecord,
    describe_unfinished,
)
from smartstack.pipeline.ledger_chain import Item, chained


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
    with pytest.raises(UsageError, match="lease changed hands"):
        ledger.unlock("dev", "att0")  # not the holder shown: nothing released
    assert ledger.current_lease("dev") is not None
    held = ledger.unlock("dev", "att1")
    assert (held.holder, held.attempt_id) == ("ci-run-7", "att1")
    assert ledger.current_lease("dev") is None
    with pytest.raises(UsageError, match="dev has no lease"):
        ledger.unlock("dev", "att1")


def test_approvals_are_per_environment_and_release(ledger: Ledger) -> None:
    ledger.approve("prod", "r-aaa", "a" * 64, "arn:aws:iam::123456789012:user/dana")
    approval = ledger.approval("prod", "r-aaa")
    assert approval is not None and approval.approver.endswith("/dana")
    assert ledger.approval("prod", "r-bbb") is None
    assert ledger.approval("staging", "r-aaa") is None


def _three_attempts(ledger: Ledger) -> list[str]:
    sks = []
    for hour, release in enumerate(("r-1", "r-2", "r-3")):
        attempt = Attempt("dev", release, "alice", started=f"2026-11-26T0{hour}:00:00.000+00:00")
        ledger.record(attempt)
        sks.append(f"deploy#{attempt.started}#{attempt.attempt_id}")
    return sks


def test_the_chain_names_the_first_edited_record(ledger: Ledger) -> None:
    sks = _three_attempts(ledger)
    ledger.approve("prod", "r-1", "a" * 64, "arn:aws:iam::123456789012:user/dana")
    assert [(c.partition, c.records, c.broken) for c in ledger.verify("dev")] == [
        ("env#dev", 3, None),
    ]
    assert [(c.partition, c.records, c.broken) for c in ledger.verify("prod")] == [
        ("env#prod", 0, None),
        ("approvals#prod#dana", 1, None),
    ]
    ledger.ddb.update_item(
        TableName=ledger.table,
        Key={"pk": {"S": "env#dev"}, "sk": {"S": sks[1]}},
        UpdateExpression="SET outcome = :o",
        ExpressionAttributeValues={":o": {"S": "succeeded"}},
    )
    broken = ledger.verify("dev")[0].broken
    assert broken is not None and broken.sk == sks[1]
    assert "changed" in broken.reason


def test_the_chain_names_the_record_after_a_deleted_one(ledger: Ledger, aws: AwsTarget) -> None:
    """Its anchor names the deleted record itself; without one (a record from before the
    anchors), the chain names the record after it."""
    sks = _three_attempts(ledger)
    ledger.ddb.delete_item(
        TableName=ledger.table, Key={"pk": {"S": "env#dev"}, "sk": {"S": sks[1]}}
    )
    broken = ledger.verify("dev")[0].broken
    assert broken is not None and broken.sk == sks[1]
    assert "deleted after it was anchored" in broken.reason
    _drop_anchor(aws, "env#dev", sks[1])
    broken = ledger.verify("dev")[0].broken
    assert broken is not None and broken.sk == sks[2]
    assert f"the record before ({sks[0]})" in broken.reason


def _bucket(aws: AwsTarget) -> str:
    return artifacts_bucket_name(aws.account_id(), aws.region)


def _anchor_keys(aws: AwsTarget, pk: str, sk: str) -> list[str]:
    prefix = f"ledger-anchors/{pk}/{sk}/"
    found = aws.client("s3").list_objects_v2(Bucket=_bucket(aws), Prefix=prefix)
    return [entry["Key"] for entry in found.get("Contents", [])]


def _anchors(aws: AwsTarget, pk: str, sk: str) -> list[str]:
    """The hashes anchored for the record (the last part of each anchor's key)."""
    return [key.rsplit("/", 1)[-1] for key in _anchor_keys(aws, pk, sk)]


def _drop_anchor(aws: AwsTarget, pk: str, sk: str) -> None:
    """As an administrator may (or as a record written before the anchors has none)."""
    for key in _anchor_keys(aws, pk, sk):
        aws.client("s3").delete_object(Bucket=_bucket(aws), Key=key)


def _items(ledger: Ledger, pk: str) -> list[Item]:
    """The partition's chained records, oldest first (as the admin reads them)."""
    return ledger.ddb.query(
        TableName=ledger.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )["Items"]


def _rewrite_and_rechain(ledger: Ledger, pk: str, sk: str, attribute: str, value: str) -> None:
    """What a writer who knows the chain and may put items in ``pk`` can do: change one
    record, then re-chain it and every later record so that the chain holds again."""
    items = [i for i in _items(ledger, pk) if "hash" in i]
    at = next(n for n, i in enumerate(items) if i["sk"]["S"] == sk)
    items[at] = dict(items[at], **{attribute: {"S": value}})
    previous = items[at - 1] if at else None
    for item in items[at:]:
        previous = chained(item, previous)
        ledger.ddb.put_item(TableName=ledger.table, Item=previous)


def test_each_record_is_anchored_in_the_artifacts_bucket(ledger: Ledger, aws: AwsTarget) -> None:
    attempt = Attempt("dev", "r-1", "alice", outcome=AttemptOutcome.SUCCEEDED)
    ledger.record(attempt)
    approval = ledger.approve("prod", "r-1", "a" * 64, "arn:aws:iam::123456789012:user/dana")
    for pk, sk in (
        ("env#dev", f"deploy#{attempt.started}#{attempt.attempt_id}"),
        ("approvals#prod#dana", f"approval#{approval.at}#r-1"),
    ):
        (item,) = _items(ledger, pk)
        assert item["sk"]["S"] == sk
        assert _anchors(aws, pk, sk) == [item["hash"]["S"]]
    (key,) = _anchor_keys(aws, "approvals#prod#dana", f"approval#{approval.at}#r-1")
    with pytest.raises(ClientError, match="PreconditionFailed"):  # written once
        aws.client("s3").put_object(Bucket=_bucket(aws), Key=key, Body=b"", IfNoneMatch="*")


def test_a_second_anchor_does_not_hide_the_first(ledger: Ledger, aws: AwsTarget) -> None:
    """Whoever rewrites a record may anchor its new hash too; the first anchor still names it."""
    attempt = Attempt("dev", "r-1", "alice", outcome=AttemptOutcome.SUCCEEDED)
    ledger.record(attempt)
    sk = f"deploy#{attempt.started}#{attempt.attempt_id}"
    _rewrite_and_rechain(ledger, "env#dev", sk, "who", "mallory")
    (item,) = _items(ledger, "env#dev")
    forged = f"ledger-anchors/env#dev/{sk}/{item['hash']['S']}"
    aws.client("s3").put_object(Bucket=_bucket(aws), Key=forged, Body=b"", IfNoneMatch="*")
    (check,) = [c for c in ledger.verify("dev") if c.partition == "env#dev"]
    assert check.broken is not None and check.broken.sk == sk
    assert "rewritten after it was anchored" in check.broken.reason


def test_an_intact_ledger_verifies_and_a_newest_record_without_its_anchor_too(
    ledger: Ledger, aws: AwsTarget
) -> None:
    """A writer that died between the record and its anchor leaves the newest record
    unanchored: that is no break (nor is an older one, which the next record's anchor
    covers through the chain)."""
    sks = _three_attempts(ledger)
    for release in ("r-1", "r-2"):
        ledger.approve("prod", release, "a" * 64, "arn:aws:iam::123456789012:user/dana")
    assert all(c.broken is None for env in ("dev", "prod") for c in ledger.verify(env))
    for sk in (sks[2], sks[0]):
        _drop_anchor(aws, "env#dev", sk)
        assert [(c.records, c.broken) for c in ledger.verify("dev")] == [(3, None)]


def test_a_record_whose_anchor_cannot_be_written_stands_with_a_warning(
    ledger: Ledger, aws: AwsTarget, caplog: pytest.LogCaptureFixture
) -> None:
    """The record is the ledger: an anchor refused (no bucket, no grant) is said, and the
    deploy or approval it records is not failed after the fact."""
    ledger.anchors.bucket = "no-such-bucket-for-anchors"
    attempt = Attempt("dev", "r-1", "alice", outcome=AttemptOutcome.SUCCEEDED)
    ledger.record(attempt)
    assert [a.attempt_id for a in ledger.history("dev")] == [attempt.attempt_id]
    assert "is written but not anchored (NoSuchBucket)" in caplog.text
    del ledger.anchors.bucket  # the account's bucket again
    assert [(c.records, c.broken) for c in ledger.verify("dev")] == [(1, None)]


def test_keys_that_anchor_no_record_are_not_anchors(ledger: Ledger, aws: AwsTarget) -> None:
    """Whoever may write anchors may write any key there: one that cannot be a record's
    anchor neither breaks nor stops verify."""
    _three_attempts(ledger)
    for junk in ("x", "deploy#1", "deploy#1/not-a-hash", "deploy#1/a/" + "0" * 64):
        aws.client("s3").put_object(
            Bucket=_bucket(aws), Key=f"ledger-anchors/env#dev/{junk}", Body=b"", IfNoneMatch="*"
        )
    assert [(c.records, c.broken) for c in ledger.verify("dev")] == [(3, None)]


def test_an_attempt_rewritten_and_rechained_is_named_by_its_anchor(ledger: Ledger) -> None:
    sks = _three_attempts(ledger)
    _rewrite_and_rechain(ledger, "env#dev", sks[0], "outcome", "succeeded")
    (check,) = ledger.verify("dev")
    assert check.records == 3
    assert check.broken is not None and check.broken.sk == sks[0]
    assert "rewritten after it was anchored" in check.broken.reason


def test_an_approval_rewritten_and_rechained_is_named_by_its_anchor(ledger: Ledger) -> None:
    for release in ("r-1", "r-2", "r-3"):
        ledger.approve("prod", release, "a" * 64, "arn:aws:iam::123456789012:user/dana")
    ledger.approve("prod", "r-1", "a" * 64, "arn:aws:iam::123456789012:user/erin")
    sks = [i["sk"]["S"] for i in _items(ledger, "approvals#prod#dana")]
    _rewrite_and_rechain(ledger, "approvals#prod#dana", sks[1], "manifest_sha256", "b" * 64)
    checks = {c.partition: c for c in ledger.verify("prod")}
    assert checks["approvals#prod#erin"].broken is None
    broken = checks["approvals#prod#dana"].broken
    assert broken is not None and broken.sk == sks[1]
    assert "rewritten after it was anchored" in broken.reason


def test_the_newest_record_deleted_is_named_by_its_anchor(ledger: Ledger) -> None:
    """The chain cannot tell a deleted newest record (nothing follows it); its anchor can,
    and it finds an approver's partition whose every record is gone."""
    sks = _three_attempts(ledger)
    ledger.approve("prod", "r-1", "a" * 64, "arn:aws:iam::123456789012:user/dana")
    ledger.ddb.delete_item(
        TableName=ledger.table, Key={"pk": {"S": "env#dev"}, "sk": {"S": sks[2]}}
    )
    (dana,) = _items(ledger, "approvals#prod#dana")
    ledger.ddb.delete_item(TableName=ledger.table, Key={"pk": dana["pk"], "sk": dana["sk"]})
    (check,) = ledger.verify("dev")
    assert check.broken is not None and check.broken.sk == sks[2]
    assert "deleted after it was anchored" in check.broken.reason
    checks = {c.partition: c for c in ledger.verify("prod")}
    broken = checks["approvals#prod#dana"].broken
    assert broken is not None and broken.sk == dana["sk"]["S"]
    assert "deleted after it was anchored" in broken.reason


def test_records_from_before_the_chain_may_only_come_first(ledger: Ledger) -> None:
    old = {"pk": {"S": "env#dev"}, "release": {"S": "r-0"}, "who": {"S": "alice"},
           "outcome": {"S": "succeeded"}, "finished": {"S": ""}}  # fmt: skip
    ledger.ddb.put_item(
        TableName=ledger.table, Item=dict(old, sk={"S": "deploy#2026-11-25T00:00:00.000+00:00#o"})
    )
    sks = _three_attempts(ledger)
    assert ledger.verify("dev")[0].broken is None
    ledger.ddb.put_item(TableName=ledger.table, Item=dict(old, sk={"S": sks[1]}))  # rewritten
    broken = ledger.verify("dev")[0].broken
    assert broken is not None and broken.sk == sks[1]


def test_numbers_as_dynamodb_keeps_them_do_not_break_the_chain(ledger: Ledger) -> None:
    """DynamoDB drops the trailing zeros of "0.120" (the local one does not): the chain
    hashes numbers as DynamoDB gives them back."""
    attempt = Attempt("dev", "r-1", "alice", steps=[StepRecord("app", "succeeded", 0.12)])
    ledger.record(attempt)
    key = {"pk": {"S": "env#dev"}, "sk": {"S": f"deploy#{attempt.started}#{attempt.attempt_id}"}}
    item = ledger.ddb.get_item(TableName=ledger.table, Key=key)["Item"]
    assert item["steps"]["L"][0]["M"]["seconds"] == {"N": "0.120"}  # as written
    item["steps"]["L"][0]["M"]["seconds"] = {"N": "0.12"}  # as AWS would return it
    ledger.ddb.put_item(TableName=ledger.table, Item=item)
    assert ledger.verify("dev")[0].broken is None


def test_a_silent_holder_s_lease_is_taken_over_after_its_ttl_and_not_before(
    ledger: Ledger,
) -> None:
    dead = ledger.lease("dev", "ci-run-1", "att1", ttl_seconds=2, heartbeat=False)
    dead.__enter__()  # its holder dies: no heartbeat, no release
    with pytest.raises(LeaseHeldError, match="ci-run-1"), ledger.lease("dev", "ci-2", "att2"):
        pass
    time.sleep(2.5)
    with ledger.lease("dev", "ci-run-2", "att2", ttl_seconds=2) as taken:
        assert taken.taken_over is not None
        assert (taken.taken_over.holder, taken.taken_over.attempt_id) == ("ci-run-1", "att1")
        held = ledger.current_lease("dev")
        assert held is not None and held.attempt_id == "att2"
    assert ledger.current_lease("dev") is None


def test_a_live_holder_keeps_its_lease_past_its_ttl(ledger: Ledger) -> None:
    with ledger.lease("dev", "ci-run-1", "att1", ttl_seconds=1.5) as held:
        time.sleep(3)  # its heartbeat renews it
        with pytest.raises(LeaseHeldError), ledger.lease("dev", "ci-run-2", "att2"):
            pass
        assert held.taken_over is None


def test_a_journaled_attempt_reads_running_while_its_lease_lives_then_interrupted(
    ledger: Ledger,
) -> None:
    attempt = Attempt("dev", "r-ccc", "alice")
    with ledger.lease("dev", "alice", attempt.attempt_id, ttl_seconds=2.0, heartbeat=False):
        attempt.steps.append(StepRecord("fetch", StepOutcome.SUCCEEDED, 0.2))
        attempt.at_step = "app"
        attempt.before["api"] = "3"
        ledger.journal(attempt)
        (running,) = ledger.history("dev")
        assert (running.outcome, running.at_step, running.before) == (
            "running",
            "app",
            {"api": "3"},
        )
        assert ledger.unfinished("dev") == []
        time.sleep(2.2)  # the holder stopped beating: its lease expired
        (dead,) = ledger.unfinished("dev")
        assert (dead.attempt_id, dead.outcome, dead.finished) == (
            attempt.attempt_id,
            AttemptOutcome.INTERRUPTED,
            "",
        )
    assert "died in app after moving api from v3" in describe_unfinished(dead)


def test_a_recorded_attempt_leaves_no_journal_entry(ledger: Ledger) -> None:
    attempt = Attempt("dev", "r-ddd", "alice")
    ledger.journal(attempt)
    attempt.outcome = AttemptOutcome.SUCCEEDED
    ledger.record(attempt)
    assert [(a.attempt_id, a.outcome) for a in ledger.history("dev")] == [
        (attempt.attempt_id, "succeeded")
    ]
    assert ledger.unfinished("dev") == []


def test_closing_a_dead_attempt_records_it_interrupted_at_its_step(ledger: Ledger) -> None:
    dead = Attempt("dev", "r-eee", "alice", started="2026-11-26T00:00:00.000+00:00")
    dead.at_step = "infra"
    ledger.journal(dead)
    recovery = Attempt("dev", "r-eee", "bob", resumes=[dead.attempt_id])
    ledger.journal(recovery)
    found, _ = ledger.unfinished("dev")  # no lease: both read as dead, the older first
    ledger.close_interrupted(found, recovery)
    assert [a.attempt_id for a in ledger.unfinished("dev")] == [recovery.attempt_id]
    closed = next(a for a in ledger.history("dev") if a.attempt_id == dead.attempt_id)
    assert closed.outcome == AttemptOutcome.INTERRUPTED and closed.finished
    assert closed.steps[-1].name == "infra"
    assert closed.steps[-1].outcome == StepOutcome.INTERRUPTED
    assert f"recovered by deploy {recovery.attempt_id}" in closed.steps[-1].detail
    assert all(c.broken is None for c in ledger.verify("dev"))


def test_a_deploy_whose_lease_was_taken_over_may_not_act_any_more(ledger: Ledger) -> None:
    attempt = Attempt("dev", "r-fff", "alice")
    with ledger.lease("dev", "alice", attempt.attempt_id, ttl_seconds=1.0, heartbeat=False):
        ledger.journal(attempt)
        time.sleep(1.2)  # paused past its lease (a laptop asleep): taken for dead
        with ledger.lease("dev", "bob", "recovery", heartbeat=False) as taken:
            assert taken.taken_over is not None
            assert taken.taken_over.attempt_id == attempt.attempt_id
            with pytest.raises(LeaseLostError, match="held by bob"):
                ledger.journal(attempt)  # what it writes before its next step or alias move


def test_an_attempt_killed_between_its_record_and_its_journal_s_removal_shows_once(
    ledger: Ledger,
) -> None:
    old = Attempt("dev", "r-ggg", "alice", started="2026-11-20T00:00:00.000+00:00")
    old.outcome = AttemptOutcome.SUCCEEDED
    ledger.record(old)
    ledger.journal(old)  # its journal entry, as a kill right after the record leaves it
    newer = [
        Attempt(
            "dev", f"r-{n}", "bob", started=f"2026-11-2{day}T00:00:00.000+00:00",
            outcome=AttemptOutcome.SUCCEEDED,
        )
        for day, n in enumerate("hij", start=1)
    ]  # fmt: skip
    for attempt in newer:
        ledger.record(attempt)
    shown = ledger.history("dev", limit=2)  # the old record is past the page
    assert [a.release for a in shown] == ["r-j", "r-i"]
    assert ledger.unfinished("dev") == []


def test_an_infra_step_cut_short_makes_the_next_deploy_plan(ledger: Ledger) -> None:
    good = Attempt("dev", "r-kkk", "alice", outcome=AttemptOutcome.SUCCEEDED)
    good.infra_fingerprint = "f" * 64
    ledger.record(good)
    assert last_fingerprint(ledger, "dev") == ("f" * 64, "r-kkk")
    running = Attempt("dev", "r-kkk", "bob")
    with ledger.lease("dev", "bob", running.attempt_id, heartbeat=False):
        running.at_step = "infra"  # the caller's own attempt, in its infra step
        ledger.journal(running)
        assert last_fingerprint(ledger, "dev") == ("f" * 64, "r-kkk")
        ledger.record(running)
    dead = Attempt("dev", "r-lll", "alice")
    dead.at_step = "infra"  # killed mid-apply: resources may have changed, the state not
    ledger.journal(dead)
    assert last_fingerprint(ledger, "dev") is None
