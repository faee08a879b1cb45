"""Use-cases around deploys: approve, roll back, release a stale lease, report.

Everything reads and writes the deployments ledger through the environment's
own target, so on AWS each command acts with that environment's role.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from smartstack.aws.environment import EnvironmentContext, open_environment
from smartstack.aws.lambda_api import move_live
from smartstack.core.config import Settings
from smartstack.core.environments import environment_names
from smartstack.core.errors import UsageError
from smartstack.pipeline.deploy import Deployment, released_config
from smartstack.pipeline.gates import check_approver, gate_config
from smartstack.pipeline.ledger import (
    Approval,
    Attempt,
    AttemptKind,
    AttemptOutcome,
    ChainCheck,
    Lease,
    Ledger,
    StepOutcome,
    StepRecord,
    dead_attempts,
    live_attempt,
)
from smartstack.release.store import load_release


def ledger_of(environment: EnvironmentContext) -> Ledger:
    """The deployments table, read and written as the environment's own identity."""
    return Ledger(environment.target, environment.project, environment.settings.lease_ttl_seconds)


def approve(environment: EnvironmentContext, release: str) -> Approval:
    """Record the caller (from STS) as approving ``release`` for the environment: the manifest
    as published now, by its sha256. The deploy policy obeyed is the deploy's own (the
    stricter of the checkout's and the release's), so what the deploy would refuse is
    refused now."""
    env = environment.name
    bucket = environment.artifacts_bucket
    published = load_release(environment.target, bucket, release)
    ledger = ledger_of(environment)
    approval = Deployment(environment, published, ledger, bucket, environment.caller)
    config = gate_config(environment.config, released_config(approval))
    if not config.require_approval:
        raise UsageError(f"{env} takes no approvals (require_approval is false in its tfvars).")
    check_approver(config, ledger, published, environment.caller)
    return ledger.approve(env, release, published.sha256, environment.caller)


def verify_ledger(environment: EnvironmentContext) -> list[ChainCheck]:
    """Recompute the hash chains of the environment's attempts and approvals."""
    return ledger_of(environment).verify(environment.name)


def history(environment: EnvironmentContext, limit: int = 20) -> list[Attempt]:
    return ledger_of(environment).history(environment.name, limit=limit)


def rollback_target(attempts: list[Attempt]) -> Attempt | None:
    """The successful deploy that was live before the current release (newest-first input).

    Releases that a rollback replaced are skipped, so rolling back twice goes
    further back instead of returning to the release just abandoned.
    """
    succeeded = [
        a
        for a in attempts
        if a.outcome == AttemptOutcome.SUCCEEDED and a.kind != AttemptKind.ROTATION
    ]
    if not succeeded:
        return None
    skip = {succeeded[0].release}
    after_rollback = succeeded[0].kind == AttemptKind.ROLLBACK
    for attempt in succeeded[1:]:
        if after_rollback:
            skip.add(attempt.release)
        after_rollback = attempt.kind == AttemptKind.ROLLBACK
        if attempt.kind == AttemptKind.DEPLOY and attempt.release not in skip and attempt.versions:
            return attempt
    return None


def rollback(environment: EnvironmentContext) -> Attempt:
    """Move ``live`` of every function back to the previous successful release; recorded.

    After an attempt that died (see :meth:`Ledger.unfinished`), back to the release that
    was live before it instead: the one that last passed smoke, never one further back;
    with none (a first deploy died), its aliases go back to where it found them.  The
    target is chosen under the lease, so no deploy can finish in between.
    """
    env, target, ledger = environment.name, environment.target, ledger_of(environment)
    who = environment.caller
    attempt_id = uuid.uuid4().hex[:12]
    with ledger.lease(env, who, attempt_id):
        attempts = ledger.history(env, limit=None)
        current = live_attempt(attempts)
        dead = dead_attempts(attempts)
        previous = _undo_target(dead, current) if dead else _previous(env, attempts, current)
        attempt = Attempt(
            env, previous.release, who, attempt_id=attempt_id, kind=AttemptKind.ROLLBACK,
            manifest_sha256=previous.manifest_sha256, versions=dict(previous.versions),
            resumes=[a.attempt_id for a in dead],
        )  # fmt: skip
        ledger.journal(attempt)  # its destination, before anything moves
        for died in dead:
            ledger.close_interrupted(died, attempt)
        started = datetime.now(UTC)
        for service, version in sorted(previous.versions.items()):
            move_live(target, environment.resource_name(service), version)
        seconds = (datetime.now(UTC) - started).total_seconds()
        moved = ", ".join(f"{s} v{v}" for s, v in sorted(previous.versions.items()))
        source = current.release if current and not dead else ""
        if dead:
            source = f"attempt {dead[-1].attempt_id} ({dead[-1].release}, interrupted)"
        attempt.steps.append(
            StepRecord("app", StepOutcome.SUCCEEDED, round(seconds, 3), f"from {source}: {moved}")
        )
        # after a dead deploy the state may hold its infrastructure: the next deploy plans
        attempt.infra_fingerprint = current.infra_fingerprint if current and not dead else ""
        # with nothing live before, the dead deploy is undone but nothing passed smoke
        nothing_live = dead and current is None
        attempt.outcome = AttemptOutcome.ROLLED_BACK if nothing_live else AttemptOutcome.SUCCEEDED
        ledger.record(attempt)
    return attempt


def _previous(env: str, attempts: list[Attempt], current: Attempt | None) -> Attempt:
    if current is None:
        raise UsageError(f"nothing has been deployed to {env}; there is nothing to roll back.")
    previous = rollback_target(attempts)
    if previous is None:
        raise UsageError(
            f"{env} runs {current.release} and has no earlier successful release to go back to."
        )
    return previous


def _undo_target(dead: list[Attempt], current: Attempt | None) -> Attempt:
    """Where a rollback goes after attempts died (oldest first): a dead rollback's own
    destination, else the release live before the dead deploy, at the versions that
    passed smoke with it (a function it did not name goes back to the version journaled
    before the dead deploy moved it); with nothing live, the journaled versions alone."""
    newest = dead[-1]
    if newest.kind == AttemptKind.ROLLBACK:
        return newest
    versions = dict(current.versions) if current else {}
    for died in dead:
        for service, version in died.before.items():
            versions.setdefault(service, version)
    if current is None:
        return replace(newest, versions=versions)
    return replace(current, versions=versions)


def current_lease(environment: EnvironmentContext) -> Lease | None:
    return ledger_of(environment).current_lease(environment.name)


def unlock(environment: EnvironmentContext, attempt_id: str) -> Lease:
    """Release the lease held by ``attempt_id`` (shown to the user first); returns it."""
    return ledger_of(environment).unlock(environment.name, attempt_id)


@dataclass(frozen=True)
class EnvironmentStatus:
    env: str
    current: Attempt | None
    last: Attempt | None  # the newest attempt, whatever its outcome
    lease: Lease | None
    promotes_from: str | None
    waiting: str | None = None  # a release that passed promotes_from and is not live here
    needs_approval: bool = False
    approval: Approval | None = None
    broken: list[ChainCheck] = field(default_factory=list)  # chains of its ledger that break


def status(settings: Settings) -> list[EnvironmentStatus]:
    """Per environment, in promotion order: what runs, what waits to be promoted or approved."""
    report: list[EnvironmentStatus] = []
    current_by_env: dict[str, Attempt | None] = {}
    for env in environment_names(settings.configs_dir):
        environment = open_environment(settings, env)
        config, ledger = environment.config, ledger_of(environment)
        attempts = ledger.history(env, limit=None)
        current = live_attempt(attempts)
        current_by_env[env] = current
        waiting = None
        approval = None
        source = config.promotes_from
        if source is not None:
            upstream = current_by_env.get(source)
            if upstream is not None and (current is None or upstream.release != current.release):
                waiting = upstream.release
                if config.require_approval:
                    approval = ledger.approval(env, waiting)
        report.append(
            EnvironmentStatus(
                env=env,
                current=current,
                last=attempts[0] if attempts else None,
                lease=ledger.current_lease(env),
                promotes_from=source,
                waiting=waiting,
                needs_approval=config.require_approval,
                approval=approval,
                broken=[c for c in ledger.verify(env) if c.broken],
            )
        )
    return report
