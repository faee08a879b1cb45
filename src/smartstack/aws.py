"""The one place that builds AWS clients.

A :class:`AwsTarget` is a set of standard ``AWS_*`` variables: credentials,
region and, for the local platform, ``AWS_ENDPOINT_URL``.  boto3 clients made
here and the ``tofu`` processes started with :meth:`AwsTarget.process_env` read
the same variables, so the S3 backend, the AWS provider and Python always reach
the same AWS.  Local and real AWS differ only in those variables.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config

from smartstack.config import Settings
from smartstack.errors import NotRunningError
from smartstack.naming import role_name

LOCAL_AWS_NOT_RUNNING = "the local AWS is not running: start it with `smartstack local up`."
_RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8})


def read_env_file(text: str) -> dict[str, str]:
    """Parse ``KEY=value`` lines (comments and blanks skipped)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class AwsTarget:
    """Where AWS calls go and as whom."""

    variables: Mapping[str, str]
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def region(self) -> str:
        return (
            self.variables.get("AWS_REGION")
            or self.variables.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )

    @property
    def limits(self) -> frozenset[str]:
        """Features the target's endpoints cannot serve (empty for AWS itself)."""
        raw = self.variables.get("SMARTSTACK_AWS_LIMITS", "")
        return frozenset(item for item in raw.split(",") if item)

    def uses_tls(self, service: str) -> bool:
        """Whether requests to ``service`` travel over TLS (always true on AWS itself)."""
        return (self.endpoint_url(service) or "https://").startswith("https://")

    @property
    def has_custom_endpoint(self) -> bool:
        return any(k.startswith("AWS_ENDPOINT_URL") for k in self.variables)

    def endpoint_url(self, service: str) -> str | None:
        """The endpoint boto3 itself would pick from ``AWS_ENDPOINT_URL[_<SERVICE>]``."""
        specific = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
        return self.variables.get(specific) or self.variables.get("AWS_ENDPOINT_URL")

    def session(self) -> boto3.session.Session:
        v = self.variables
        return boto3.session.Session(
            aws_access_key_id=v.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=v.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=v.get("AWS_SESSION_TOKEN"),
            profile_name=v.get("AWS_PROFILE"),
            region_name=self.region,
        )

    def client(self, service: str) -> Any:
        """A cached client per service; adaptive retries absorb throttling."""
        if service not in self._clients:
            session: Any = self.session()  # service names are dynamic; skip the stub overloads
            self._clients[service] = session.client(
                service, endpoint_url=self.endpoint_url(service), config=_RETRIES
            )
        return self._clients[service]

    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    def process_env(self) -> dict[str, str]:
        """The environment for a child process (tofu) that must reach this target."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.variables)
        return env

    def assume_role(self, role_arn: str, session_name: str) -> AwsTarget:
        """A target acting as ``role_arn``, with the same endpoints."""
        creds = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)[
            "Credentials"
        ]
        variables = {k: v for k, v in self.variables.items() if k != "AWS_PROFILE"}
        variables.update(
            AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
            AWS_SESSION_TOKEN=creds["SessionToken"],
        )
        return AwsTarget(variables)


def target_for(settings: Settings) -> AwsTarget:
    """The AWS a command talks to: the local platform's endpoints, or the caller's AWS."""
    if settings.target == "aws":
        return AwsTarget({k: v for k, v in os.environ.items() if k.startswith("AWS_")})
    if not settings.endpoints_file.is_file():
        raise NotRunningError(LOCAL_AWS_NOT_RUNNING)
    target = AwsTarget(read_env_file(settings.endpoints_file.read_text()))
    endpoint = target.endpoint_url("sts") or ""
    if not _reachable(endpoint):
        raise NotRunningError(
            f"the local AWS at {endpoint} does not answer: start it with `smartstack local up`."
        )
    return target


def environment_target(settings: Settings, env: str) -> AwsTarget:
    """The target for work inside one environment.

    With ``assume_roles`` (SMARTSTACK_ASSUME_ROLES=1) it acts as the
    environment's role, so IAM confines it to that environment's resources.
    """
    target = target_for(settings)
    if not settings.assume_roles:
        return target
    arn = f"arn:aws:iam::{target.account_id()}:role/{role_name(env, settings.project)}"
    return target.assume_role(arn, f"smartstack-{env}")


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 80), 1):
            return True
    except OSError:
        return False
