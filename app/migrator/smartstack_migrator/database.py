"""The migrator's engine: pg8000 connections made as the services make them, reads waiting longer.

pg8000's ``timeout`` is the socket's timeout for the connection's whole life, not only
for connecting: the services' few seconds would cut short the wait for the migration
lock or a long revision with a bare "network error".  So the migrator opens the TCP
connection itself with the services' connect timeout, lets reads wait ``read_timeout_s``
(longer than every wait PostgreSQL bounds itself, so its clearer error comes first) and
hands the socket to pg8000, which does TLS and the rest exactly as for the services.
"""

from __future__ import annotations

import socket
from functools import partial

import pg8000.dbapi
from smartstack_common.config import ServiceSettings
from smartstack_common.db import connect_kwargs
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

APPLICATION_NAME = "smartstack-migrator"  # what pg_stat_activity shows for the run


def connect(settings: ServiceSettings, read_timeout_s: float) -> pg8000.dbapi.Connection:
    kwargs = connect_kwargs(settings, application_name=APPLICATION_NAME)
    address = (settings.db_host, settings.db_port)
    try:
        sock = socket.create_connection(address, kwargs["timeout"])
    except OSError as exc:
        raise ConnectionError(f"{address[0]}:{address[1]} unreachable ({exc})") from exc
    try:
        sock.settimeout(read_timeout_s)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return pg8000.dbapi.Connection(**kwargs, sock=sock)
    except BaseException:
        sock.close()
        raise


def engine(settings: ServiceSettings, *, read_timeout_s: float) -> Engine:
    """One connection per run (no pool: the container may be frozen between runs)."""
    return create_engine(
        "postgresql+pg8000://",
        creator=partial(connect, settings, read_timeout_s),
        poolclass=NullPool,
    )
