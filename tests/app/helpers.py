"""Helpers for running the built services against the local platform."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from smartstack_migrator.runner import migrate
from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

from smartstack.aws.target import AwsTarget
from smartstack.local.lambda_runner import LocalLambda
from smartstack.local.network import PrivateNetwork
from smartstack.release.build import Manifest
from smartstack.release.store import load_release, publish_release
from tests.conftest import LAMBDA_TRUST

MIGRATIONS = Path(__file__).resolve().parents[2] / "app" / "migrations"
ENVIRONMENT = "test"
PREFIX = f"/smartstack/{ENVIRONMENT}/"


@dataclass(frozen=True)
class AppDatabase:
    """A database and the role that owns it, as an RDS instance has them.

    The services reach it at 127.0.0.1 in the VPC; the tests, on the machine's network,
    through ``admin`` (the server's socket).
    """

    name: str
    password: str
    port: int
    admin: str  # the admin's DSN of this database

    @property
    def as_owner(self) -> str:
        """The admin's connection acting as the owning role (what it makes, the role owns)."""
        return f"{self.admin}&options={quote(f'-c role={self.name}')}"


def migrate_database(dsn: str) -> list[str]:
    """The app's migrations applied by the migrator's runner (in-process, through psycopg)."""
    engine = create_engine(make_url(dsn).set(drivername="postgresql+psycopg"), poolclass=NullPool)
    try:
        timeouts = {"lock_timeout_ms": 5_000, "statement_timeout_ms": 60_000}
        return migrate(engine, MIGRATIONS, **timeouts, lock_wait_ms=60_000).applied
    finally:
        engine.dispose()


def put_settings(
    aws: AwsTarget,
    db: AppDatabase,
    *,
    port: int | None = None,
    password: str | None = None,
    **extra: str,
) -> str:
    """The services' parameters for ``db`` (over TLS unless ``db-sslmode`` says otherwise);
    returns the password written."""
    password = password or db.password
    ssm = aws.client("ssm")
    values = {
        "db-host": "127.0.0.1",
        "db-port": str(port or db.port),
        "db-name": db.name,
        "db-username": db.name,
        "db-sslmode": "require",
        **extra,
    }
    for key, value in values.items():
        ssm.put_parameter(Name=PREFIX + key, Value=value, Type="String", Overwrite=True)
    ssm.put_parameter(
        Name=PREFIX + "db-password", Value=password, Type="SecureString", Overwrite=True
    )
    return password


def start(
    release: tuple[Manifest, Path],
    service: str,
    aws: AwsTarget,
    rie: Path,
    log: Path,
    network: PrivateNetwork | None,
) -> LocalLambda:
    """The service's artifact in the RIE, configured as the stack configures the function
    (in the VPC)."""
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
        network=network,
    )


def deploy_function(
    aws: AwsTarget,
    release: tuple[Manifest, Path],
    service: str,
    *,
    attached: bool = True,
    environment: dict[str, str] | None = None,
) -> Any:
    """``smartstack-test-<service>`` made from the published artifact, as the stacks make it:
    an execution role Lambda may assume that reads the settings, in the VPC when ``attached``.
    Returns the Lambda client."""
    manifest, out = release
    bucket = "smartstack-artifacts"
    aws.client("s3").create_bucket(Bucket=bucket)
    publish_release(aws, bucket, manifest, out)
    name, iam = f"smartstack-{ENVIRONMENT}-{service}", aws.client("iam")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    reads = {"Effect": "Allow", "Action": ["ssm:GetParametersByPath", "kms:Decrypt"],
             "Resource": "*"}  # fmt: skip
    iam.put_role_policy(
        RoleName=name,
        PolicyName="settings",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [reads]}),
    )
    artifact = load_release(aws, bucket, manifest.release).manifest.artifact(service)
    vpc = {"VpcConfig": {"SubnetIds": ["subnet-0a"], "SecurityGroupIds": ["sg-0a"]}}
    lam = aws.client("lambda")
    lam.create_function(
        FunctionName=name,
        Runtime=manifest.runtime,
        Role=role,
        Handler=artifact.handler,
        Code={"S3Bucket": bucket, "S3Key": artifact.key},
        Timeout=60,
        Environment={
            "Variables": {
                "ENVIRONMENT": ENVIRONMENT,
                "PARAMETER_PREFIX": PREFIX,
                **(environment or {}),
            }
        },
        **(vpc if attached else {}),
    )
    return lam
