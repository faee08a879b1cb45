"""Use-case: ``smartstack secrets rotate <env> db-password``.

A new password, generated here and never shown, goes to Parameter Store (the services'
source) and to RDS (``ModifyDBInstance``, applied at once), in that order; if RDS refuses
it, Parameter Store gets the old one back.  Then the environment's migrator, from inside
the VPC, connects with the new password and ends every other session of the database
user, so each service connects again with it (they read their settings afresh when the
password they hold is refused) and no session opened with the old one lives on.  The
smoke checks then prove the services work.  The whole is recorded in the ledger as a
``rotation`` attempt, holding the environment's lease like a deploy.

The stack's write-only ``password_wo`` is not involved: it sends the parameter's value
to RDS only when ``db_password_version`` changes, and the value it would send is this one.
"""

from __future__ import annotations

import secrets as token
import time
from collections.abc import Callable
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from smartstack.aws.environment import EnvironmentContext
from smartstack.aws.errors import error_code
from smartstack.aws.lambda_api import live_version
from smartstack.core.errors import CommandFailedError, SmartStackError, UsageError
from smartstack.core.naming import environment_key_alias
from smartstack.core.services import MIGRATOR
from smartstack.pipeline.ledger import (
    Attempt,
    AttemptKind,
    AttemptOutcome,
    Ledger,
    StepOutcome,
    StepRecord,
    describe_unfinished,
    live_attempt,
)
from smartstack.pipeline.migrator import can_end_sessions, end_sessions
from smartstack.pipeline.smoke import AwsFunctions, failures, smoke_test

ROTATABLE = ("db-password",)
_AVAILABLE_WAIT_SECONDS = 900


def rotate(environment: EnvironmentContext, key: str) -> Attempt:
    """Rotate ``key`` in the environment; returns the recorded attempt (its outcome says
    whether every step passed)."""
    if key not in ROTATABLE:
        raise UsageError(
            f"{key} cannot be rotated here: only {', '.join(ROTATABLE)} (other secrets: "
            f"smartstack secrets set {environment.name} {key})."
        )
    env, target = environment.name, environment.target
    ledger = Ledger(target, environment.project, environment.settings.lease_ttl_seconds)
    current = live_attempt(ledger.history(env, limit=None))
    if current is None or MIGRATOR not in current.versions:
        raise UsageError(f"nothing runs in {env} yet; rotate after its first deploy.")
    attempt = Attempt(
        env, current.release, environment.caller, kind=AttemptKind.ROTATION,
        versions=dict(current.versions), infra_fingerprint=current.infra_fingerprint,
        manifest_sha256=current.manifest_sha256,
    )  # fmt: skip
    migrator = environment.resource_name(MIGRATOR)
    version = live_version(target, migrator)
    if not can_end_sessions(target, migrator, version):  # before anything changes
        raise UsageError(
            f"{env}'s live migrator ({migrator} version {version}, release {current.release}) "
            "cannot end the services' sessions (it predates `secrets rotate`): deploy a newer "
            "release, then rotate."
        )
    with ledger.lease(env, attempt.who, attempt.attempt_id):
        if dead := ledger.unfinished(env):
            raise UsageError(
                f"{env}: {describe_unfinished(dead[-1])}; recover it first (`smartstack deploy "
                f"{env} --resume` or `smartstack rollback {env}`), then rotate."
            )
        try:
            _step(attempt, environment, "rotate", lambda: _rotate_password(environment))
            _step(
                attempt,
                environment,
                "reconnect",
                lambda: _reconnect(environment, migrator, version),
            )
            _step(attempt, environment, "smoke", lambda: _smoke(environment, current))
            attempt.outcome = AttemptOutcome.SUCCEEDED
        except SmartStackError:
            attempt.outcome = AttemptOutcome.FAILED
        finally:  # an interrupt too: recorded as failed, never left "running"
            if attempt.outcome == AttemptOutcome.RUNNING:
                attempt.outcome = AttemptOutcome.FAILED
            attempt.finished = datetime.now(UTC).isoformat(timespec="milliseconds")
            ledger.record(attempt)
    return attempt


def _step(
    attempt: Attempt, environment: EnvironmentContext, name: str, action: Callable[[], str]
) -> None:
    started = time.monotonic()
    redact = environment.redactor.redact
    try:
        detail = action()
    except SmartStackError as exc:
        seconds = round(time.monotonic() - started, 3)
        attempt.steps.append(StepRecord(name, StepOutcome.FAILED, seconds, redact(exc.message)))
        raise
    seconds = round(time.monotonic() - started, 3)
    attempt.steps.append(StepRecord(name, StepOutcome.SUCCEEDED, seconds, redact(detail)))


def _rotate_password(environment: EnvironmentContext) -> str:
    env, project = environment.name, environment.project
    ssm, rds = environment.target.client("ssm"), environment.target.client("rds")
    name = f"{environment.parameter_prefix}db-password"
    instance = environment.resource_name("db")
    old = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    new = token.token_urlsafe(32)
    environment.redactor.register(old)
    environment.redactor.register(new)
    key = environment_key_alias(env, project)
    ssm.put_parameter(Name=name, Value=new, Type="SecureString", KeyId=key, Overwrite=True)
    try:
        rds.modify_db_instance(
            DBInstanceIdentifier=instance, MasterUserPassword=new, ApplyImmediately=True
        )
    except BaseException as exc:  # refused, unreachable or interrupted: RDS kept the old one
        ssm.put_parameter(Name=name, Value=old, Type="SecureString", KeyId=key, Overwrite=True)
        if not isinstance(exc, ClientError):
            raise
        raise CommandFailedError(
            f"RDS refused the new password of {instance} ({error_code(exc)}); "
            f"{name} has its old value again and nothing changed."
        ) from exc
    _wait_until_applied(rds, instance)
    return f"new password in {name} and {instance}"


def _wait_until_applied(rds: object, instance: str) -> None:
    """RDS applies the password in the background ("resetting-master-credentials")."""
    deadline = time.monotonic() + _AVAILABLE_WAIT_SECONDS
    while True:
        found = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]  # type: ignore[attr-defined]
        pending = found.get("PendingModifiedValues", {})
        if found.get("DBInstanceStatus") == "available" and "MasterUserPassword" not in pending:
            return
        if time.monotonic() >= deadline:
            raise CommandFailedError(
                f"{instance} did not apply the new password within "
                f"{_AVAILABLE_WAIT_SECONDS // 60} minutes (status {found.get('DBInstanceStatus')})."
            )
        time.sleep(5)


def _reconnect(environment: EnvironmentContext, migrator: str, version: str) -> str:
    ended = end_sessions(environment.target, migrator, version)
    return f"the migrator connected with it and ended {ended} other session(s)"


def _smoke(environment: EnvironmentContext, current: Attempt) -> str:
    names = {service: environment.resource_name(service) for service in current.versions}
    functions = AwsFunctions(environment.target, names, environment.parameter_prefix)
    checks = smoke_test(functions, current.release)
    if failed := failures(checks):
        raise CommandFailedError(f"the services did not reconnect with the new password: {failed}")
    return f"{len(checks)} checks passed"
