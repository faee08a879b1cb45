"""The migrate step: the release's migrations, run by the environment's migrator function.

The database is private (``publicly_accessible = false``, reachable from the
VPC's functions only), so a deploying runner cannot connect to it.  The step
therefore puts the release's migrator zip, which carries ``app/migrations``,
behind ``smartstack-{env}-migrator``'s ``live`` alias as the app step does for
every function, then invokes exactly that version.  Inside the VPC the function
applies the pending revisions in one transaction, serialized with any other
migrator by an advisory lock, with the environment's ``lock_timeout`` and
``statement_timeout`` (app/migrator).  A failing revision is named, and the
schema is left as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smartstack.aws.lambda_api import deployed_function
from smartstack.aws.target import AwsTarget
from smartstack.core.errors import CommandFailedError

_READ_SLACK_SECONDS = 30  # beyond the function's own timeout, for the answer to arrive
_REVISION = re.compile(r"^migration (\S+)")


class MigrationError(CommandFailedError):
    """The migrator failed; nothing of the run was applied. ``revision`` names the culprit."""

    code = "migration_failed"

    def __init__(self, message: str, revision: str | None) -> None:
        super().__init__(message)
        self.revision = revision


@dataclass(frozen=True)
class Migrated:
    applied: list[str]  # revisions this run applied, oldest first
    current: str | None  # where the database is now

    def __str__(self) -> str:
        if not self.applied:
            return f"the database is at the release's head revision ({self.current})"
        return f"{len(self.applied)} revision(s) applied: {', '.join(self.applied)}"


def run_migrator(
    target: AwsTarget, function_name: str, version: str, timeouts: Mapping[str, int]
) -> Migrated:
    """Invoke ``function_name`` version ``version`` to migrate to its head with the release's
    ``timeouts`` (``lock_timeout_ms``, ``statement_timeout_ms``); raises
    :class:`MigrationError` naming the failing revision."""
    timeout = deployed_function(target, function_name, version).timeout_seconds
    answer = target.invoker(timeout + _READ_SLACK_SECONDS).invoke(
        FunctionName=function_name,
        Qualifier=version,
        Payload=json.dumps({"target": "head", **timeouts}).encode(),
    )
    payload = _json(answer["Payload"].read())
    if answer.get("FunctionError"):
        raise _failure(function_name, version, payload)
    applied = payload.get("applied")
    if not isinstance(applied, list):
        raise CommandFailedError(
            f"{function_name} version {version} answered without the revisions it applied; "
            "is it the release's migrator?"
        )
    current = payload.get("current")
    return Migrated([str(r) for r in applied], str(current) if current else None)


def can_end_sessions(target: AwsTarget, function_name: str, version: str) -> bool:
    """Whether that migrator knows ``end-sessions`` (one from before rotation answers the
    question with a migration to its own head: a no-op, its release being the live one)."""
    answer = target.invoker(60).invoke(
        FunctionName=function_name,
        Qualifier=version,
        Payload=json.dumps({"action": "capabilities"}).encode(),
    )
    payload = _json(answer["Payload"].read())
    actions = payload.get("actions")
    return (
        not answer.get("FunctionError") and isinstance(actions, list) and "end-sessions" in actions
    )


def end_sessions(target: AwsTarget, function_name: str, version: str) -> int:
    """Have the migrator end every other session of the database user (it connects with the
    password Parameter Store has now); returns how many it ended."""
    answer = target.invoker(60).invoke(
        FunctionName=function_name,
        Qualifier=version,
        Payload=json.dumps({"action": "end-sessions"}).encode(),
    )
    payload = _json(answer["Payload"].read())
    if answer.get("FunctionError"):
        kind, message = payload.get("errorType", "error"), payload.get("errorMessage", "")
        raise CommandFailedError(
            f"the migrator ({function_name} version {version}) could not connect with the new "
            f"password: {kind}: {message} (its log: /aws/lambda/{function_name})."
        )
    ended = payload.get("ended")
    if not isinstance(ended, int):
        raise CommandFailedError(
            f"{function_name} version {version} does not end sessions (a release from before "
            "`secrets rotate`); deploy a newer release, then rotate again."
        )
    return ended


def _failure(function_name: str, version: str, error: dict[str, Any]) -> MigrationError:
    kind = str(error.get("errorType") or "error")
    message = str(error.get("errorMessage") or "no message").strip()
    if kind == "MigrationFailed":
        found = _REVISION.match(message)
        return MigrationError(message, found.group(1) if found else None)
    if kind == "Sandbox.Timedout":
        return MigrationError(
            f"the migrator ({function_name} version {version}) timed out: whether its "
            "transaction committed is unknown. Its log (/aws/lambda/"
            f"{function_name}) tells; deploy again, and the next run applies what is still "
            "pending.",
            None,
        )
    return MigrationError(
        f"the migrator ({function_name} version {version}) failed before migrating: "
        f"{kind}: {message}; nothing was applied (its log: /aws/lambda/{function_name}).",
        None,
    )


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"errorMessage": raw[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {"result": value}
