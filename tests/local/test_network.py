"""The platform's VPC: a network namespace that holds the database and the VPC's functions."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from smartstack.aws.target import AwsTarget
from smartstack.core.config import Settings
from smartstack.local import platform
from smartstack.local.network import PrivateNetwork
from tests.vpc import VpcSession


def test_each_platform_gets_its_own_namespace(tmp_path: Path) -> None:
    one, two = (PrivateNetwork.for_platform(tmp_path / d) for d in ("a", "b"))

    assert one.name != two.name
    assert PrivateNetwork.for_platform(tmp_path / "a") == one  # stable
    assert PrivateNetwork.from_variable(one.variable()) == one
    assert PrivateNetwork.from_variable(None) is None
    with pytest.raises(ValueError, match="not a namespace of ours"):
        PrivateNetwork.from_variable("../../proc/1/ns/net")


def _inside(vpc: PrivateNetwork, code: str) -> str:
    """What a Python run inside the VPC prints."""
    result = subprocess.run([*vpc.enter(), sys.executable, "-c", code], capture_output=True,
                            text=True, timeout=30, check=True)  # fmt: skip
    return result.stdout.strip()


_CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
    print("connected")
except OSError as exc:
    print(type(exc).__name__)
"""


def test_the_vpc_reaches_the_local_aws_and_nothing_else_of_the_machine(
    running_platform: Settings, vpc: PrivateNetwork | None
) -> None:
    if vpc is None:
        pytest.skip("the private network needs root (network namespaces); CI runs as root")
    moto_port = platform.moto_server(running_platform).port
    with socket.create_server(("0.0.0.0", 0)) as machine_service:  # any address of the machine
        port = machine_service.getsockname()[1]
        machine = socket.gethostbyname(socket.gethostname())

        def reach(host: str, to: int) -> str:
            return _inside(vpc, f"import sys; sys.argv[1:] = [{host!r}, '{to}']\n{_CONNECT}")

        assert reach("127.0.0.1", port) == "ConnectionRefusedError"
        assert reach(machine, port) in ("OSError", "ConnectionRefusedError")  # no route
    assert reach("127.0.0.1", moto_port) == "connected"  # the VPC's endpoint of the local AWS
    url = f"http://localhost:{moto_port}/moto-api/"  # the functions' AWS_ENDPOINT_URL form
    answer = _inside(vpc, f"import urllib.request as u; print(u.urlopen({url!r}).status)")
    assert answer == "200"


def test_a_half_made_namespace_is_repaired(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("namespaces need root; CI runs as root")
    network = PrivateNetwork.for_platform(tmp_path)
    try:
        subprocess.run(["ip", "netns", "add", network.name], check=True)  # loopback still down
        assert not network.exists()

        assert network.create()
        assert network.exists() and not network.create()
        with network.new_socket() as sock:  # a socket of the namespace works there
            sock.bind(("127.0.0.1", 0))
    finally:
        network.delete()
    assert not network.path.exists()


def _instance(aws: AwsTarget) -> tuple[dict[str, object], str, str]:
    name, password = f"t_{uuid.uuid4().hex[:12]}", f"pw-{uuid.uuid4().hex}"
    created = aws.client("rds").create_db_instance(
        DBInstanceIdentifier=f"{name.replace('_', '-')}-db", Engine="postgres",
        DBInstanceClass="db.t4g.micro", AllocatedStorage=20, DBName=name,
        MasterUsername=name, MasterUserPassword=password,
    )["DBInstance"]  # fmt: skip
    return created["Endpoint"], name, password


def test_the_deploying_process_cannot_connect_to_the_database(
    aws: AwsTarget, vpc: PrivateNetwork | None
) -> None:
    if vpc is None:
        pytest.skip("the private network needs root (network namespaces); CI runs as root")
    endpoint, name, password = _instance(aws)
    login = {"host": endpoint["Address"], "port": endpoint["Port"], "dbname": name,
             "user": name, "password": password, "sslmode": "require"}  # fmt: skip

    # This process stands for the deploying machine: nothing answers at the endpoint.
    with pytest.raises(psycopg.OperationalError, match="Connection refused"):
        psycopg.connect(**login, connect_timeout=5)  # type: ignore[arg-type]
    with VpcSession(vpc, **login) as inside:  # the VPC reaches it with the same login
        assert inside.execute("SELECT current_user").fetchone() == (name,)
