"""Alembic migrations run against one database, serialized across migrators.

Every pending revision runs in ONE transaction: PostgreSQL's DDL is transactional, so
when one revision fails the whole run is rolled back, the schema is exactly as it was
and the error can name the revision.  Concurrent migrators (a retried deploy, two
invocations racing) serialize on a transaction-level advisory lock taken first; the
current revision is read only once the lock is held, so the one that waited finds
nothing pending.  Every wait is bounded (the lock by ``lock_wait_ms``, each table lock
a revision needs by ``lock_timeout_ms``, each statement by ``statement_timeout_ms``),
so a blocked migration fails with a message naming it instead of hanging until the
function is killed.

The runner takes a SQLAlchemy engine, so the Lambda (pg8000) and the tests (psycopg)
run exactly this code.  Alembic's ``context`` and ``op`` are module globals, so a process
runs one upgrade at a time (the lock already serializes those on the same database).
A revision must not use Alembic's ``autocommit_block``: it would commit the run's
transaction half-way, and with it end the lock and the timeouts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

LOCK_KEY = -1278878711682137170
"""The advisory lock every migrator takes: the first 8 bytes of
sha256(b"smartstack-migrations") as a signed bigint (in ``pg_locks``: classid 3997205142,
objid 1734378414)."""

LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired
QUERY_CANCELED = "57014"  # statement_timeout expired


class MigrationFailed(Exception):
    """The run failed and was rolled back; ``revision`` names the failing one when known."""

    def __init__(self, message: str, revision: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.revision = revision


@dataclass(frozen=True)
class Migrated:
    applied: list[str]  # revisions applied by this run, oldest first
    current: str | None  # the database's revision after the run
    head: str  # the newest revision of the scripts


def _config(script_location: Path) -> Config:
    if not (script_location / "env.py").is_file():
        raise MigrationFailed(f"no Alembic environment at {script_location}; nothing was applied.")
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


def _ms(name: str, value: int) -> int:
    """A positive whole number of milliseconds (0 would mean "wait forever" to PostgreSQL)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive whole number of milliseconds, got {value!r}")
    return value


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    with engine.connect() as conn:
        return _current(conn)


def _pending(script: ScriptDirectory, target: str, current: str | None) -> list[str]:
    """Revisions ``upgrade`` will apply, oldest first."""
    revs = script.iterate_revisions(target, current)
    return [r.revision for r in reversed(list(revs)) if r is not None]


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE from psycopg (``.sqlstate``) or pg8000 (a dict of fields in ``args[0]``)."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlstate", None)
    if code is None and orig.args and isinstance(orig.args[0], dict):
        code = orig.args[0].get("C")
    return str(code) if code else None


def _reason(exc: BaseException) -> str:
    """One line saying what went wrong, without the driver's framing (or any newline)."""
    orig = getattr(exc, "orig", None) or exc
    if orig.args and isinstance(orig.args[0], dict) and orig.args[0].get("M"):
        return str(orig.args[0]["M"])
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


def _lock(conn: Connection, lock_wait_ms: int) -> None:
    """Wait at most ``lock_wait_ms`` for the migration lock, held until commit or rollback."""
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}")
    # A database-wide statement_timeout shorter than the wait must not cut it short.
    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(lock_wait_ms)}")
    try:
        conn.execute(text("SELECT pg_advisory_xact_lock(CAST(:key AS bigint))"), {"key": LOCK_KEY})
    except Exception as exc:
        if _sqlstate(exc) in (LOCK_NOT_AVAILABLE, QUERY_CANCELED):
            raise MigrationFailed(
                f"another migration holds the lock (advisory lock {LOCK_KEY}) on this database "
                f"for more than {lock_wait_ms / 1000:g} s; nothing was applied: let it finish "
                "(or end the session holding it, see pg_locks), then run again."
            ) from exc
        raise


def migrate(
    engine: Engine,
    script_location: Path,
    *,
    target: str = "head",
    lock_timeout_ms: int,
    statement_timeout_ms: int,
    lock_wait_ms: int,
) -> Migrated:
    """Upgrade the database to ``target`` under the migration lock; returns what was applied.

    Raises :class:`MigrationFailed` (nothing applied) naming the failing revision when
    there is one, or saying that the lock or the database could not be had.
    """
    lock_timeout_ms = _ms("lock_timeout_ms", lock_timeout_ms)
    statement_timeout_ms = _ms("statement_timeout_ms", statement_timeout_ms)
    lock_wait_ms = _ms("lock_wait_ms", lock_wait_ms)
    cfg = _config(script_location)
    applied: list[str] = []

    def on_apply(*, step: Any, **_: Any) -> None:
        applied.append(str(step.up_revision_id))

    cfg.attributes["on_version_apply"] = on_apply
    try:
        script = ScriptDirectory.from_config(cfg)
        head = script.get_current_head()
    except Exception as exc:  # a broken script: bad syntax, two heads
        raise MigrationFailed(f"cannot read the migration scripts: {_reason(exc)}") from exc
    if head is None:
        raise MigrationFailed(f"no revisions under {script_location / 'versions'}")
    try:
        conn = engine.connect()
    except Exception as exc:
        raise MigrationFailed(
            f"cannot connect to the database: {_reason(exc)}; nothing was applied."
        ) from exc
    pending: Sequence[str] = ()
    try:
        with conn, conn.begin():
            _lock(conn, lock_wait_ms)
            pending = _pending(script, target, _current(conn))
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
            # A migrator stopped mid-statement (its Lambda timed out) is noticed within
            # seconds, so its statement and locks end with it, not at statement_timeout.
            conn.exec_driver_sql("SET LOCAL client_connection_check_interval = 2000")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, target)
            current = _current(conn)
    except MigrationFailed:
        raise
    except Exception as exc:
        timeouts = {
            LOCK_NOT_AVAILABLE: f" (lock_timeout {lock_timeout_ms} ms)",
            QUERY_CANCELED: f" (statement_timeout {statement_timeout_ms} ms)",
        }
        hint = timeouts.get(_sqlstate(exc) or "", "")
        raise _failed(script, pending, applied, _reason(exc) + hint) from exc
    return Migrated(applied=applied, current=current, head=head)


def _failed(
    script: ScriptDirectory, pending: Sequence[str], applied: list[str], detail: str
) -> MigrationFailed:
    failing = pending[len(applied)] if len(applied) < len(pending) else None
    if failing is None:
        return MigrationFailed(f"migrations failed: {detail}; nothing was applied.")
    revision = script.get_revision(failing)
    doc = ((revision.doc if revision else "") or "").strip().splitlines()
    title = f" ({doc[0]})" if doc else ""
    return MigrationFailed(
        f"migration {failing}{title} failed: {detail}; the run was rolled back, "
        f"nothing was applied: fix revision {failing} and run again.",
        failing,
    )
