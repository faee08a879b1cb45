"""Helpers for running the built services against the local platform."""

from __future__ import annotations

import uuid
from pathlib import Path

from smartstack.aws.target import AwsTarget
from smartstack.local.lambda_runner import LocalLambda
from smartstack.release.build import Manifest

ENVIRONMENT = "test"
PREFIX = f"/smartstack/{ENVIRONMENT}/"


def put_settings(
    aws: AwsTarget, dsn: str, *, port: int | None = None, password: str | None = None, **extra: str
) -> str:
    """The services' parameters for the database at ``dsn``; returns the password used."""
    from urllib.parse import urlparse

    url = urlparse(dsn)
    password = password or f"pw-{uuid.uuid4().hex}"
    ssm = aws.client("ssm")
    values = {
        "db-host": url.hostname or "127.0.0.1",
        "db-port": str(port or url.port),
        "db-name": url.path.lstrip("/"),
        "db-username": url.username or "postgres",
        **extra,
    }
    for key, value in values.items():
        ssm.put_parameter(Name=PREFIX + key, Value=value, Type="String", Overwrite=True)
    ssm.put_parameter(
        Name=PREFIX + "db-password", Value=password, Type="SecureString", Overwrite=True
    )
    return password


def start(
    release: tuple[Manifest, Path], service: str, aws: AwsTarget, rie: Path, log: Path
) -> LocalLambda:
    """The service's artifact in the RIE, configured as the stack configures the function."""
    manifest, out = release
    artifact = manifest.artifact(service)
    return LocalLambda(
        out / artifact.file_name,
        artifact.handler,
        {"ENVIRONMENT": ENVIRONMENT, "PARAMETER_PREFIX": PREFIX},
        rie,
        aws_variables=aws.variables,
        function_name=f"smartstack-{ENVIRONMENT}-{service}",
        log_file=log,
    )
