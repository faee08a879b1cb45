"""Database migrations (Alembic, ``app/migrations``) run from the tool.

All pending revisions run in one transaction: PostgreSQL's DDL is
transactional, so when one revision fails every revision of the run is rolled
back and the schema is exactly as it was.  The error names the revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from smartstack.core.errors import CommandFailedError, NotRunningError

DEFAULT_SCRIPT_LOCATION = Path(__file__).resolve().parents[3] / "app" / "migrations"


class MigrationError(CommandFailedError):
    """A revision failed; the run was rolled back. ``revision`` names the one that failed."""

    code = "migration_failed"

    def __init__(self, message: str, revision: str | None) -> None:
        super().__init__(message)
        self.revision = revision


def _url(dsn: str) -> URL:
    """The DSN with the psycopg driver (installed with the tool) unless one is named."""
    url = make_url(dsn)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _config(script_location: Path) -> Config:
    if not (script_location / "env.py").is_file():
        raise CommandFailedError(
            f"no Alembic environment at {script_location}; pass script_location= "
            "pointing at app/migrations."
        )
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


def _connect_error(url: URL, exc: Exception) -> NotRunningError:
    where = url.render_as_string(hide_password=True)
    first = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else ""
    return NotRunningError(
        f"cannot connect to PostgreSQL at {where} ({first}); start it or fix the DSN."
    )


def _pending(script: ScriptDirectory, target: str, current: str | None) -> list[str]:
    """Revisions ``upgrade`` will apply, oldest first."""
    revs = script.iterate_revisions(target, current)
    return [r.revision for r in reversed(list(revs)) if r is not None]


def run_migrations(
    dsn: str, revision: str = "head", *, script_location: Path | None = None
) -> list[str]:
    """Upgrade the database at ``dsn`` to ``revision``; returns the revisions applied, in order.

    Raises :class:`MigrationError` naming the failing revision (nothing applied),
    or :class:`NotRunningError` when the database cannot be reached.
    """
    cfg = _config(script_location or DEFAULT_SCRIPT_LOCATION)
    script = ScriptDirectory.from_config(cfg)
    url = _url(dsn)
    engine = create_engine(url, poolclass=NullPool)
    applied: list[str] = []

    def on_apply(*, step: Any, **_: Any) -> None:
        applied.append(str(step.up_revision_id))

    cfg.attributes["on_version_apply"] = on_apply
    pending: Sequence[str] = ()
    try:
        with engine.begin() as conn:
            pending = _pending(script, revision, _current(conn))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as exc:
        if not pending and not applied:
            raise _connect_error(url, exc) from exc
        raise _failed(script, pending, applied, exc) from exc
    except Exception as exc:
        if isinstance(exc, CommandFailedError | NotRunningError):
            raise
        raise _failed(script, pending, applied, exc) from exc
    finally:
        engine.dispose()
    return applied


def _failed(
    script: ScriptDirectory, pending: Sequence[str], applied: list[str], exc: Exception
) -> MigrationError:
    failing = pending[len(applied)] if len(applied) < len(pending) else None
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = reason[0] if reason else type(exc).__name__
    if failing is None:
        return MigrationError(f"migrations failed: {detail}; nothing was applied.", None)
    doc = (script.get_revision(failing).doc or "").strip().splitlines()
    title = f" ({doc[0]})" if doc else ""
    return MigrationError(
        f"migration {failing}{title} failed: {detail}; the run was rolled back, "
        f"nothing was applied: fix revision {failing} and run again.",
        failing,
    )


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current_revision(dsn: str) -> str | None:
    """The revision the database at ``dsn`` is at (None before the first migration)."""
    url = _url(dsn)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _current(conn)
    except OperationalError as exc:
        raise _connect_error(url, exc) from exc
    finally:
        engine.dispose()
