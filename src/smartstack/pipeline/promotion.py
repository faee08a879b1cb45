"""Use-cases around deploys: approve, roll back, release a stale lease, report.

Everything reads and writes the deployments ledger through the environment's
own target, so on AWS each command acts with that environment's role.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from smartstack.aws.lambda_api import move_live
from smartstack.aws.target import AwsTarget, environment_target
from smartstack.core.config import Settings
from smartstack.core.environments import EnvironmentConfig, environment_names, load_environment
from smartstack.core.errors import UsageError
from smartstack.core.naming import artifacts_bucket_name, resource_name
from smartstack.pipeline.ledger import Approval, Attempt, Lease, Ledger, StepRecord, live_attempt
from smartstack.release.store import load_release


def _open(settings: Settings, env: str) -> tuple[EnvironmentConfig, AwsTarget, Ledger]:
    """The environment's settings (bad names refused first), its target and its ledger."""
    config = load_environment(settings.configs_dir, env)
    target = environment_target(settings, env)
    return config, target, Ledger(target, settings.project)


def approve(settings: Settings, env: str, release: str) -> Approval:
    """Record the caller (from STS) as approving ``release`` for ``env``."""
    config, target, ledger = _open(settings, env)
    if not config.require_approval:
        raise UsageError(f"{env} takes no approvals (require_approval is false in its tfvars).")
    bucket = artifacts_bucket_name(target.account_id(), target.region, settings.project)
    load_release(target, bucket, release)  # an unknown release is refused here
    return ledger.approve(env, release, target.caller_arn())


def history(settings: Settings, env: str, limit: int = 20) -> list[Attempt]:
    _, _, ledger = _open(settings, env)
    return ledger.history(env, limit=limit)


def rollback_target(attempts: list[Attempt]) -> Attempt | None:
    """The successful deploy that was live before the current release (newest-first input).

    Releases that a rollback replaced are skipped, so rolling back twice goes
    further back instead of returning to the release just abandoned.
    """
    succeeded = [a for a in attempts if a.outcome == "succeeded"]
    if not succeeded:
        return None
    skip = {succeeded[0].release}
    after_rollback = succeeded[0].kind == "rollback"
    for attempt in succeeded[1:]:
        if after_rollback:
            skip.add(attempt.release)
        after_rollback = attempt.kind == "rollback"
        if attempt.kind == "deploy" and attempt.release not in skip and attempt.versions:
            return attempt
    return None


def rollback(settings: Settings, env: str) -> Attempt:
    """Move ``live`` of every function back to the previous successful release; recorded."""
    _, target, ledger = _open(settings, env)
    attempts = ledger.history(env, limit=None)
    current = live_attempt(attempts)
    if current is None:
        raise UsageError(f"nothing has been deployed to {env}; there is nothing to roll back.")
    previous = rollback_target(attempts)
    if previous is None:
        raise UsageError(
            f"{env} runs {current.release} and has no earlier successful release to go back to."
        )
    who = target.caller_arn()
    attempt = Attempt(env, previous.release, who, kind="rollback")
    with ledger.lease(env, who, attempt.attempt_id):
        started = datetime.now(UTC)
        for service, version in sorted(previous.versions.items()):
            move_live(target, resource_name(env, service, settings.project), version)
        seconds = (datetime.now(UTC) - started).total_seconds()
        moved = ", ".join(f"{s} v{v}" for s, v in sorted(previous.versions.items()))
        attempt.steps.append(
            StepRecord("app", "succeeded", round(seconds, 3), f"from {current.release}: {moved}")
        )
        attempt.versions = dict(previous.versions)
        attempt.infra_fingerprint = current.infra_fingerprint
        attempt.outcome = "succeeded"
        attempt.finished = datetime.now(UTC).isoformat(timespec="milliseconds")
        ledger.record(attempt)
    return attempt


def current_lease(settings: Settings, env: str) -> Lease | None:
    _, _, ledger = _open(settings, env)
    return ledger.current_lease(env)


def unlock(settings: Settings, env: str, attempt_id: str) -> Lease:
    """Release the lease held by ``attempt_id`` (shown to the user first); returns it."""
    _, _, ledger = _open(settings, env)
    lease = ledger.current_lease(env)
    if lease is None:
        raise UsageError(f"{env} has no lease to release.")
    if lease.attempt_id != attempt_id:
        raise UsageError(f"{env}'s lease changed hands meanwhile; run unlock again.")
    return ledger.unlock(env)


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


def status(settings: Settings) -> list[EnvironmentStatus]:
    """Per environment, in promotion order: what runs, what waits to be promoted or approved."""
    report: list[EnvironmentStatus] = []
    current_by_env: dict[str, Attempt | None] = {}
    for env in environment_names(settings.configs_dir):
        config, _, ledger = _open(settings, env)
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
            )
        )
    return report
