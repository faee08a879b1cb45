"""The migrator's Lambda entry point: the release's migrations, run inside the VPC.

The deploy invokes it before the new code goes live, with ``{"target": "head"}`` (the
default) or a revision, and the release's own ``lock_timeout_ms`` and
``statement_timeout_ms`` (it runs before the infra step, so the function's configuration
may still be the previous release's).  It returns ``{"applied", "current", "head", "release"}``; a
failure raises :class:`MigrationFailed`, so Lambda reports ``errorType`` ``MigrationFailed``
and a message that starts with ``migration <revision>`` when one is to blame.

``{"action": "capabilities"}`` answers ``{"actions": ["end-sessions"]}`` (a rotation asks
first), and ``{"action": "end-sessions"}`` ends every other session of the database user and
returns ``{"ended", "release"}``: ``smartstack secrets rotate db-password`` sends it once the
new password is in RDS and Parameter Store, so each service connects again with it (and no
session opened with the old one lives on); the migrator's own connection proves the new
password works from inside the VPC.

The timeouts come from the environment's tfvars, in the event or else through the
function's configuration (``MIGRATION_LOCK_TIMEOUT_MS``, ``MIGRATION_STATEMENT_TIMEOUT_MS``).
The wait for another migrator's lock is what the invocation has left less one statement's
timeout and a margin, so PostgreSQL, which names the revision, stops a statement before
Lambda stops the function.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from smartstack_common import release_id, reload_settings
from smartstack_common.config import environment

from smartstack_migrator import database
from smartstack_migrator.runner import MigrationFailed, migrate

SCRIPT_LOCATION = Path(__file__).resolve().parents[1] / "migrations"
"""``app/migrations``, packaged at the root of the zip next to this package."""
LOCK_WAIT_MARGIN_MS = 15_000
"""Kept back from the lock wait to run the revisions, roll back and report."""
READ_SLACK_SECONDS = 10
"""A socket read outlasts every wait PostgreSQL bounds by this much."""

logger = Logger(service="smartstack-migrator")


class ConfigurationError(Exception):
    """The function's configuration or the event is not usable; nothing was run."""


def _ms(event: Any, key: str, variable: str) -> int:
    """``event[key]`` when the invoker sends it, else the function's ``variable``."""
    given = event.get(key) if isinstance(event, dict) else None
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ConfigurationError(f'"{key}" must be a positive whole number, got {given!r}')
        return given
    raw = os.environ.get(variable, "").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(
            f"{variable} must be a positive whole number of milliseconds (set from the "
            f"environment's tfvars), got {raw!r}"
        )
    return int(raw)


def _target(event: Any) -> str:
    target = event.get("target", "head") if isinstance(event, dict) else "head"
    if not isinstance(target, str) or not target.strip():
        raise ConfigurationError(f'"target" must be a revision or "head", got {target!r}')
    return target.strip()


def _lock_wait_ms(context: LambdaContext, statement_timeout_ms: int) -> int:
    """What the invocation has left less one statement's timeout and the margin (a second at
    least: the function's timeout is checked against the statement timeout in the stacks)."""
    remaining = context.get_remaining_time_in_millis()
    return max(remaining - statement_timeout_ms - LOCK_WAIT_MARGIN_MS, 1000)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(release=release_id(), environment=environment())
    action = event.get("action") if isinstance(event, dict) else None
    if action == "capabilities":  # asked before a rotation changes anything
        return {"actions": ["end-sessions"], "release": release_id()}
    if action == "end-sessions":
        return _end_sessions()
    target = _target(event)
    lock_timeout_ms = _ms(event, "lock_timeout_ms", "MIGRATION_LOCK_TIMEOUT_MS")
    statement_timeout_ms = _ms(event, "statement_timeout_ms", "MIGRATION_STATEMENT_TIMEOUT_MS")
    lock_wait_ms = _lock_wait_ms(context, statement_timeout_ms)
    longest_wait_ms = max(lock_wait_ms, lock_timeout_ms, statement_timeout_ms)
    engine = database.engine(  # read afresh: a run is rare, and a rotated password is seen
        reload_settings(), read_timeout_s=longest_wait_ms / 1000 + READ_SLACK_SECONDS
    )
    started = time.monotonic()
    try:
        result = migrate(
            engine,
            SCRIPT_LOCATION,
            target=target,
            lock_timeout_ms=lock_timeout_ms,
            statement_timeout_ms=statement_timeout_ms,
            lock_wait_ms=lock_wait_ms,
        )
    except MigrationFailed as exc:
        duration_ms = round((time.monotonic() - started) * 1000)
        logger.error(
            "migration failed",
            extra={
                "target": target,
                "revision": exc.revision,
                "reason": exc.message,
                "duration_ms": duration_ms,
            },
        )
        raise
    finally:
        engine.dispose()
    logger.info(
        "migrated",
        extra={
            "target": target,
            "applied": result.applied,
            "current": result.current,
            "head": result.head,
            "duration_ms": round((time.monotonic() - started) * 1000),
        },
    )
    return {
        "applied": result.applied,
        "current": result.current,
        "head": result.head,
        "release": release_id(),
    }


def _end_sessions() -> dict[str, Any]:
    conn = database.connect(reload_settings(), read_timeout_s=READ_SLACK_SECONDS)
    try:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE usename = current_user AND pid <> pg_backend_pid()"
        )
        row = cursor.fetchone()
        conn.commit()
    finally:
        conn.close()
    ended = int(row[0]) if row else 0
    logger.info("ended the user's other sessions", extra={"ended": ended})
    return {"ended": ended, "release": release_id()}
