"""The local platform's lifecycle, on its own ports and state directory."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import boto3
import psycopg
import pytest
from botocore.exceptions import ClientError

from smartstack.aws.target import target_for
from smartstack.core.config import Settings, resolve_settings
from smartstack.core.errors import NotRunningError, PortInUseError
from smartstack.local import platform, processes
from smartstack.local.moto import MotoServer
from smartstack.local.processes import free_port
from tests.conftest import ROOT
from tests.vpc import VpcSession

pytestmark = pytest.mark.platform  # each test starts a local platform of its own


@pytest.fixture
def own_settings(tmp_path: Path) -> Iterator[Settings]:
    """A platform of its own: these tests stop and kill it."""
    settings = resolve_settings(
        root=ROOT,
        moto_port=free_port(),
        postgres_port=free_port(),
        environ={"SMARTSTACK_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path)},
    )
    yield settings
    platform.down(settings, purge=True)


def test_up_twice_is_idempotent(own_settings: Settings) -> None:
    first = platform.up(own_settings)
    assert first.healthy
    assert all(c.started for c in first.components)
    second = platform.up(own_settings)
    assert second.healthy
    assert not any(c.started for c in second.components)
    assert [c.pid for c in first.components] == [c.pid for c in second.components]


def test_endpoint_settings_reach_the_local_aws(own_settings: Settings) -> None:
    platform.up(own_settings)
    target = target_for(own_settings)
    assert target.endpoint_url("s3") == f"http://localhost:{own_settings.moto_port}"
    assert target.account_id() == "123456789012"


def test_status_reflects_a_killed_moto_server(own_settings: Settings) -> None:
    status = platform.up(own_settings)
    moto_pid = next(c.pid for c in status.components if c.name == "aws")
    assert moto_pid is not None
    os.kill(moto_pid, signal.SIGKILL)
    processes.terminate(moto_pid, timeout=5)
    after = {c.name: c for c in platform.status(own_settings).components}
    assert not after["aws"].running and not after["aws"].healthy
    assert after["postgres"].healthy
    with pytest.raises(NotRunningError, match="smartstack local up"):
        target_for(own_settings)
    restarted = {c.name: c for c in platform.up(own_settings).components}
    assert restarted["aws"].started and restarted["aws"].healthy


def test_down_leaves_no_process_of_ours(own_settings: Settings) -> None:
    pids = [c.pid for c in platform.up(own_settings).components]
    platform.down(own_settings)
    for pid in pids:
        assert pid is not None and not processes.pid_alive(pid)
    assert not platform.status(own_settings).healthy
    assert not own_settings.endpoints_file.exists()


def test_down_does_not_touch_a_process_it_did_not_start(own_settings: Settings) -> None:
    own_settings.local_dir.mkdir(parents=True)
    bystander = processes.spawn(
        ["sleep", "30"],
        own_settings.local_dir / "b.log",
        own_settings.local_dir / "moto.pid",
        dict(os.environ),
    )
    try:
        platform.down(own_settings)
        assert processes.pid_alive(bystander)
    finally:
        processes.terminate(bystander)


def test_a_taken_port_is_refused_before_anything_starts(own_settings: Settings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", own_settings.moto_port))
        squatter.listen()
        with pytest.raises(PortInUseError, match=f"port {own_settings.moto_port} is taken"):
            platform.up(own_settings)
    assert not any(c.running for c in platform.status(own_settings).components)


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_a_data_directory_from_an_older_version_gets_tls_and_passwords(
    own_settings: Settings, running: bool
) -> None:
    platform.up(own_settings)
    pg = platform.postgres_server(own_settings)
    if not running:
        platform.down(own_settings)
    # What an older version left: no certificate, no settings of ours, trust for everyone.
    for leftover in ("server.crt", "server.key", "smartstack.conf"):
        (pg.data_dir / leftover).unlink()
    (pg.data_dir / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
    conf = pg.data_dir / "postgresql.conf"
    conf.write_text(conf.read_text().replace("include_if_exists = 'smartstack.conf'", ""))
    if running:
        pg._run("pg_ctl", "reload", "-D", str(pg.data_dir))

    platform.up(own_settings)

    with psycopg.connect(pg.dsn, autocommit=True) as admin:
        assert admin.execute("SHOW ssl").fetchone() == ("on",)
        admin.execute("CREATE ROLE app LOGIN PASSWORD 'the-right-password'")
    app = {"host": "127.0.0.1", "port": pg.port, "user": "app", "dbname": "postgres"}
    with VpcSession(pg.network, **app, password="the-right-password", sslmode="require") as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        VpcSession(pg.network, **app, password="wrong", sslmode="require")
    # No TCP login is trusted: the admin comes through the socket only.
    admin_over_tcp = {**app, "user": "postgres"}
    with pytest.raises(psycopg.OperationalError, match=r"no pg_hba\.conf entry"):
        VpcSession(pg.network, **admin_over_tcp, sslmode="disable")
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        VpcSession(pg.network, **admin_over_tcp, sslmode="require")


def test_up_replaces_a_moto_server_started_without_the_database(own_settings: Settings) -> None:
    platform.up(own_settings)
    platform.moto_server(own_settings).stop()
    MotoServer(own_settings.moto_port, own_settings.local_dir).start()  # as an older version did

    after = {c.name: c for c in platform.up(own_settings).components}

    assert after["aws"].started and after["aws"].healthy
    rds = target_for(own_settings).client("rds")
    endpoint = rds.create_db_instance(
        DBInstanceIdentifier="smartstack-dev-db", Engine="postgres",
        DBInstanceClass="db.t4g.micro", AllocatedStorage=20, DBName="smartstack_dev",
        MasterUsername="dev_admin", MasterUserPassword="p" * 16,
    )["DBInstance"]["Endpoint"]  # fmt: skip
    assert endpoint == {"Address": "127.0.0.1", "Port": own_settings.postgres_port}


def test_the_local_aws_enforces_iam_unless_told_not_to(own_settings: Settings) -> None:
    status = platform.up(own_settings)
    assert status.iam_enforcement == "enforce"
    unknown = boto3.client(
        "ssm", endpoint_url=f"http://localhost:{own_settings.moto_port}", region_name="us-east-1",
        aws_access_key_id="AKIANOBODY0000000000", aws_secret_access_key="x",
    )  # fmt: skip
    with pytest.raises(ClientError) as refused:
        unknown.describe_parameters()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    off = replace(own_settings, iam_enforcement="off")
    switched = {c.name: c for c in platform.up(off).components}
    assert switched["aws"].started, "a server in another mode is replaced"
    assert platform.status(off).iam_enforcement == "off"
    unknown.describe_parameters()  # allowed: stock moto

    kept = {c.name: c for c in platform.up(own_settings).components}  # no mode asked for
    assert not kept["aws"].started
    assert platform.status(own_settings).iam_enforcement == "off"
