"""PostgreSQL through pg8000 (pure Python: the zip carries no compiled code).

One connection per container, opened on first use and reopened once when it
has gone away (the database restarted, the container was frozen for a while).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable
from typing import Any

import pg8000.native
from pg8000.exceptions import DatabaseError as PgDatabaseError
from pg8000.exceptions import InterfaceError

from smartstack_common.config import ServiceSettings

CONNECT_TIMEOUT_SECONDS = 3


class DatabaseError(Exception):
    """The database could not be reached or refused the statement; ``kind`` says which."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def database_error_kind(exc: BaseException) -> str:
    """A short, secret-free word for what went wrong, for /health and the logs."""
    if isinstance(exc, DatabaseError):
        return exc.kind
    if isinstance(exc, InterfaceError | OSError | TimeoutError):
        return "unreachable"
    if isinstance(exc, PgDatabaseError):
        code = exc.args[0].get("C", "") if exc.args and isinstance(exc.args[0], dict) else ""
        return {
            "28P01": "auth_failed",
            "28000": "auth_failed",
            "3D000": "missing_database",
            "42P01": "missing_table",
        }.get(code, "error")
    return "error"


def _ssl_context(mode: str) -> ssl.SSLContext | bool:
    """``require`` as libpq means it: encrypted, the server certificate not verified.

    ``disable`` is ``False``: pg8000 takes ``None`` to mean "TLS if the server offers it".
    """
    if mode != "require":
        return False
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connect_kwargs(
    settings: ServiceSettings, *, application_name: str = "smartstack"
) -> dict[str, Any]:
    """What a pg8000 connection (``native`` or ``dbapi``) to the settings' database takes.

    One place, so every service reaches the database with the same TLS handling.
    """
    return {
        "user": settings.db_username,
        "password": settings.db_password,
        "host": settings.db_host,
        "port": settings.db_port,
        "database": settings.db_name,
        "timeout": CONNECT_TIMEOUT_SECONDS,
        "application_name": application_name,
        "ssl_context": _ssl_context(settings.db_sslmode),
    }


class Database:
    """``reload`` reads the settings afresh: called once when the password is refused, so a
    rotated password reaches a warm container at its next connection."""

    def __init__(
        self, settings: ServiceSettings, reload: Callable[[], ServiceSettings] | None = None
    ) -> None:
        self._settings = settings
        self._reload = reload
        self._conn: pg8000.native.Connection | None = None

    def _connect(self) -> pg8000.native.Connection:
        try:
            return self._open()
        except DatabaseError as exc:
            if exc.kind != "auth_failed" or self._reload is None:
                raise
            self._settings = self._reload()
            return self._open()

    def _open(self) -> pg8000.native.Connection:
        try:
            return pg8000.native.Connection(**connect_kwargs(self._settings))
        except Exception as exc:
            raise DatabaseError(
                database_error_kind(exc), f"cannot connect: {type(exc).__name__}"
            ) from exc

    def run(self, sql: str, **params: Any) -> list[list[Any]]:
        """Run one statement (autocommit) and return its rows."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._connect()
            try:
                return list(self._conn.run(sql, **params) or [])
            except (InterfaceError, OSError) as exc:  # the connection went away
                self.close()
                if attempt == 2:
                    raise DatabaseError(
                        "unreachable", f"connection lost: {type(exc).__name__}"
                    ) from exc
            except PgDatabaseError as exc:
                raise DatabaseError(database_error_kind(exc), "statement failed") from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
