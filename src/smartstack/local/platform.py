"""``local up | down | status``: the local AWS and PostgreSQL as one platform.

``up`` writes the endpoint settings to one file of standard ``AWS_*``
variables; boto3 (through :mod:`smartstack.aws.target`), the OpenTofu S3 backend and
the AWS provider all read them from there.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from smartstack.aws.target import LOCAL_AWS_NOT_RUNNING
from smartstack.core.config import Settings
from smartstack.core.envfile import read_env_file
from smartstack.core.errors import ConfigError, NotRunningError
from smartstack.core.tfvars import read_tfvars
from smartstack.infra.toolchain import toolchain
from smartstack.local.iam import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, DEFAULT_ACCOUNT
from smartstack.local.moto import MotoServer
from smartstack.local.network import private_network
from smartstack.local.persistence import STATE_DIR_NAME
from smartstack.local.postgres import PostgresServer

# Not secrets: the local AWS knows this key as the account's root (docs/local-iam.md).
# AWS_ACCOUNT_ID lets a caller without credentials yet (a job with only a web identity
# token) name the account's roles, as a GitHub job names them from its variables.
_LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_KEY,
    "AWS_ACCOUNT_ID": DEFAULT_ACCOUNT,
}


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    running: bool
    healthy: bool
    pid: int | None
    address: str
    started: bool = False  # True when this call started it


@dataclass(frozen=True)
class PlatformStatus:
    components: tuple[ComponentStatus, ...]
    iam_enforcement: str | None = None  # the running local AWS's mode: enforce, audit or off

    @property
    def healthy(self) -> bool:
        return all(c.healthy for c in self.components)

    @property
    def aws_restarted(self) -> bool:
        return any(c.name == "aws" and c.started for c in self.components)


def moto_server(settings: Settings) -> MotoServer:
    # Its RDS instances are databases in the local PostgreSQL; it enforces IAM unless told
    # not to; Invoke runs functions in the toolchain's Lambda RIE.
    return MotoServer(
        settings.moto_port,
        settings.local_dir,
        postgres_server(settings).dsn,
        iam_enforcement=settings.iam_enforcement,
        lambda_rie=_lambda_rie(settings),
        network=private_network(settings.local_dir),
        state_dir=aws_state_dir(settings) if settings.aws_persistence else None,
    )


def aws_state_dir(settings: Settings) -> Path:
    """Where the local AWS keeps its resources across restarts."""
    return settings.local_dir / STATE_DIR_NAME


def _lambda_rie(settings: Settings) -> Path | None:
    """The toolchain's RIE; None for a root without the toolchain's versions (a server
    is only looked at then, never started)."""
    try:
        return toolchain(settings).lambda_rie
    except ConfigError:
        return None


def postgres_server(settings: Settings) -> PostgresServer:
    # In the VPC namespace where this machine can make one: the database is private.
    return PostgresServer(
        settings.postgres_port, settings.local_dir, private_network(settings.local_dir)
    )


def interrupted_load_file(settings: Settings) -> Path:
    """Present while a snapshot load swaps the local AWS's and PostgreSQL's data in."""
    return settings.local_dir / "snapshot-loading"


def up(settings: Settings) -> PlatformStatus:
    """Start whatever is not running; a second call changes nothing.

    PostgreSQL first: the local AWS creates its RDS instances' databases there.
    Both ports are checked before either server starts.  A snapshot load cut short
    (one server's data swapped in, not the other's) is refused: it is run again.
    """
    settings.local_dir.mkdir(parents=True, exist_ok=True)
    loading = interrupted_load_file(settings)
    if loading.is_file():
        name = loading.read_text().strip()
        raise ConfigError(
            f"loading snapshot {name!r} was interrupted: the data is half swapped in; run "
            f"`smartstack local snapshot load {name}` again."
        )
    moto, pg = moto_server(settings), postgres_server(settings)
    moto.check_port()
    pg.check_port()
    if pg.network is not None:
        pg.network.create()
    pg_started = pg.start()
    aws_started = moto.start()
    write_endpoints(settings, moto.url)
    return status(settings, started={"aws": aws_started, "postgres": pg_started})


def down(settings: Settings, purge: bool = False) -> PlatformStatus:
    """Stop only the processes our PID files name (the local AWS writes its checkpoint as
    it stops); ``purge`` also drops the data: PostgreSQL's and the local AWS's."""
    moto_server(settings).stop()
    pg = postgres_server(settings)
    pg.stop()
    if pg.network is not None:
        pg.network.delete()
    if purge:
        pg.purge()
        shutil.rmtree(aws_state_dir(settings), ignore_errors=True)
    settings.endpoints_file.unlink(missing_ok=True)
    return status(settings)


def status(settings: Settings, started: dict[str, bool] | None = None) -> PlatformStatus:
    started = started or {}
    moto = moto_server(settings)
    pg = postgres_server(settings)
    moto_pid, pg_pid = moto.pid(), pg.pid()
    moto_healthy = moto_pid is not None and moto.healthy()
    return PlatformStatus(
        (
            ComponentStatus(
                "aws",
                moto_pid is not None,
                moto_healthy,
                moto_pid,
                moto.url,
                started.get("aws", False),
            ),
            ComponentStatus(
                "postgres",
                pg_pid is not None,
                pg.healthy(),
                pg_pid,
                pg.address,
                started.get("postgres", False),
            ),
        ),
        iam_enforcement=moto.iam_mode() if moto_healthy else None,
    )


def write_endpoints(settings: Settings, url: str) -> None:
    """One file of standard variables, read by every client of the local AWS."""
    lines = [
        "# Written by `smartstack local up`. The local AWS (moto, its state kept on disk),",
        "# for boto3, the OpenTofu S3 backend, the AWS provider and the AWS CLI alike.",
        f"AWS_ENDPOINT_URL={url}",
        f"AWS_REGION={settings.region}",
        f"AWS_DEFAULT_REGION={settings.region}",
        *(f"{k}={v}" for k, v in _LOCAL_CREDENTIALS.items()),
    ]
    tmp = settings.endpoints_file.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(settings.endpoints_file)


def endpoint_variables(settings: Settings) -> dict[str, str]:
    """The variables `up` wrote, for shells: eval "$(smartstack local env)"."""
    if not settings.endpoints_file.is_file():
        raise NotRunningError(LOCAL_AWS_NOT_RUNNING)
    return read_env_file(settings.endpoints_file.read_text())


def github_job(
    settings: Settings, env: str, directory: Path, *, lifetime: int = 300, **claims: str
) -> Settings:
    """The settings of a GitHub Actions job in environment ``env`` of the repository the
    account stack trusts: a fresh token of the local OIDC issuer, written in ``directory``,
    which the CLI trades for the environment's role (``claims`` override the job's)."""
    account = read_tfvars(settings.infrastructure_dir / "account" / "account.tfvars")
    issuer = moto_server(settings).oidc_issuer()
    token = directory / f"{env}-{uuid.uuid4().hex[:8]}.jwt"
    token.write_text(
        issuer.github_job(
            str(account["github_repository"]),
            environment=env,
            lifetime=lifetime,
            subject_names_workflow=True,
            **claims,  # as docs/pipeline-workflows.md sets it up
        )
    )
    return replace(settings, web_identity_token_file=token)
