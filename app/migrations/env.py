"""Alembic environment: all pending revisions run in ONE transaction.

PostgreSQL has transactional DDL, so a failing revision rolls back every
revision of the same run and the schema is left as it was.

The migrator (``smartstack_migrator.runner``) passes an open connection (``config.attributes``);
at a shell, the URL comes from ``SMARTSTACK_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        transaction_per_migration=False,
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("SMARTSTACK_DATABASE_URL")
    if not url:
        raise SystemExit("set SMARTSTACK_DATABASE_URL (postgresql+psycopg://user@host:port/db)")
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) mode is not supported; run against a database")
run_online()
