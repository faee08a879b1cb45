"""The migrator's runner against a real PostgreSQL: one transaction, the lock, the timeouts.

In-process through psycopg (the function uses pg8000: the runner only sees an engine).
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from smartstack_migrator.runner import (
    LOCK_KEY,
    Migrated,
    MigrationFailed,
    current_revision,
    migrate,
)
from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from smartstack.local.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "app" / "migrations"

TIMEOUTS = {"lock_timeout_ms": 5_000, "statement_timeout_ms": 30_000, "lock_wait_ms": 30_000}

REVISION = '''"""{doc}

Revision ID: 0099
Revises: 0002
"""

from alembic import op

revision = "0099"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
'''


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    """The test database through psycopg, whatever form (TCP or socket) its DSN has."""
    url = make_url(database).set(drivername="postgresql+psycopg")
    eng = create_engine(url, poolclass=NullPool)
    yield eng
    eng.dispose()


def run(engine: Engine, scripts: Path = MIGRATIONS, **options: Any) -> Migrated:
    return migrate(engine, scripts, **{**TIMEOUTS, **options})


def with_revision(tmp_path: Path, doc: str, *statements: str) -> Path:
    """A copy of app/migrations with a revision 0099 after 0002 running ``statements``."""
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    body = "\n".join(f"    op.execute({s!r})" for s in statements)
    (scripts / "versions" / "0099_extra.py").write_text(REVISION.format(doc=doc, body=body))
    return scripts


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def columns(dsn: str, table: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        ).fetchall()
    return {r[0] for r in rows}


def eventually(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def waiting_for_the_lock(conn: psycopg.Connection[Any]) -> int:
    """Sessions of this database waiting for the migration lock (a bigint key in pg_locks)."""
    key = LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF
    row = conn.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
        " WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted"
        " AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
        (key >> 32, key & 0xFFFF_FFFF),
    ).fetchone()
    return int(row[0]) if row else 0


def test_upgrade_from_nothing_applies_every_revision_in_order(
    engine: Engine, database: str
) -> None:
    assert current_revision(engine) is None

    assert run(engine) == Migrated(applied=["0001", "0002"], current="0002", head="0002")

    assert current_revision(engine) == "0002"
    assert {"items", "ai_results", "alembic_version"} <= tables(database)


def test_a_second_run_applies_nothing(engine: Engine) -> None:
    run(engine)

    assert run(engine) == Migrated(applied=[], current="0002", head="0002")


def test_upgrade_to_a_named_revision_stops_there(engine: Engine, database: str) -> None:
    assert run(engine, target="0001") == Migrated(applied=["0001"], current="0001", head="0002")
    assert "ai_results" not in tables(database)

    assert run(engine).applied == ["0002"]


def test_a_failing_revision_is_named_and_the_whole_run_rolled_back(
    engine: Engine, database: str, tmp_path: Path
) -> None:
    scripts = with_revision(
        tmp_path,
        "broken: a revision that fails halfway.",
        "CREATE TABLE half_done (id int)",
        "ALTER TABLE no_such_table ADD COLUMN x int",
    )

    with pytest.raises(MigrationFailed) as failure:
        run(engine, scripts)

    assert failure.value.revision == "0099"
    assert str(failure.value).startswith(
        "migration 0099 (broken: a revision that fails halfway.) failed: "
    )
    assert "no_such_table" in failure.value.message
    assert failure.value.message.endswith(
        "the run was rolled back, nothing was applied: fix revision 0099 and run again."
    )
    assert "\n" not in failure.value.message
    # 0001 and 0002 ran in the same transaction: nothing of the run is left.
    assert current_revision(engine) is None
    assert tables(database) == set()


def test_a_failure_after_earlier_runs_keeps_the_schema_they_made(
    engine: Engine, database: str, tmp_path: Path
) -> None:
    run(engine)
    scripts = with_revision(tmp_path, "broken.", "CREATE TABLE half_done (id int)", "SELECT 1/0")

    with pytest.raises(MigrationFailed, match=r"^migration 0099 \(broken\.\) failed: division"):
        run(engine, scripts)

    assert current_revision(engine) == "0002"
    assert "half_done" not in tables(database)


def test_concurrent_migrators_serialize_and_the_later_one_applies_nothing(
    engine: Engine, database: str
) -> None:
    results: list[Migrated] = []
    errors: list[BaseException] = []

    def migrator() -> None:
        try:
            results.append(run(engine))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrator) for _ in range(2)]
    with psycopg.connect(database, autocommit=True) as holder:
        # Both start while the lock is held, so they truly overlap: both must wait for it.
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        for thread in threads:
            thread.start()
        eventually(lambda: waiting_for_the_lock(holder) == 2, "both migrators wait for the lock")
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(r.applied for r in results) == [[], ["0001", "0002"]]
    assert [r.current for r in results] == ["0002", "0002"]


def test_a_migrator_that_waited_for_the_lock_starts_from_the_revision_the_other_left(
    engine: Engine, database: str, tmp_path: Path
) -> None:
    later_scripts = with_revision(tmp_path, "broken.", "SELECT 1/0")
    failures: list[MigrationFailed] = []

    def later() -> None:
        with pytest.raises(MigrationFailed) as failure:
            run(engine, later_scripts)
        failures.append(failure.value)

    holder = psycopg.connect(database)
    holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    holder.commit()
    thread = threading.Thread(target=later)
    thread.start()
    eventually(lambda: waiting_for_the_lock(holder) == 1, "the later migrator waits")
    holder.commit()
    try:
        # The session holding the lock migrates first (the lock is re-entrant for it);
        # closing the connection at the end releases the lock.
        first = create_engine("postgresql+psycopg://", creator=lambda: holder, poolclass=NullPool)
        assert run(first).applied == ["0001", "0002"]
    finally:
        holder.close()
        thread.join(timeout=60)

    # It read 0002 once it had the lock, so the revision it names is 0099, not 0001.
    assert [f.revision for f in failures] == ["0099"]
    assert current_revision(engine) == "0002"


def test_a_revision_waiting_for_a_table_lock_fails_after_lock_timeout(
    engine: Engine, database: str, tmp_path: Path
) -> None:
    run(engine)
    scripts = with_revision(tmp_path, "a note per item.", "ALTER TABLE items ADD COLUMN note text")

    with psycopg.connect(database) as reader:  # an open transaction that has read items
        reader.execute("SELECT count(*) FROM items")
        started = time.monotonic()
        with pytest.raises(MigrationFailed) as failure:
            # The long lock wait is for the migration lock only, not the revisions' locks.
            run(engine, scripts, lock_timeout_ms=300, lock_wait_ms=20_000)
        elapsed = time.monotonic() - started
        reader.rollback()

    assert failure.value.revision == "0099"
    assert failure.value.message.startswith(
        "migration 0099 (a note per item.) failed: canceling statement due to lock timeout "
        "(lock_timeout 300 ms); the run was rolled back"
    )
    assert 0.25 < elapsed < 5
    assert current_revision(engine) == "0002"
    assert "note" not in columns(database, "items")


def test_a_statement_running_past_statement_timeout_fails_naming_its_revision(
    engine: Engine, database: str, tmp_path: Path
) -> None:
    scripts = with_revision(tmp_path, "slow.", "SELECT pg_sleep(5)")

    started = time.monotonic()
    with pytest.raises(MigrationFailed) as failure:
        run(engine, scripts, statement_timeout_ms=200)

    assert time.monotonic() - started < 4
    assert failure.value.revision == "0099"
    assert failure.value.message.startswith(
        "migration 0099 (slow.) failed: canceling statement due to statement timeout "
        "(statement_timeout 200 ms)"
    )
    assert current_revision(engine) is None
    assert tables(database) == set()


def test_waiting_too_long_for_the_migration_lock_says_another_migration_holds_it(
    engine: Engine, database: str
) -> None:
    with psycopg.connect(database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        started = time.monotonic()
        with pytest.raises(MigrationFailed) as failure:
            run(engine, lock_wait_ms=300)
        elapsed = time.monotonic() - started

    assert failure.value.revision is None
    assert failure.value.message.startswith(
        f"another migration holds the lock (advisory lock {LOCK_KEY}) on this database "
        "for more than 0.3 s; nothing was applied"
    )
    assert 0.25 < elapsed < 4
    assert current_revision(engine) is None
    assert run(engine).applied == ["0001", "0002"]  # once it is released


def test_the_lock_key_is_the_named_hash() -> None:
    digest = hashlib.sha256(b"smartstack-migrations").digest()
    assert int.from_bytes(digest[:8], "big", signed=True) == LOCK_KEY


@pytest.mark.parametrize("option", sorted(TIMEOUTS))
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_every_timeout_must_be_a_positive_number_of_milliseconds(option: str, value: Any) -> None:
    engine = create_engine("postgresql+psycopg://", poolclass=NullPool)

    with pytest.raises(ValueError, match=f"^{option} must be a positive whole number"):
        migrate(engine, MIGRATIONS, **{**TIMEOUTS, option: value})


def test_an_unreachable_database_fails_before_anything_runs() -> None:
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{free_port()}/nowhere"
    engine = create_engine(url, poolclass=NullPool)

    with pytest.raises(MigrationFailed) as failure:
        run(engine)

    assert failure.value.revision is None
    assert failure.value.message.startswith("cannot connect to the database: ")
    assert "hunter2" not in failure.value.message
