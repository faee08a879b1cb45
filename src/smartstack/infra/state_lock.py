"""An environment stack's OpenTofu state lock: who holds it, and releasing it on purpose.

OpenTofu killed mid-run (SIGKILL, a machine gone) leaves its lock item in the lock
table: every later plan fails until someone releases it.  Nothing here releases a lock
silently.  A recovery that finds one held stops and names its holder and the one command
that releases it (``smartstack unlock <env> --state-lock <id>``), which a person runs
once they know the holder is dead.  The release is one conditional delete: a lock taken
since by another run (another id) is never released.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from smartstack.aws.errors import error_code
from smartstack.aws.target import AwsTarget
from smartstack.core.config import Settings
from smartstack.core.environments import environment_names
from smartstack.core.errors import StateLockedError, UsageError
from smartstack.infra.state_backend import BackendLayout, backend_layout


@dataclass(frozen=True)
class StateLock:
    stack: str
    lock_id: str
    who: str
    operation: str
    created: str

    def describe(self) -> str:
        return (
            f"the state of {self.stack} is locked by {self.who} since {self.created} "
            f"(operation {self.operation}, lock id {self.lock_id})"
        )


def unlock_command(env: str, lock_id: str) -> str:
    return f"smartstack unlock {env} --state-lock {lock_id}"


def _layout(settings: Settings, target: AwsTarget) -> BackendLayout:
    return backend_layout(target, environment_names(settings.configs_dir), settings.project)


def _key(layout: BackendLayout, env: str) -> dict[str, dict[str, str]]:
    return {"LockID": {"S": f"{layout.bucket}/{layout.keys[env]}"}}


def state_lock(settings: Settings, env: str, target: AwsTarget) -> StateLock | None:
    """The lock on ``env``'s state, if one is held."""
    layout = _layout(settings, target)
    item = (
        target.client("dynamodb")
        .get_item(TableName=layout.lock_table, Key=_key(layout, env), ConsistentRead=True)
        .get("Item")
    )
    if item is None:
        return None
    try:
        info = json.loads(item.get("Info", {}).get("S", "{}"))
    except ValueError:
        info = {}
    return StateLock(
        env,
        str(info.get("ID", "?")),
        str(info.get("Who", "an unknown run")),
        str(info.get("Operation", "?")),
        str(info.get("Created", "an unknown time")),
    )


def require_state_unlocked(settings: Settings, env: str, target: AwsTarget) -> None:
    """Stop before anything changes when ``env``'s state is locked, naming the way out."""
    lock = state_lock(settings, env, target)
    if lock is not None:
        raise StateLockedError(
            f"{lock.describe()}. An OpenTofu whose deploy was killed runs on to its end, so it "
            f"may still be finishing on {lock.who.rsplit('@', 1)[-1]}: wait for it; once "
            f"no tofu of that run is left there: {unlock_command(env, lock.lock_id)}"
        )


def release_state_lock(settings: Settings, env: str, target: AwsTarget, lock_id: str) -> StateLock:
    """Delete ``env``'s state lock if it is still the one with ``lock_id``; returns it."""
    layout = _layout(settings, target)
    try:
        old = target.client("dynamodb").delete_item(
            TableName=layout.lock_table,
            Key=_key(layout, env),
            ConditionExpression="contains(Info, :id)",
            ExpressionAttributeValues={":id": {"S": f'"ID":"{lock_id}"'}},
            ReturnValues="ALL_OLD",
        )["Attributes"]
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        current = state_lock(settings, env, target)
        if current is None:
            raise UsageError(f"{env}'s state is not locked; nothing to release.") from None
        raise UsageError(
            f"{current.describe()}, not {lock_id}: nothing released; check who holds it now."
        ) from None
    info = json.loads(old.get("Info", {}).get("S", "{}"))
    return StateLock(
        env, lock_id, str(info.get("Who", "?")), str(info.get("Operation", "?")),
        str(info.get("Created", "?")),
    )  # fmt: skip
