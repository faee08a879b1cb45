"""The deployments table: every attempt, every approval, one lease per environment.

Key scheme (table ``smartstack-deployments``, string keys ``pk`` and ``sk``):

==========================  ==========================  ==============================
item                        pk                          sk
==========================  ==========================  ==============================
a deploy attempt            ``env#<env>``               ``deploy#<started ISO>#<id>``
an attempt in flight        ``env#<env>``               ``open#<id>``
the environment's lease     ``env#<env>``               ``lease``
an approval                 ``approvals#<env>#<user>``  ``approval#<ISO>#<release>``
==========================  ==========================  ==============================

What an environment's deploys write lives under its own partition key, so its role
can be confined to it with ``dynamodb:LeadingKeys``; each approver has a partition of
their own, which only they may write, so a deploy role cannot approve and an approver
cannot approve in another's name.
An attempt is journaled: ``open#<id>`` is written when it starts and at every step
transition and alias move, before the move (which step, which aliases moved and from
which version), and removed once its final record is written.  An open attempt whose
lease is gone or expired died: it reads as ``interrupted`` until a recovery (``deploy
--resume`` or ``rollback``) closes it.
The lease is a conditional write: of two deploys, exactly one gets it.  Attempts
and approvals are written once, chained (:mod:`smartstack.pipeline.ledger_chain`) and
anchored in the artifacts bucket (:mod:`smartstack.pipeline.ledger_anchors`); each
names the sha256 of the release's manifest it deployed or approved.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from smartstack.aws.errors import error_code
from smartstack.aws.target import AwsTarget
from smartstack.core.errors import LeaseHeldError, LeaseLostError, UsageError
from smartstack.core.naming import DEFAULT_PROJECT, check_environment_name, person_of
from smartstack.pipeline.ledger_anchors import AnchorStore, first_break_anchored
from smartstack.pipeline.ledger_chain import Break, Item, chained


def deployments_table(project: str = DEFAULT_PROJECT) -> str:
    return f"{project}-deployments"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _pk(env: str) -> str:
    return f"env#{check_environment_name(env)}"


def approvals_pk(env: str, person: str) -> str:
    """The partition of ``person``'s approvals for ``env``: IAM lets an approver write only
    their own (``dynamodb:LeadingKeys`` ``approvals#<env>#${aws:username}``), so the key, not
    an attribute the writer chose, says who approved."""
    return f"approvals#{check_environment_name(env)}#{person}"


LEASE_TTL_SECONDS = 300.0  # a lease not renewed for this long is its dead holder's

_ATTEMPTS = "deploy#"
_OPEN = "open#"
_APPROVALS = "approval#"


class StepOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"  # nothing to do: the detail says why
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # a signal, a time limit, or the deploy died in it


class AttemptOutcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled back"  # smoke failed and `live` went back
    INTERRUPTED = "interrupted"  # stopped by a signal or died; never counts as passed


class AttemptKind(StrEnum):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    ROTATION = "rotation"  # a secret rotated (`secrets rotate`): the release stayed as it was


@dataclass(frozen=True)
class StepRecord:
    name: str
    outcome: StepOutcome
    seconds: float
    detail: str = ""


@dataclass
class Attempt:
    """One deploy of a release to an environment: journaled as it goes, recorded when it
    ends."""

    env: str
    release: str
    who: str
    started: str = field(default_factory=_now)
    attempt_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    steps: list[StepRecord] = field(default_factory=list)
    outcome: AttemptOutcome = AttemptOutcome.RUNNING
    finished: str = ""
    kind: AttemptKind = AttemptKind.DEPLOY
    # The version each function's `live` alias points at after this attempt: what a
    # rollback moves back to.
    versions: dict[str, str] = field(default_factory=dict)
    # Hash of everything the infra step applied (code, tfvars, inputs, state version):
    # an unchanged fingerprint lets the next deploy skip planning.
    infra_fingerprint: str = ""
    # The sha256 of the release's manifest as deployed: the release's identity.
    manifest_sha256: str = ""
    # The version each alias this attempt moved (or was about to move) ran before it, as
    # journaled before the move: where an undo moves it back to.
    before: dict[str, str] = field(default_factory=dict)
    # The attempts this one recovers (`deploy --resume`, `rollback` after a deploy died).
    resumes: list[str] = field(default_factory=list)
    # The step in progress when the journal was last written ("" between steps).
    at_step: str = ""

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def unfinished(self) -> bool:
        """Died without a final record: nothing may deploy over it until it is recovered."""
        return self.outcome == AttemptOutcome.INTERRUPTED and not self.finished


@dataclass(frozen=True)
class Approval:
    env: str
    release: str
    approver: str
    at: str
    manifest_sha256: str = ""


@dataclass(frozen=True)
class ChainCheck:
    """One partition's chain: how many records, and where it breaks (if it does)."""

    partition: str
    records: int
    broken: Break | None


@dataclass(frozen=True)
class Lease:
    env: str
    holder: str
    attempt_id: str
    acquired: str
    expires: float = 0.0  # epoch seconds, pushed on by the holder's heartbeat; 0: never
    taken_over: Lease | None = None  # the dead holder's lease this one replaced

    def expired(self, now: float) -> bool:
        return 0 < self.expires < now


class Ledger:
    """Reads and writes the deployments table through one ``AwsTarget``."""

    def __init__(
        self, target: AwsTarget, project: str, lease_ttl_seconds: float = LEASE_TTL_SECONDS
    ) -> None:
        self.ddb = target.client("dynamodb")
        self.table = deployments_table(project)
        self.anchors = AnchorStore(target, project)
        self.lease_ttl_seconds = lease_ttl_seconds
        self._leased: set[tuple[str, str]] = set()  # (env, attempt id) holding a lease here

    def record(self, attempt: Attempt) -> None:
        """The attempt's final record (chained, written once); then its journal entry goes."""
        if not attempt.finished:
            attempt.finished = _now()
        item = _attempt_item(attempt, f"{_ATTEMPTS}{attempt.started}#{attempt.attempt_id}")
        self._append(_ATTEMPTS, item)
        self.ddb.delete_item(TableName=self.table, Key=_open_key(attempt))

    def journal(self, attempt: Attempt) -> None:
        """Write where the attempt is now (its step, its moves), before acting on it: a
        deploy that dies leaves this behind.

        An attempt holding its lease in this process must still hold it: one that was
        paused past its lease's time to live (a laptop asleep, a network cut) may have been
        taken for dead and recovered by someone else, and must not act any more.
        """
        if (attempt.env, attempt.attempt_id) in self._leased:
            current = self.current_lease(attempt.env)
            if current is None or current.attempt_id != attempt.attempt_id:
                who = f"{current.holder} (attempt {current.attempt_id})" if current else "no one"
                raise LeaseLostError(
                    f"{attempt.env}'s lease is no longer this deploy's (attempt "
                    f"{attempt.attempt_id}): it is held by {who}, who took this deploy for "
                    "dead; it stops here without touching anything more (see `smartstack "
                    f"history {attempt.env}`)."
                )
        item = _attempt_item(attempt, f"{_OPEN}{attempt.attempt_id}")
        item["started"] = {"S": attempt.started}
        item["at_step"] = {"S": attempt.at_step}
        self.ddb.put_item(TableName=self.table, Item=item)

    def close_interrupted(self, attempt: Attempt, by: Attempt) -> None:
        """Record an attempt that died as interrupted, at the step it died in, naming the
        attempt that recovers it (which must be journaled first: a kill in between leaves
        both open, and the next recovery takes both)."""
        closed = replace(
            attempt,
            steps=list(attempt.steps),
            outcome=AttemptOutcome.INTERRUPTED,
            finished=_now(),
        )
        closed.steps.append(
            StepRecord(
                attempt.at_step or "-", StepOutcome.INTERRUPTED, 0.0,
                f"the deploy died here; recovered by {by.kind} {by.attempt_id} of {by.release}",
            )
        )  # fmt: skip
        self.record(closed)

    def _append(self, prefix: str, item: Item) -> None:
        """Write a new record at the end of its partition's chain (never over another),
        then its anchor."""
        pk = item["pk"]["S"]
        newest = self._query_pk(pk, prefix, limit=1, newest_first=True)
        record = chained(item, newest[0] if newest else None)
        self.ddb.put_item(
            TableName=self.table, Item=record, ConditionExpression="attribute_not_exists(pk)"
        )
        self.anchors.write(record)

    def verify(self, env: str) -> list[ChainCheck]:
        """Recompute the chains of ``env``'s attempts and of each approver's approvals, and
        hold each against its anchors (read first: see :meth:`AnchorStore.under`)."""
        anchored = self.anchors.under(f"{_pk(env)}/")
        anchored.update(self.anchors.under(approvals_pk(env, "")))
        attempts = self._query_pk(_pk(env), _ATTEMPTS, limit=None, newest_first=False)
        anchors = anchored.pop(_pk(env), {})
        checks = [ChainCheck(_pk(env), len(attempts), first_break_anchored(attempts, anchors))]
        by_partition: dict[str, list[Item]] = {pk: [] for pk in anchored}  # all gone: anchors
        for item in self._approval_items(env):
            by_partition.setdefault(item["pk"]["S"], []).append(item)
        for pk, items in sorted(by_partition.items()):
            items.sort(key=lambda i: i["sk"]["S"])
            broken = first_break_anchored(items, anchored.get(pk, {}))
            checks.append(ChainCheck(pk, len(items), broken))
        return checks

    def _approval_items(self, env: str) -> list[Item]:
        """Every approval for ``env``, by anyone (a scan: the approvers are not known)."""
        args: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "begins_with(pk, :p) AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {
                ":p": {"S": approvals_pk(env, "")},
                ":s": {"S": _APPROVALS},
            },
            "ConsistentRead": True,
        }
        items: list[Item] = []
        while True:
            page = self.ddb.scan(**args)
            items.extend(page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return items
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def history(self, env: str, limit: int | None = 50) -> list[Attempt]:
        """Newest first, attempts in flight or dead (``running``, ``interrupted``) ahead of
        the recorded ones; ``limit=None`` reads every page."""
        items = self._query(env, _ATTEMPTS, limit=limit, newest_first=True)
        recorded = [_attempt_from_item(env, item) for item in items]
        done = {a.attempt_id for a in recorded}
        journaled = [
            a
            for a in (_attempt_from_item(env, i) for i in self._query(env, _OPEN, None, True))
            if a.attempt_id not in done and not self._recorded(a)
        ]
        if journaled:
            lease = self.current_lease(env)
            now = time.time()
            for attempt in journaled:
                holds = lease is not None and lease.attempt_id == attempt.attempt_id
                if not holds or lease is None or lease.expired(now):
                    attempt.outcome = AttemptOutcome.INTERRUPTED  # its holder is gone
            journaled.sort(key=lambda a: a.started, reverse=True)
        merged = journaled + recorded
        return merged if limit is None else merged[:limit]

    def _recorded(self, attempt: Attempt) -> bool:
        """Whether an attempt has its final record: one killed between writing it and
        removing its journal entry leaves both."""
        key = {
            "pk": {"S": _pk(attempt.env)},
            "sk": {"S": f"{_ATTEMPTS}{attempt.started}#{attempt.attempt_id}"},
        }
        found = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        return "Item" in found

    def unfinished(self, env: str) -> list[Attempt]:
        """Attempts that died without a final record, oldest first."""
        return dead_attempts(self.history(env, limit=None))

    def succeeded(self, env: str, release: str) -> list[Attempt]:
        """Every successful deploy of ``release`` to ``env``, newest first (all pages)."""
        return [
            a
            for a in self.history(env, limit=None)
            if a.release == release
            and a.kind == AttemptKind.DEPLOY
            and a.outcome == AttemptOutcome.SUCCEEDED
        ]

    def approve(self, env: str, release: str, manifest_sha256: str, approver: str) -> Approval:
        """Record ``approver`` (an IAM user's ARN) approving ``release``'s manifest."""
        person = person_of(approver)
        if person is None:
            raise UsageError(f"{approver} is not an IAM user: approvals come from people.")
        approval = Approval(env, release, approver, _now(), manifest_sha256)
        self._append(
            _APPROVALS,
            {
                "pk": {"S": approvals_pk(env, person)},
                "sk": {"S": f"{_APPROVALS}{approval.at}#{release}"},
                "release": {"S": release},
                "manifest_sha256": {"S": manifest_sha256},
                "approver": {"S": approver},
                "at": {"S": approval.at},
            },
        )
        return approval

    def approval(self, env: str, release: str) -> Approval | None:
        """The newest approval of ``release`` for ``env``.  Its approver is the person whose
        partition holds it; an item naming someone else (written by hand) does not count."""
        found = []
        for item in self._approval_items(env):
            person = item["pk"]["S"][len(approvals_pk(env, "")) :]
            approver = item.get("approver", {}).get("S", "")
            if item.get("release", {}).get("S") == release and person_of(approver) == person:
                found.append(item)
        if not found:
            return None
        newest = max(found, key=lambda i: i["sk"]["S"])
        return Approval(
            env, release, newest["approver"]["S"], newest["at"]["S"],
            newest.get("manifest_sha256", {}).get("S", ""),
        )  # fmt: skip

    @contextmanager
    def lease(
        self,
        env: str,
        holder: str,
        attempt_id: str,
        ttl_seconds: float | None = None,
        heartbeat: bool = True,
    ) -> Iterator[Lease]:
        """Hold the environment's lease for the block; fails fast if someone else has it.

        A heartbeat pushes the lease's expiry on every third of ``ttl_seconds``.  A lease
        whose holder stopped (killed, its machine gone) expires, and the next deploy takes it
        over: one conditional write, so of two takers exactly one wins, and the lease it
        returns names the one it replaced.
        """
        ttl_seconds = ttl_seconds or self.lease_ttl_seconds
        now = time.time()
        lease = Lease(env, holder, attempt_id, _now(), now + ttl_seconds)
        item = self._lease_item(lease)
        try:
            self.ddb.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            lease = self._take_over(lease, item, now)
        stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(lease, ttl_seconds, stop), daemon=True,
            name=f"lease heartbeat {env}",
        )  # fmt: skip
        if heartbeat:
            beat.start()
        self._leased.add((env, attempt_id))
        try:
            yield lease
        finally:
            self._leased.discard((env, attempt_id))
            stop.set()
            try:
                if heartbeat:
                    beat.join()
            finally:  # a second Ctrl-C while the beat stops still releases the lease
                self._release(env, attempt_id)

    def _take_over(self, lease: Lease, item: Item, now: float) -> Lease:
        env = lease.env
        current = self.current_lease(env)
        if current is None or not current.expired(now):
            who = f"{current.holder} since {current.acquired}" if current else "another deploy"
            raise LeaseHeldError(
                f"{env} is being deployed by {who}; wait, or if that deploy is dead: "
                f"smartstack unlock {env} (a lease without a heartbeat expires by itself)."
            )
        taken = replace(lease, taken_over=current)
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item=dict(item, took_over={"S": f"{current.holder} ({current.attempt_id})"}),
                ConditionExpression="attempt_id = :old AND expires < :now",
                ExpressionAttributeValues={
                    ":old": {"S": current.attempt_id},
                    ":now": {"N": f"{now:.3f}"},
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            raise LeaseHeldError(
                f"{env}'s expired lease was just taken by another deploy."
            ) from exc
        return taken

    def _heartbeat(self, lease: Lease, ttl_seconds: float, stop: threading.Event) -> None:
        """Push the expiry on while the holder lives; stop if the lease was taken."""
        while not stop.wait(ttl_seconds / 3):
            renewed = replace(lease, expires=time.time() + ttl_seconds)
            try:
                self.ddb.put_item(
                    TableName=self.table,
                    Item=self._lease_item(renewed),
                    ConditionExpression="attempt_id = :id",
                    ExpressionAttributeValues={":id": {"S": lease.attempt_id}},
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return  # taken over or unlocked: nothing left to renew
                continue  # throttled, or a server error: the next beat tries again
            except Exception:  # a network hiccup: the next beat tries again
                continue

    @staticmethod
    def _lease_item(lease: Lease) -> Item:
        return {
            "pk": {"S": _pk(lease.env)},
            "sk": {"S": "lease"},
            "holder": {"S": lease.holder},
            "attempt_id": {"S": lease.attempt_id},
            "acquired": {"S": lease.acquired},
            "expires": {"N": f"{lease.expires:.3f}"},
        }

    def current_lease(self, env: str) -> Lease | None:
        item = self.ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": _pk(env)}, "sk": {"S": "lease"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        return Lease(
            env, item["holder"]["S"], item["attempt_id"]["S"], item["acquired"]["S"],
            float(item.get("expires", {}).get("N", "0")),
        )  # fmt: skip

    def unlock(self, env: str, attempt_id: str) -> Lease:
        """Release the lease if ``attempt_id`` (the one shown to the user) still holds it: one
        conditional delete, so a lease taken meanwhile by another deploy is never released."""
        try:
            old = self.ddb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": _pk(env)}, "sk": {"S": "lease"}},
                ConditionExpression="attempt_id = :id",
                ExpressionAttributeValues={":id": {"S": attempt_id}},
                ReturnValues="ALL_OLD",
            )["Attributes"]
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            if self.current_lease(env) is None:
                raise UsageError(f"{env} has no lease to release.") from None
            raise UsageError(f"{env}'s lease changed hands meanwhile; run unlock again.") from None
        return Lease(
            env, old["holder"]["S"], old["attempt_id"]["S"], old["acquired"]["S"],
            float(old.get("expires", {}).get("N", "0")),
        )  # fmt: skip

    def _release(self, env: str, attempt_id: str) -> None:
        try:
            self.ddb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": _pk(env)}, "sk": {"S": "lease"}},
                ConditionExpression="attempt_id = :id",
                ExpressionAttributeValues={":id": {"S": attempt_id}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def _query(
        self, env: str, prefix: str, limit: int | None, newest_first: bool
    ) -> list[dict[str, Any]]:
        return self._query_pk(_pk(env), prefix, limit, newest_first)

    def _query_pk(
        self, pk: str, prefix: str, limit: int | None, newest_first: bool
    ) -> list[dict[str, Any]]:
        args: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
            "ScanIndexForward": not newest_first,
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            if limit is not None:
                args["Limit"] = limit - len(items)
            response = self.ddb.query(**args)
            items.extend(response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last or (limit is not None and len(items) >= limit):
                return items
            args["ExclusiveStartKey"] = last


def dead_attempts(attempts: list[Attempt]) -> list[Attempt]:
    """Of a newest-first history, the attempts that died unrecovered, oldest first."""
    return [a for a in reversed(attempts) if a.unfinished]


def live_attempt(attempts: list[Attempt]) -> Attempt | None:
    """Of a newest-first history, the attempt that put the running release in place."""
    return next(
        (
            a
            for a in attempts
            if a.outcome == AttemptOutcome.SUCCEEDED and a.kind != AttemptKind.ROTATION
        ),
        None,
    )


def describe_unfinished(attempt: Attempt) -> str:
    """One line on an interrupted attempt: what it did and where it stopped."""
    moved = ", ".join(f"{s} from v{v}" for s, v in sorted(attempt.before.items()))
    if attempt.finished:  # it stopped cleanly and moved its aliases back
        where = next((s.name for s in attempt.steps if s.outcome == StepOutcome.INTERRUPTED), "")
        how, moved = "was interrupted", ""
    else:
        where, how = attempt.at_step, "died"
    return (
        f"attempt {attempt.attempt_id} ({attempt.kind} of {attempt.release} by "
        f"{attempt.who.rsplit('/', 1)[-1]}, started {attempt.started[:19]}) {how} "
        f"{'in ' + where if where else 'between steps'}"
        + (f" after moving {moved}" if moved else "")
    )


def _steps_item(steps: list[StepRecord]) -> Item:
    return {
        "L": [
            {
                "M": {
                    "name": {"S": s.name},
                    "outcome": {"S": s.outcome},
                    "seconds": {"N": f"{s.seconds:.3f}"},
                    "detail": {"S": s.detail},
                }
            }
            for s in steps
        ]
    }


def _attempt_item(attempt: Attempt, sk: str) -> Item:
    item: Item = {
        "pk": {"S": _pk(attempt.env)},
        "sk": {"S": sk},
        "release": {"S": attempt.release},
        "manifest_sha256": {"S": attempt.manifest_sha256},
        "who": {"S": attempt.who},
        "outcome": {"S": attempt.outcome},
        "finished": {"S": attempt.finished},
        "steps": _steps_item(attempt.steps),
        "kind": {"S": attempt.kind},
        "versions": {"M": {k: {"S": v} for k, v in attempt.versions.items()}},
        "infra_fingerprint": {"S": attempt.infra_fingerprint},
    }
    if attempt.before:  # absent on records written before the journal existed
        item["before"] = {"M": {k: {"S": v} for k, v in attempt.before.items()}}
    if attempt.resumes:
        item["resumes"] = {"L": [{"S": r} for r in attempt.resumes]}
    return item


def _open_key(attempt: Attempt) -> Item:
    return {"pk": {"S": _pk(attempt.env)}, "sk": {"S": f"{_OPEN}{attempt.attempt_id}"}}


def _attempt_from_item(env: str, item: dict[str, Any]) -> Attempt:
    sk = item["sk"]["S"]
    if sk.startswith(_OPEN):
        started, attempt_id = item["started"]["S"], sk.removeprefix(_OPEN)
    else:
        _, started, attempt_id = sk.split("#", 2)
    steps = [
        StepRecord(
            s["M"]["name"]["S"],
            StepOutcome(s["M"]["outcome"]["S"]),
            float(s["M"]["seconds"]["N"]),
            s["M"]["detail"]["S"],
        )
        for s in item.get("steps", {}).get("L", [])
    ]
    return Attempt(
        env,
        item["release"]["S"],
        item["who"]["S"],
        started,
        attempt_id,
        steps,
        AttemptOutcome(item["outcome"]["S"]),
        item["finished"]["S"],
        AttemptKind(item.get("kind", {}).get("S", AttemptKind.DEPLOY)),
        {k: v["S"] for k, v in item.get("versions", {}).get("M", {}).items()},
        item.get("infra_fingerprint", {}).get("S", ""),
        item.get("manifest_sha256", {}).get("S", ""),
        {k: v["S"] for k, v in item.get("before", {}).get("M", {}).items()},
        [r["S"] for r in item.get("resumes", {}).get("L", [])],
        item.get("at_step", {}).get("S", ""),
    )
