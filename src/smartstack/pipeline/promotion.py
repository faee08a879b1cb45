"""Use-cases around deploys: approve, roll back, release a stale lease, report.

Everything reads and writes the deployments ledger through the environment's
own target, so on AWS each command acts with that environment's role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from smartstack.aws.environment import EnvironmentContext, open_environment
from smartstack.aws.lambda_api import move_live
from smartstack.core.config import Settings
from smartstack.core.environments import environment_names
from smartstack.core.errors import UsageError
from smartstack.pipeline.gates import check_approver
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
    live_attempt,
)
from smartstack.release.store import load_release


def ledger_of(environment: EnvironmentContext) -> Ledger:
    """The deployments table, read and written as the environment's own identity."""
    return Ledger(environment.target, environment.project, environment.settings.lease_ttl_seconds)


def approve(environment: EnvironmentContext, release: str) -> Approval:
    """Record the caller (from STS) as approving ``release`` for the environment: the manifest
    as published now, by its sha256."""
    env = environment.name
    if not environment.config.require_approval:
        raise UsageError(f"{env} takes no approvals (require_approval is false in its tfvars).")
    published = load_release(environment.target, environment.artifacts_bucket, release)
    ledger = ledger_of(environment)
    check_approver(environment.config, ledger, published, environment.caller)
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
    """Move ``live`` of every function back to the previous successful release; recorded."""
    env, target, ledger = environment.name, environment.target, ledger_of(environment)
    attempts = ledger.history(env, limit=None)
    current = live_attempt(attempts)
    if current is None:
        raise UsageError(f"nothing has been deployed to {env}; there is nothing to roll back.")
    previous = rollback_target(attempts)
    if previous is None:
        raise UsageError(
            f"{env} runs {current.release} and has no earlier successful release to go back to."
        )
    who = environment.caller
    attempt = Attempt(
        env, previous.release, who, kind=AttemptKind.ROLLBACK,
        manifest_sha256=previous.manifest_sha256,
    )  # fmt: skip
    with ledger.lease(env, who, attempt.attempt_id):
        started = datetime.now(UTC)
        for service, version in sorted(previous.versions.items()):
            move_live(target, environment.resource_name(service), version)
        seconds = (datetime.now(UTC) - started).total_seconds()
        moved = ", ".join(f"{s} v{v}" for s, v in sorted(previous.versions.items()))
        attempt.steps.append(
            StepRecord(
                "app", StepOutcome.SUCCEEDED, round(seconds, 3), f"from {current.release}: {moved}"
            )
        )
        attempt.versions = dict(previous.versions)
        attempt.infra_fingerprint = current.infra_fingerprint
        attempt.outcome = AttemptOutcome.SUCCEEDED
        attempt.finished = datetime.now(UTC).isoformat(timespec="milliseconds")
        ledger.record(attempt)
    return attempt


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
