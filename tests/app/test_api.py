"""The API's built artifact, run in the Lambda RIE against the local AWS and PostgreSQL."""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from smartstack.aws.target import AwsTarget
from smartstack.core.config import Settings
from smartstack.core.services import PYTHON_VERSION
from smartstack.local.lambda_runner import LocalLambda, http_event
from smartstack.local.network import PrivateNetwork
from smartstack.local.processes import free_port
from smartstack.release.build import Manifest
from tests.app.conftest import admin_dsn
from tests.app.helpers import (
    PREFIX,
    AppDatabase,
    deploy_function,
    migrate_database,
    put_settings,
    start,
)


@pytest.fixture
def api(
    release: tuple[Manifest, Path],
    aws: AwsTarget,
    rie: Path,
    tmp_path: Path,
    network: PrivateNetwork | None,
) -> Iterator[LocalLambda]:
    with start(release, "api", aws, rie, tmp_path / "api.log", network) as fn:
        yield fn


def call(fn: LocalLambda, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = fn.invoke(http_event(method, path, body))
    return response["statusCode"], json.loads(response["body"])


def test_health_reports_the_release_the_database_and_the_secret(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase, release: tuple[Manifest, Path]
) -> None:
    put_settings(aws, migrated)

    status, body = call(api, "GET", "/health")

    assert (status, body) == (
        200,
        {
            "status": "ok",
            "release": release[0].release,
            "environment": "test",
            "database": "ok",
            "secret": "readable",
        },
    )


def test_health_is_503_when_the_database_is_unreachable(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated, port=free_port())

    status, body = call(api, "GET", "/health")

    assert status == 503
    assert body["status"] == "degraded"
    assert body["database"] == "unreachable"
    assert body["secret"] == "readable"


def test_health_is_503_when_the_secret_is_missing(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated)
    aws.client("ssm").delete_parameter(Name=PREFIX + "db-password")

    status, body = call(api, "GET", "/health")

    assert status == 503
    assert (body["secret"], body["database"]) == ("unreadable", "unconfigured")


def test_db_port_is_optional(api: LocalLambda, aws: AwsTarget, migrated: AppDatabase) -> None:
    put_settings(aws, migrated)
    aws.client("ssm").delete_parameter(Name=PREFIX + "db-port")

    _, body = call(api, "GET", "/health")

    # Settings load without it (the default 5432 is tried), so the database is configured.
    assert body["secret"] == "readable"
    assert body["database"] != "unconfigured"


def _encrypted(db: AppDatabase) -> list[tuple[Any, ...]]:
    """Whether each of the functions' sessions to this database uses TLS."""
    name = db.name
    with psycopg.connect(db.admin) as conn:
        return conn.execute(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)"
            " WHERE a.application_name = 'smartstack' AND a.datname = %s",
            (name,),
        ).fetchall()


def test_the_database_is_reached_over_tls(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated, **{"db-sslmode": "require"})

    status, body = call(api, "GET", "/health")

    assert (status, body["database"]) == (200, "ok")
    assert _encrypted(migrated) == [(True,)]  # its one connection, kept open


def test_an_unencrypted_session_is_refused(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    # As RDS with rds.force_ssl: the local PostgreSQL takes the roles over TLS only.
    put_settings(aws, migrated, **{"db-sslmode": "disable"})

    status, body = call(api, "GET", "/health")

    assert (status, body["database"]) == (503, "auth_failed")
    assert _encrypted(migrated) == []


@pytest.fixture
def rds_database(aws: AwsTarget, running_platform: Settings) -> AppDatabase:
    """A database made as the pipeline makes it: RDS on the local AWS, migrated as its master
    user."""
    name, password = f"t_{uuid.uuid4().hex[:12]}", f"pw-{uuid.uuid4().hex}"
    endpoint = aws.client("rds").create_db_instance(
        DBInstanceIdentifier=f"{name.replace('_', '-')}-db", Engine="postgres",
        DBInstanceClass="db.t4g.micro", AllocatedStorage=20, DBName=name,
        MasterUsername=name, MasterUserPassword=password,
    )["DBInstance"]["Endpoint"]  # fmt: skip
    assert endpoint["Address"] == "127.0.0.1"  # in the VPC, where the functions run
    db = AppDatabase(name, password, endpoint["Port"], admin_dsn(running_platform, name))
    migrate_database(db.as_owner)
    return db


def test_the_api_uses_an_rds_instance_of_the_local_aws(
    api: LocalLambda, aws: AwsTarget, rds_database: AppDatabase
) -> None:
    put_settings(aws, rds_database)

    assert call(api, "GET", "/health")[1]["database"] == "ok"
    assert call(api, "POST", "/items", {"name": "in the instance"})[0] == 201
    with psycopg.connect(rds_database.admin) as conn:
        assert conn.execute("SELECT name FROM items").fetchall() == [("in the instance",)]


def test_the_instance_refuses_a_wrong_password(
    api: LocalLambda, aws: AwsTarget, rds_database: AppDatabase
) -> None:
    put_settings(aws, rds_database, password="not-the-password")

    status, body = call(api, "GET", "/health")

    assert (status, body["database"]) == (503, "auth_failed")


def test_a_rotated_password_reaches_a_warm_container(
    api: LocalLambda, aws: AwsTarget, rds_database: AppDatabase
) -> None:
    """The password changes in RDS and in Parameter Store, and the container's connection
    ends: its next connection is refused the password it has, so it reads the settings
    again and connects with the new one."""
    put_settings(aws, rds_database)
    assert call(api, "GET", "/health")[1]["database"] == "ok"  # warm, connected
    rotated = f"pw-{uuid.uuid4().hex}"
    aws.client("rds").modify_db_instance(
        DBInstanceIdentifier=f"{rds_database.name.replace('_', '-')}-db",
        MasterUserPassword=rotated, ApplyImmediately=True,
    )  # fmt: skip
    put_settings(aws, rds_database, password=rotated)
    with psycopg.connect(rds_database.admin, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
            (rds_database.name,),
        )

    status, body = call(api, "GET", "/health")

    assert (status, body["database"]) == (200, "ok")


def test_settings_are_read_once_per_container(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated)
    assert call(api, "GET", "/health")[0] == 200
    ssm = aws.client("ssm")
    names = [p["Name"] for p in ssm.get_parameters_by_path(Path=PREFIX)["Parameters"]]
    ssm.delete_parameters(Names=names)

    assert call(api, "GET", "/health")[0] == 200


def test_items_are_created_and_listed(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated)

    status, created = call(api, "POST", "/items", {"name": "  first item "})
    assert status == 201
    assert created["name"] == "first item"
    call(api, "POST", "/items", {"name": "second"})
    status, listed = call(api, "GET", "/items")

    assert status == 200
    assert [i["name"] for i in listed["items"]] == ["first item", "second"]
    assert listed["items"][0]["id"] == created["id"]
    with psycopg.connect(migrated.admin) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)


def test_one_item_is_read_by_its_id(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated)
    _, created = call(api, "POST", "/items", {"name": "one"})

    assert call(api, "GET", f"/items/{created['id']}") == (200, created)
    assert call(api, "GET", f"/items/{created['id'] + 1}") == (404, {"message": "no such item"})
    assert call(api, "GET", "/items/x") == (404, {"message": "no such item"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": ""}, "'prompt' must be a non-empty string"),
        ({"prompt": "x" * 20_001}, "'prompt' must be at most 20000 characters"),
        (
            {"prompt": "a", "job_id": "mine"},
            'send a JSON object with one field, like {"prompt": "..."}',
        ),
        ("{not json", 'the body must be JSON like {"prompt": "..."}'),
    ],
)
def test_invalid_jobs_are_refused_with_400(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase, body: Any, message: str
) -> None:
    put_settings(aws, migrated)
    status, answer = call(api, "POST", "/jobs", body)
    assert (status, answer["message"]) == (400, message)


def test_a_job_not_processed_yet_is_pending(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated)
    assert call(api, "GET", "/jobs/abc") == (404, {"job_id": "abc", "status": "pending"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": ""}, "'name' must be a non-empty string"),
        ({"name": "   "}, "'name' must be a non-empty string"),
        ({"name": 7}, "'name' must be a non-empty string"),
        ({"name": "x" * 201}, "'name' must be at most 200 characters"),
        ({"name": "a", "admin": True}, "unknown field 'admin'; only 'name' is accepted"),
        ({}, """'name' is required, like {"name": "..."}"""),
        (["a"], """send a JSON object like {"name": "..."}"""),
        ("{not json", """the body must be JSON like {"name": "..."}"""),
    ],
)
def test_invalid_items_are_refused_with_400(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase, body: Any, message: str
) -> None:
    put_settings(aws, migrated)

    status, answer = call(api, "POST", "/items", body)

    assert (status, answer["message"]) == (400, message)
    with psycopg.connect(migrated.admin) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)


def test_validation_runs_on_pydantic_core_compiled_for_the_functions_runtime(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase, release: tuple[Manifest, Path]
) -> None:
    """The zip ships pydantic-core's extension for cp312 manylinux x86_64 and the RIE loads it."""
    manifest, out = release
    with zipfile.ZipFile(out / manifest.artifact("api").file_name) as archive:
        compiled = [n for n in archive.namelist() if n.endswith(".so")]
    abi = PYTHON_VERSION.replace(".", "")
    assert compiled == [f"pydantic_core/_pydantic_core.cpython-{abi}-x86_64-linux-gnu.so"]
    put_settings(aws, migrated)

    assert call(api, "POST", "/items", {"name": "validated"})[0] == 201
    assert call(api, "POST", "/items", {"name": ["not", "a", "string"]})[0] == 400
    assert "ImportModuleError" not in api.logs()


def test_items_answer_503_without_the_database(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated, port=free_port())

    status, body = call(api, "GET", "/items")

    assert (status, body) == (503, {"message": "database unavailable", "database": "unreachable"})


def test_logs_are_json_and_never_contain_the_secret(
    api: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    password = put_settings(aws, migrated)
    call(api, "GET", "/health")
    call(api, "POST", "/items", {"name": "logged"})
    call(api, "POST", "/items", {"name": ""})
    call(api, "GET", "/nowhere")

    logs = api.logs()
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]

    assert password not in logs
    assert {r["message"] for r in records} >= {"request", "item created"}
    assert {r["service"] for r in records} == {"smartstack-api"}
    assert all(r["environment"] == "test" and r["release"] for r in records)
    assert [r["status"] for r in records if r["message"] == "request"] == [200, 201, 400, 404]


@pytest.mark.parametrize("attached", [True, False], ids=["in-the-vpc", "outside"])
def test_the_published_release_runs_as_the_deployed_function(
    aws: AwsTarget,
    migrated: AppDatabase,
    release: tuple[Manifest, Path],
    vpc: PrivateNetwork | None,
    attached: bool,
) -> None:
    """The smoke test in small: publish, deploy from the bucket, Invoke what was deployed.  Only
    a function attached to the VPC reaches the private database; both reach AWS."""
    put_settings(aws, migrated)
    manifest = release[0]
    lam = deploy_function(aws, release, "api", attached=attached)

    answer = lam.invoke(
        FunctionName="smartstack-test-api", Payload=json.dumps(http_event("GET", "/health"))
    )
    response = json.loads(answer["Payload"].read())

    assert "FunctionError" not in answer, response
    health = json.loads(response["body"])
    assert health["release"] == manifest.release
    reached = attached or vpc is None  # without a private network, everything reaches it
    assert (response["statusCode"], health["database"], health["secret"]) == (
        (200, "ok", "readable") if reached else (503, "unreachable", "readable")
    )
