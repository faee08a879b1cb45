"""A moto server of its own with IAM enforcement on, and principals to call it as."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from smartstack.local.moto import MotoServer
from smartstack.local.processes import free_port

ACCOUNT = "123456789012"
REGION = "us-east-1"
ADMIN_KEYS = {"aws_access_key_id": "smartstack-local", "aws_secret_access_key": "local"}


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A directory of its own for a server (not under pytest's basetemp, which another
    pytest session starting meanwhile may prune, PID file and all)."""
    with tempfile.TemporaryDirectory(prefix="smartstack-iam-") as directory:
        yield Path(directory)


@pytest.fixture(scope="session")
def enforced_server() -> Iterator[MotoServer]:
    """The local AWS with SMARTSTACK_IAM_ENFORCEMENT=1, for the whole session."""
    with tempfile.TemporaryDirectory(prefix="smartstack-iam-") as directory:
        server = MotoServer(free_port(), Path(directory), iam_enforcement="1",
                            state_dir=Path(directory) / "aws-state")  # fmt: skip
        try:
            server.start()
            yield server
        finally:
            server.stop()


@pytest.fixture
def moto(enforced_server: MotoServer) -> MotoServer:
    """The enforced server, emptied: every test starts from nothing."""
    enforced_server.reset()
    return enforced_server


def session(server: MotoServer, **keys: str) -> Callable[[str], Any]:
    """A client factory for ``server`` with these credentials."""
    boto = boto3.session.Session(region_name=REGION, **keys)

    def client(service: str) -> Any:
        return boto.client(service, endpoint_url=server.url)

    return client


@pytest.fixture
def admin(moto: MotoServer) -> Callable[[str], Any]:
    return session(moto, **ADMIN_KEYS)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


TRUST_ACCOUNT = policy(
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
     "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}
)  # fmt: skip


@pytest.fixture
def role(moto: MotoServer, admin: Callable[[str], Any]) -> Callable[..., Callable[[str], Any]]:
    """``role(name, *statements, **assume_role_kwargs)``: a role with that inline policy,
    assumed by the admin; returns a client factory acting as the session."""

    def make(
        name: str,
        *statements: dict[str, Any],
        boundary: str | None = None,
        **assume: Any,
    ) -> Callable[[str], Any]:
        iam = admin("iam")
        extra = {"PermissionsBoundary": boundary} if boundary else {}
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_ACCOUNT, **extra)[
            "Role"
        ]["Arn"]
        if statements:
            iam.put_role_policy(
                RoleName=name, PolicyName="inline", PolicyDocument=policy(*statements)
            )
        assume.setdefault("RoleSessionName", "test")
        credentials = admin("sts").assume_role(RoleArn=arn, **assume)["Credentials"]
        return session(
            moto,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    return make


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
