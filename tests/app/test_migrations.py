"""Alembic migrations against a real PostgreSQL: up from nothing, and a failing revision."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from smartstack.core.errors import NotRunningError
from smartstack.local.processes import free_port
from smartstack.pipeline.migrations import (
    DEFAULT_SCRIPT_LOCATION,
    MigrationError,
    current_revision,
    run_migrations,
)
from smartstack.release.build import Manifest
from smartstack.release.store import unpack_migrations

BROKEN = '''"""broken: a revision that fails halfway.

Revision ID: 0099
Revises: {down}
"""

from alembic import op

revision = "0099"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE half_done (id int)")
    op.execute("ALTER TABLE no_such_table ADD COLUMN x int")


def downgrade() -> None:
    pass
'''


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def test_upgrade_from_nothing_applies_every_revision_in_order(database: str) -> None:
    assert current_revision(database) is None

    assert run_migrations(database) == ["0001", "0002"]

    assert current_revision(database) == "0002"
    assert {"items", "ai_results", "alembic_version"} <= tables(database)


def test_a_second_run_applies_nothing(database: str) -> None:
    run_migrations(database)

    assert run_migrations(database) == []
    assert current_revision(database) == "0002"


def test_upgrade_to_a_named_revision_stops_there(database: str) -> None:
    assert run_migrations(database, "0001") == ["0001"]
    assert "ai_results" not in tables(database)
    assert run_migrations(database) == ["0002"]


def test_a_failing_revision_is_named_and_the_whole_run_rolled_back(
    database: str, tmp_path: Path
) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(DEFAULT_SCRIPT_LOCATION, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0099_broken.py").write_text(BROKEN.format(down="0002"))

    with pytest.raises(MigrationError) as failure:
        run_migrations(database, script_location=scripts)

    assert failure.value.revision == "0099"
    assert "migration 0099 (broken: a revision that fails halfway.) failed" in failure.value.message
    assert "no_such_table" in failure.value.message
    assert "\n" not in failure.value.message
    # 0001 and 0002 ran in the same transaction: nothing of the run is left.
    assert current_revision(database) is None
    assert tables(database) == set()


def test_a_failure_after_earlier_runs_keeps_the_schema_they_made(
    database: str, tmp_path: Path
) -> None:
    run_migrations(database)
    scripts = tmp_path / "migrations"
    shutil.copytree(DEFAULT_SCRIPT_LOCATION, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0099_broken.py").write_text(BROKEN.format(down="0002"))

    with pytest.raises(MigrationError, match="0099"):
        run_migrations(database, script_location=scripts)

    assert current_revision(database) == "0002"
    assert "half_done" not in tables(database)


def test_the_migrations_of_a_built_release_run(
    database: str, release: tuple[Manifest, Path], tmp_path: Path
) -> None:
    manifest, out = release
    assert manifest.migrations is not None
    scripts = unpack_migrations(out / manifest.migrations.file_name, tmp_path)

    assert run_migrations(database, script_location=scripts) == ["0001", "0002"]


def test_an_unreachable_database_says_where_and_what_to_do() -> None:
    dsn = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/nowhere"

    with pytest.raises(NotRunningError) as failure:
        run_migrations(dsn)

    assert "cannot connect to PostgreSQL at" in failure.value.message
    assert "hunter2" not in failure.value.message
    with pytest.raises(NotRunningError):
        current_revision(dsn)
