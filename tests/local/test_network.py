"""The platform's VPC: a network namespace that holds the database and the VPC's functions."""

from __future__ import annotations

import ipaddress
import uuid
from pathlib import Path

import psycopg
import pytest

from smartstack.aws.target import AwsTarget
from smartstack.local.network import PrivateNetwork
from tests.vpc import VpcSession


def test_each_platform_gets_its_own_link_local_network(tmp_path: Path) -> None:
    one, two = (PrivateNetwork.for_platform(tmp_path / d) for d in ("a", "b"))

    assert one.name != two.name
    assert PrivateNetwork.for_platform(tmp_path / "a") == one  # stable
    for network in (one, two):
        host, vpc = (ipaddress.ip_address(a) for a in (network.host_address, network.vpc_address))
        assert host.is_link_local and vpc.is_link_local
        assert ipaddress.ip_network(f"{host}/30", strict=False) == ipaddress.ip_network(
            f"{vpc}/30", strict=False
        )
        assert str(host).split(".")[2] not in ("169", "170")  # AWS's metadata addresses
        assert len(network.name.replace("smartstack-", "ss") + "h") <= 15  # a link's name


def test_a_launcher_is_given_only_link_local_addresses() -> None:
    network = PrivateNetwork("smartstack-x", "169.254.9.1", "169.254.9.2")

    assert PrivateNetwork.from_variable(network.variable()) == network
    assert PrivateNetwork.from_variable(None) is None
    with pytest.raises(ValueError, match=r"10\.0\.0\.1 is not a link-local address"):
        PrivateNetwork.from_variable("smartstack-x 10.0.0.1 169.254.9.2")


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
