"""Fixtures for the services: a fresh (or migrated) PostgreSQL database per test, one release
per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from smartstack.core.config import Settings
from smartstack.local import platform
from smartstack.local.network import PrivateNetwork
from smartstack.release.build import Manifest, build_release
from tests.app.helpers import AppDatabase, migrate_database

ROOT = Path(__file__).resolve().parents[2]


def admin_dsn(settings: Settings, database: str = "postgres") -> str:
    """The admin's DSN (the server's Unix socket: the database's port is in the VPC)."""
    return platform.postgres_server(settings).admin_dsn(database)


@pytest.fixture
def database(running_platform: Settings) -> Iterator[str]:
    """The DSN of a new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn(running_platform), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin_dsn(running_platform, name)
    with psycopg.connect(admin_dsn(running_platform), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app_database(running_platform: Settings) -> Iterator[AppDatabase]:
    """A new, empty database owned by a new role, as an RDS instance has them."""
    name, password = f"t_{uuid.uuid4().hex[:12]}", f"pw-{uuid.uuid4().hex}"
    with psycopg.connect(admin_dsn(running_platform), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
    port = platform.postgres_server(running_platform).port
    yield AppDatabase(name, password, port, admin_dsn(running_platform, name))
    with psycopg.connect(admin_dsn(running_platform), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def migrated(app_database: AppDatabase) -> AppDatabase:
    """That database with every migration applied by its owner."""
    migrate_database(app_database.as_owner)
    return app_database


@pytest.fixture(scope="session")
def network(running_platform: Settings) -> PrivateNetwork | None:
    """The VPC the services run in, as the stacks attach them (None where there is none)."""
    return platform.postgres_server(running_platform).network


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, Path]:
    """This working tree built once (dirty allowed: other work may be in progress)."""
    out = tmp_path_factory.mktemp("release")
    return build_release(ROOT, out, allow_dirty=True), out
