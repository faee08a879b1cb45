"""Shared fixtures: one real local platform (moto server + PostgreSQL) per test session.

The platform runs on free ports with its own state directory, so the tests
never touch a developer's own `smartstack local up`.  Every test that uses it
(directly or through another fixture) is marked ``platform``, so
``pytest -m "not platform"`` runs the offline tests only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smartstack.aws.target import AwsTarget, target_for
from smartstack.cli.app import app
from smartstack.core.config import Settings, resolve_settings
from smartstack.infra.toolchain import toolchain
from smartstack.local import platform
from smartstack.local.isolated import isolated_environ, isolated_platform
from smartstack.local.network import PrivateNetwork

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_FIXTURE = "running_platform"
# An execution role's trust policy, as the stacks write it: Lambda may assume the role.
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "platform: runs against the real local platform (moto server + PostgreSQL)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs the platform, directly or through other fixtures."""
    for item in items:
        if PLATFORM_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.platform)


@pytest.fixture(scope="session")
def session_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment variables that point the tool at the test platform."""
    return isolated_environ(ROOT, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="session")
def settings(session_env: dict[str, str]) -> Settings:
    return resolve_settings(environ=session_env)


@pytest.fixture(scope="session")
def running_platform(session_env: dict[str, str]) -> Iterator[Settings]:
    """The local platform, started once for the whole session and stopped at the end.

    With ``SMARTSTACK_TEST_IAM_REPORT=<file>``, ``smartstack iam report`` of the session's
    local AWS is written there first (scripts/least-privilege.sh).
    """
    with isolated_platform(session_env) as settings:
        yield settings
        report = os.environ.get("SMARTSTACK_TEST_IAM_REPORT")
        if report:
            wide = dict(session_env, COLUMNS="200")
            printed = CliRunner().invoke(app, ["iam", "report"], env=wide)
            Path(report).write_text(printed.stdout + printed.stderr)


@pytest.fixture
def aws(running_platform: Settings) -> AwsTarget:
    """A target on an empty local AWS: every test starts from nothing."""
    platform.moto_server(running_platform).reset()
    return target_for(running_platform)


@pytest.fixture(scope="session")
def vpc(running_platform: Settings) -> PrivateNetwork | None:
    """The platform's VPC, where its functions and its database are (None where this machine
    cannot make one: the database is then on the machine's loopback)."""
    return platform.postgres_server(running_platform).network


@pytest.fixture(scope="session")
def rie(settings: Settings) -> Path:
    """The Lambda Runtime Interface Emulator of the pinned toolchain."""
    return toolchain(settings).lambda_rie


@pytest.fixture
def cli(session_env: dict[str, str]) -> Any:
    """Invoke the CLI in-process with the test platform's settings; returns the Result."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), env=session_env, input=input, catch_exceptions=False)

    return invoke


def envelope(result: Any) -> dict[str, Any]:
    """The JSON envelope a `--json` command printed."""
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed
