"""The released migrator, deployed and invoked through the local AWS, inside the VPC."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
from smartstack_migrator.runner import LOCK_KEY

from smartstack.aws.target import AwsTarget
from smartstack.release.build import Manifest
from tests.app.helpers import AppDatabase, deploy_function, put_settings

TIMEOUTS = {"MIGRATION_LOCK_TIMEOUT_MS": "2000", "MIGRATION_STATEMENT_TIMEOUT_MS": "30000"}


def _invoke(lam: Any) -> tuple[bool, dict[str, Any]]:
    answer = lam.invoke(FunctionName="smartstack-test-migrator", Payload=b'{"target": "head"}')
    return "FunctionError" in answer, json.loads(answer["Payload"].read())


def test_the_migrator_applies_and_reports_the_release_s_revisions(
    aws: AwsTarget, release: tuple[Manifest, Path], app_database: AppDatabase
) -> None:
    put_settings(aws, app_database)
    lam = deploy_function(aws, release, "migrator", environment=TIMEOUTS)

    first, again = _invoke(lam), _invoke(lam)

    assert first == (False, {"applied": ["0001", "0002"], "current": "0002", "head": "0002",
                             "release": release[0].release})  # fmt: skip
    assert again[1]["applied"] == []
    with psycopg.connect(app_database.admin) as conn:  # made by the owner, as on RDS
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'items'")
        assert owner.fetchone() == (app_database.name,)


def test_two_concurrent_migrators_do_not_both_migrate(
    aws: AwsTarget, release: tuple[Manifest, Path], app_database: AppDatabase
) -> None:
    put_settings(aws, app_database)
    lam = deploy_function(aws, release, "migrator", environment=TIMEOUTS)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: _invoke(lam), range(2)))

    assert [failed for failed, _ in results] == [False, False], results
    assert sorted(r["applied"] for _, r in results) == [[], ["0001", "0002"]]
    assert {r["current"] for _, r in results} == {"0002"}


def test_a_migrator_waits_for_the_migration_lock(
    aws: AwsTarget, release: tuple[Manifest, Path], app_database: AppDatabase
) -> None:
    put_settings(aws, app_database)
    lam = deploy_function(aws, release, "migrator", environment=TIMEOUTS)
    _invoke(lam)  # a warm environment: the wait below is the lock's, not a cold start's
    with psycopg.connect(app_database.admin, autocommit=True) as holder:
        holder.execute("DROP TABLE items, ai_results, alembic_version")  # all pending again
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(_invoke, lam)
            time.sleep(3)
            assert not waiting.done()  # it waits for the lock, it does not migrate beside it
            holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            failed, result = waiting.result(timeout=60)

    assert (failed, result["applied"]) == (False, ["0001", "0002"])


def test_a_migrator_outside_the_vpc_cannot_reach_the_database(
    aws: AwsTarget, release: tuple[Manifest, Path], app_database: AppDatabase, vpc: object
) -> None:
    put_settings(aws, app_database)
    lam = deploy_function(aws, release, "migrator", environment=TIMEOUTS, attached=vpc is None)

    failed, error = _invoke(lam)

    if vpc is None:  # no private network here: it reaches the database like everything
        assert not failed
        return
    assert failed
    assert error["errorType"] == "MigrationFailed"
    assert "cannot connect to the database" in error["errorMessage"]
    assert app_database.password not in json.dumps(error)
