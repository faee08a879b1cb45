"""What an RDS PostgreSQL instance is on the local platform: a role and a database.

The moto launcher (:mod:`smartstack.local.moto_server`) calls this when moto
creates, modifies or deletes a ``postgres`` DB instance, so that the instance
OpenTofu creates is a database the pipeline can migrate and the functions can
log in to, with the master user name and password RDS was given.

The password never reaches the server or a log in clear: it is hashed here
(SCRAM-SHA-256, as ``psql``'s ``\\password`` does) and sent as the hash, so a
failing statement that the server logs does not carry it either.  Error
messages name the instance, the role and the SQLSTATE, never a value.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

_LOG = logging.getLogger(__name__)
_CONNECT_TIMEOUT_SECONDS = 5

# Databases every server has: an instance naming one of them owns nothing to drop.
_SYSTEM_DATABASES = frozenset({"postgres", "template0", "template1"})

# moto serves requests on several threads; one change to the server at a time.
_lock = threading.Lock()


class RdsPostgresError(Exception):
    """The local PostgreSQL refused or could not be reached; the message is safe to show.

    ``code`` is the RDS error code to answer with: ``InvalidParameterValue`` when
    the request cannot work here, ``InternalFailure`` when the server failed.
    """

    def __init__(self, message: str, code: str = "InternalFailure") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class LocalRdsPostgres:
    """The local PostgreSQL behind moto's RDS, reached through an admin DSN (no password)."""

    dsn: str

    @property
    def host(self) -> str:
        host = str(conninfo_to_dict(self.dsn).get("host") or "")
        return host if host and not host.startswith("/") else "127.0.0.1"

    @property
    def port(self) -> int:
        return int(conninfo_to_dict(self.dsn).get("port") or 5432)

    def provision(self, username: str, password: str, database: str | None) -> None:
        """The LOGIN role with this password, and the database owned by it (both idempotent)."""
        with _lock, self._admin(f"create the role {username!r}") as conn:
            row = conn.execute(
                "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (username,)
            ).fetchone()
            if row is not None and row[0]:
                raise RdsPostgresError(
                    f"MasterUsername {username!r} is a superuser of the local PostgreSQL; "
                    "choose another name.",
                    "InvalidParameterValue",
                )
            verb = "CREATE ROLE {} LOGIN PASSWORD {}" if row is None else (
                "ALTER ROLE {} LOGIN PASSWORD {}"
            )  # fmt: skip
            conn.execute(
                sql.SQL(verb).format(
                    sql.Identifier(username), sql.Literal(_hashed(conn, username, password))
                )
            )
            if database is None or database in _SYSTEM_DATABASES:
                return
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            name, role = sql.Identifier(database), sql.Identifier(username)
            if owner is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(name, role))
            elif owner[0] != username:
                conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(name, role))
            # One server holds every environment's database; on AWS each has its own
            # instance.  Only the owner (and the admin) may connect, as there.
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(name))

    def set_password(self, username: str, password: str) -> None:
        with _lock, self._admin(f"change the password of {username!r}") as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(username), sql.Literal(_hashed(conn, username, password))
                )
            )

    def drop(self, username: str, database: str | None, *, keep_role: bool) -> None:
        """Drop the database (closing its sessions) and, unless still in use, the role."""
        with _lock, self._admin(f"drop the database of {username!r}") as conn:
            if database is not None and database not in _SYSTEM_DATABASES:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database)
                    )
                )
            if keep_role:
                return
            try:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(username)))
            except psycopg.errors.DependentObjectsStillExist:
                # It owns something outside this instance (a database of an instance
                # moto has forgotten since a reset): keep it rather than fail the delete.
                _LOG.warning("kept the role %r: it still owns other objects", username)

    def _admin(self, action: str) -> _AdminConnection:
        return _AdminConnection(self.dsn, action)


class _AdminConnection:
    """An autocommit admin connection whose errors become :class:`RdsPostgresError`."""

    def __init__(self, dsn: str, action: str) -> None:
        self._dsn = dsn
        self._action = action
        self._conn: psycopg.Connection[TupleRow] | None = None

    def __enter__(self) -> psycopg.Connection[TupleRow]:
        try:
            self._conn = psycopg.connect(
                self._dsn, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.Error as exc:
            raise RdsPostgresError(
                f"the local PostgreSQL is not reachable, so RDS cannot {self._action}: "
                f"{_first_line(exc)}; is it running (smartstack local status)?"
            ) from None
        return self._conn

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if self._conn is not None:
            self._conn.close()
        if isinstance(exc, psycopg.Error):
            # The server's own text may quote the statement; the SQLSTATE cannot.
            raise RdsPostgresError(
                f"the local PostgreSQL refused to {self._action} "
                f"({type(exc).__name__}, SQLSTATE {exc.sqlstate or 'none'})."
            ) from None


def _hashed(conn: psycopg.Connection[TupleRow], username: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of the password, computed by libpq on this side."""
    verifier = conn.pgconn.encrypt_password(password.encode(), username.encode(), b"scram-sha-256")
    return verifier.decode()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
