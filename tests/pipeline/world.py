"""The pipeline tests' world: the local platform with the account stack applied and
releases built from commits of a clone, and the ways its actors act on it.

As on GitHub: IAM is enforced by the local AWS, only bootstrap and the account stack
run as the admin; every deploy, rollback and unlock runs as a GitHub Actions job of its
environment would (an OIDC token from the local issuer, traded for the environment's
role with AssumeRoleWithWebIdentity), releases are published by dev's job, and
approvals come from a person's own IAM user.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from smartstack.aws.environment import EnvironmentContext, open_environment
from smartstack.aws.lambda_api import live_version
from smartstack.aws.target import AwsTarget
from smartstack.cli.app import app
from smartstack.core.config import Settings
from smartstack.core.naming import DEFAULT_PROJECT, artifacts_bucket_name
from smartstack.local import platform
from smartstack.pipeline.deploy import DeployResult, deploy
from smartstack.pipeline.ledger import (
    AttemptKind,
    Ledger,
    approvals_pk,
    deployments_table,
    live_attempt,
)
from smartstack.pipeline.promotion import rollback
from smartstack.release.build import Manifest, build_release
from smartstack.release.store import publish_release
from tests.conftest import ROOT

ENVS = ("dev", "staging", "prod")
FUNCTIONS = ("ai-processor", "api", "migrator")

BAD_MIGRATION = '''"""A revision that fails: the table it alters does not exist."""

from alembic import op

revision = "0099"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE no_such_table ADD COLUMN broken integer")


def downgrade() -> None:
    pass
'''


@dataclass
class Pipeline:
    settings: Settings
    target: AwsTarget
    env: dict[str, str]  # process environment for the CLI
    good: Manifest
    second: Manifest
    undeployed: Manifest  # a good release no test deploys anywhere
    bad_migration: Manifest
    broken: Manifest
    new_prod_network: Manifest  # prod.tfvars moves prod's VPC: a plan that replaces it
    tokens: Path  # where the jobs' OIDC tokens are written
    refusals_seen: int = 0  # the number of the last IAM refusal of the local AWS reported

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return CliRunner().invoke(app, list(args), env=env or self.env, catch_exceptions=False)

    def job(self, env: str) -> Settings:
        """The settings of a GitHub Actions job in environment ``env``."""
        return platform.github_job(self.settings, env, self.tokens)

    def job_env(self, env: str) -> dict[str, str]:
        """The CLI's environment in that job."""
        token = self.job(env).web_identity_token_file
        return dict(self.env, SMARTSTACK_WEB_IDENTITY_TOKEN_FILE=str(token))

    def open(self, env: str) -> EnvironmentContext:
        """Environment ``env`` as its job acts in it."""
        return open_environment(self.job(env), env)

    def ledger(self) -> Ledger:
        return Ledger(self.target, DEFAULT_PROJECT)

    def live_sha(self, env: str, service: str) -> str:
        return self.code_sha(env, service, live_version(self.target, f"smartstack-{env}-{service}"))

    def code_sha(self, env: str, service: str, version: str) -> str:
        config = self.target.client("lambda").get_function_configuration(
            FunctionName=f"smartstack-{env}-{service}", Qualifier=version
        )
        return base64.b64decode(config["CodeSha256"]).hex()


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def commit(repo: Path, message: str, out: Path, target: AwsTarget, bucket: str) -> Manifest:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    manifest = build_release(repo, out / message.split()[0])
    publish_release(target, bucket, manifest, out / message.split()[0])
    return manifest


@dataclass(frozen=True)
class FirstDeploy:
    result: DeployResult
    events: list[str]  # "<step>:start" and "<step>:<outcome>", in order


def require_first(first: FirstDeploy) -> None:
    """Stop at once when dev's first deploy failed: nothing else can work (nor be retried)."""
    if first.result.error is not None:
        pytest.fail(f"dev's first deploy failed: {first.result.error.message}", pytrace=False)


def ensure_good_live(pipeline: Pipeline, env: str, *, deployed: bool = False) -> None:
    """Make the good release what ``env``'s `live` runs, deploying it only when it is not.

    It is when the ledger's live attempt (the newest success, a deploy or a rollback;
    with ``deployed``, a deploy) is of the good release and the aliases run its code.
    """
    good = pipeline.good
    current = live_attempt(pipeline.ledger().history(env, limit=None))
    if (
        current is not None
        and current.release == good.release
        and (current.kind == AttemptKind.DEPLOY or not deployed)
        and all(pipeline.live_sha(env, s) == good.artifact(s).sha256 for s in FUNCTIONS)
    ):
        return
    environment = pipeline.open(env)
    if environment.config.require_approval:  # by someone other than its deployer upstream
        approved = pipeline.cli("approve", env, good.release, env=approver(pipeline, "alice"))
        assert approved.exit_code == 0, approved.stderr
    result = deploy(environment, good.release)
    assert result.error is None, f"good release to {env}: {result.error and result.error.message}"


def roll_back_to_good(pipeline: Pipeline, env: str) -> None:
    """A test's cleanup: roll ``env`` back to the good release if it runs something else."""
    current = live_attempt(pipeline.ledger().history(env, limit=None))
    if current is not None and current.release != pipeline.good.release:
        attempt = rollback(pipeline.open(env))
        assert attempt.release == pipeline.good.release, f"{env} rolled back to {attempt.release}"


def withdraw_approvals(pipeline: Pipeline, env: str) -> None:
    """Remove every approval for ``env`` and its anchor (no command does: a test's setup,
    by the admin); all of them, so that the approvals' chains stay whole."""
    ddb, table = pipeline.target.client("dynamodb"), deployments_table(DEFAULT_PROJECT)
    found = ddb.scan(
        TableName=table,
        FilterExpression="begins_with(pk, :pk)",
        ExpressionAttributeValues={":pk": {"S": approvals_pk(env, "")}},
        ConsistentRead=True,
    )["Items"]
    for item in found:
        ddb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    s3 = pipeline.target.client("s3")
    bucket = artifacts_bucket_name(pipeline.target.account_id(), pipeline.target.region)
    anchors = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"ledger-anchors/{approvals_pk(env, '')}"
    )
    for page in anchors:  # their anchors too, as only an administrator may
        for entry in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=entry["Key"])


def role_session(pipeline: Pipeline, person: str, env: str = "prod") -> dict[str, str]:
    """The CLI's environment when ``person`` acts with a session of ``env``'s role named after
    them (what an administrator can do: the session name is theirs to choose)."""
    role = f"arn:aws:iam::{pipeline.target.account_id()}:role/smartstack-{env}-role"
    creds = pipeline.target.client("sts").assume_role(RoleArn=role, RoleSessionName=person)[
        "Credentials"
    ]
    return as_credentials(
        pipeline, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    )


def approver(pipeline: Pipeline, person: str) -> dict[str, str]:
    """The CLI's environment of ``person``, an approver signed in as their own IAM user,
    a member of the account stack's approvers group (made here, as an administrator would)."""
    iam = pipeline.target.client("iam")
    try:
        iam.create_user(UserName=person)
        iam.add_user_to_group(GroupName=f"{DEFAULT_PROJECT}-approvers", UserName=person)
    except iam.exceptions.EntityAlreadyExistsException:
        for old in iam.list_access_keys(UserName=person)["AccessKeyMetadata"]:  # at most two
            iam.delete_access_key(UserName=person, AccessKeyId=old["AccessKeyId"])
    key = iam.create_access_key(UserName=person)["AccessKey"]
    return as_credentials(pipeline, key["AccessKeyId"], key["SecretAccessKey"])


def as_credentials(
    pipeline: Pipeline, key: str, secret: str, token: str | None = None
) -> dict[str, str]:
    aws = {k: v for k, v in pipeline.target.variables.items() if not k.startswith("AWS_SECRET")}
    aws.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    if token:
        aws["AWS_SESSION_TOKEN"] = token
    return dict(pipeline.env, SMARTSTACK_TARGET="aws", **aws)  # as themselves, no pipeline role


def parameters(pipeline: Pipeline, env: str) -> dict[str, str]:
    ssm = pipeline.target.client("ssm")
    found = ssm.get_parameters_by_path(Path=f"/smartstack/{env}/", WithDecryption=True)
    return {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in found["Parameters"]}


def schema_revision(pipeline: Pipeline, env: str) -> str | None:
    """The environment's schema revision, read by the admin through the server's socket (the
    database is private: the deploying process has no route to it)."""
    database = parameters(pipeline, env)["db-name"]
    admin = platform.postgres_server(pipeline.settings).admin_dsn(database)
    with psycopg.connect(admin) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def loosened_checkout(tmp_path: Path, setting: str) -> Path:
    """A checkout of this commit whose prod.tfvars turns ``setting`` off."""
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True)
    shutil.rmtree(checkout / ".git")
    tfvars = checkout / "infrastructure/configs/prod.tfvars"
    text, strict = tfvars.read_text(), re.compile(rf"^({setting}\s*=\s*)true$", re.M)
    assert strict.search(text), f"prod.tfvars sets no {setting} = true"
    tfvars.write_text(strict.sub(r"\g<1>false", text))
    return checkout
