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
from smartstack.pipeline.migrations import run_migrations
from smartstack.release.build import Manifest, build_release

ROOT = Path(__file__).resolve().parents[2]


def admin_dsn(settings: Settings, database: str = "postgres") -> str:
    port = platform.postgres_server(settings).port
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


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
def migrated(database: str) -> str:
    """The new database with every migration applied."""
    run_migrations(database)
    return database


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, Path]:
    """This working tree built once (dirty allowed: other work may be in progress)."""
    out = tmp_path_factory.mktemp("release")
    return build_release(ROOT, out, allow_dirty=True), out
