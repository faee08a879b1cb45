"""The one place that builds AWS clients.

A :class:`AwsTarget` is a set of standard ``AWS_*`` variables: credentials,
region and, for the local platform, ``AWS_ENDPOINT_URL``.  boto3 clients made
here and the ``tofu`` processes started with :meth:`AwsTarget.process_env` read
the same variables, so the S3 backend, the AWS provider and Python always reach
the same AWS.  Local and real AWS differ only in those variables.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import urlparse

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from smartstack.core.config import Settings
from smartstack.core.envfile import read_env_file
from smartstack.core.errors import ConfigError, NotRunningError
from smartstack.core.naming import person_of, role_name

if TYPE_CHECKING:  # the stubs are a dev dependency: typed clients, no runtime cost
    from mypy_boto3_apigatewayv2 import ApiGatewayV2Client
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient

LOCAL_AWS_NOT_RUNNING = "the local AWS is not running: start it with `smartstack local up`."
_RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8})


@dataclass(frozen=True)
class AwsTarget:
    """Where AWS calls go and as whom."""

    variables: Mapping[str, str]
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _identity: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def region(self) -> str:
        return (
            self.variables.get("AWS_REGION")
            or self.variables.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )

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

    @overload
    def client(self, service: Literal["apigatewayv2"]) -> ApiGatewayV2Client: ...
    @overload
    def client(self, service: Literal["cloudwatch"]) -> CloudWatchClient: ...
    @overload
    def client(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...
    @overload
    def client(self, service: Literal["ec2"]) -> EC2Client: ...
    @overload
    def client(self, service: Literal["iam"]) -> IAMClient: ...
    @overload
    def client(self, service: Literal["kms"]) -> KMSClient: ...
    @overload
    def client(self, service: Literal["lambda"]) -> LambdaClient: ...
    @overload
    def client(self, service: Literal["logs"]) -> CloudWatchLogsClient: ...
    @overload
    def client(self, service: Literal["rds"]) -> RDSClient: ...
    @overload
    def client(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def client(self, service: Literal["sns"]) -> SNSClient: ...
    @overload
    def client(self, service: Literal["sqs"]) -> SQSClient: ...
    @overload
    def client(self, service: Literal["ssm"]) -> SSMClient: ...
    @overload
    def client(self, service: Literal["sts"]) -> STSClient: ...
    def client(self, service: str) -> Any:
        """A cached client per service; adaptive retries absorb throttling."""
        if service not in self._clients:
            session: Any = self.session()  # service names are dynamic; skip the stub overloads
            self._clients[service] = session.client(
                service, endpoint_url=self.endpoint_url(service), config=_RETRIES
            )
        return self._clients[service]

    def invoker(self, read_timeout_seconds: int) -> LambdaClient:
        """A Lambda client for one synchronous ``Invoke`` that may run ``read_timeout_seconds``
        (a function's timeout and some): botocore's default read timeout is 60 s, and a
        timed-out Invoke is not retried, since the function may have run."""
        config = Config(
            read_timeout=read_timeout_seconds,
            retries={"total_max_attempts": 1, "mode": "standard"},  # one attempt, no retry
        )
        session: Any = self.session()
        client: LambdaClient = session.client(
            "lambda", endpoint_url=self.endpoint_url("lambda"), config=config
        )
        return client

    def account_id(self) -> str:
        return self.identity()["Account"]

    def caller_arn(self) -> str:
        """Who this target acts as (an assumed-role session ARN names its session)."""
        return self.identity()["Arn"]

    def identity(self) -> dict[str, str]:
        """STS ``GetCallerIdentity``, asked once per target: it cannot change under us."""
        if not self._identity:
            answer = self.client("sts").get_caller_identity()
            self._identity.update(
                Account=answer["Account"], Arn=answer["Arn"], UserId=answer["UserId"]
            )
        return self._identity

    def process_env(self) -> dict[str, str]:
        """The environment for a child process (tofu) that must reach this target."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.variables)
        return env

    def assume_role(
        self, role_arn: str, session_name: str, source_identity: str | None = None
    ) -> AwsTarget:
        """A target acting as ``role_arn``, with the same endpoints."""
        sts = self.client("sts")
        if source_identity:
            creds = sts.assume_role(
                RoleArn=role_arn, RoleSessionName=session_name, SourceIdentity=source_identity
            )["Credentials"]
        else:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return self._acting_as(creds)

    def assume_role_with_web_identity(
        self, role_arn: str, session_name: str, token: str
    ) -> AwsTarget:
        """A target acting as ``role_arn`` for the holder of an OIDC ``token`` (a GitHub
        Actions job's), with the same endpoints; the request is unsigned: the token is the
        caller."""
        sts = boto3.session.Session(region_name=self.region).client(
            "sts",
            endpoint_url=self.endpoint_url("sts"),
            config=_RETRIES.merge(Config(signature_version=UNSIGNED)),
        )
        creds = sts.assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName=session_name, WebIdentityToken=token
        )["Credentials"]
        return self._acting_as(creds)

    def _acting_as(self, creds: Mapping[str, Any]) -> AwsTarget:
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

    It acts as the environment's role, so IAM confines it to that environment's
    resources, when given a job's OIDC token (SMARTSTACK_WEB_IDENTITY_TOKEN_FILE: what a
    GitHub Actions job holds; AWS_ACCOUNT_ID names the account) or told to assume it with
    the caller's credentials (SMARTSTACK_ASSUME_ROLES=1: an administrator).
    """
    target = target_for(settings)
    token_file = settings.web_identity_token_file
    if token_file is None and not settings.assume_roles:
        return target
    role = role_name(env, settings.project)
    if token_file is not None:
        account = _account_of_token_role(target)
        token = _read_token(token_file)
        return target.assume_role_with_web_identity(
            f"arn:aws:iam::{account}:role/{role}", job_session_name(token, env), token
        )
    return operator_session(target, f"arn:aws:iam::{target.account_id()}:role/{role}", env)


def operator_session(target: AwsTarget, role_arn: str, env: str) -> AwsTarget:
    """An administrator acting in an environment through its role. An IAM user's session is
    named after them and carries their user name as its source identity, as the roles'
    trust requires (infrastructure/account/iam.tf): the ledger records the person who
    deployed, so the approver rule knows them. Anyone else's session is
    ``smartstack-<env>``."""
    person = person_of(target.caller_arn())
    if person is None:
        return target.assume_role(role_arn, f"smartstack-{env}")
    return target.assume_role(role_arn, person, source_identity=person)


def _account_of_token_role(target: AwsTarget) -> str:
    """The account whose role a web identity token assumes: nothing can be asked before."""
    account = target.variables.get("AWS_ACCOUNT_ID", "")
    if not account.isdigit() or len(account) != 12:
        raise ConfigError(
            "SMARTSTACK_WEB_IDENTITY_TOKEN_FILE is set but AWS_ACCOUNT_ID is not a 12-digit "
            "account id: set AWS_ACCOUNT_ID to the account of the environment roles."
        )
    return account


_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def job_session_name(token: str, env: str) -> str:
    """The job's ``actor`` claim (the GitHub login that ran it), as GitHub's own credentials
    action names the session: the ledger then records who deployed, and the approver rule
    compares people.  The claim is read, not verified: STS verifies the token, and a forged
    claim fails there.  Without a usable claim, ``smartstack-<env>``."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        actor = str(claims.get("actor", "")) if isinstance(claims, dict) else ""
    except (IndexError, ValueError):
        actor = ""
    return actor if _SESSION_NAME.match(actor) else f"smartstack-{env}"


def _read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the web identity token file {path} ({exc.strerror}): point "
            "SMARTSTACK_WEB_IDENTITY_TOKEN_FILE at the job's OIDC token."
        ) from None
    if not token:
        raise ConfigError(
            f"the web identity token file {path} is empty: point "
            "SMARTSTACK_WEB_IDENTITY_TOKEN_FILE at the job's OIDC token."
        )
    return token


def _reachable(url: str) -> bool:
    """Whether an HTTP server answers at ``url``: any answer will do, an error status too.

    A TCP connect is not enough: a listening socket can outlive its server for a moment
    (a child being forked when the server was killed holds a copy), and accept
    connections nobody will ever answer.
    """
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(
        parsed.hostname or "127.0.0.1", parsed.port or 80, timeout=2
    )
    try:
        connection.request("OPTIONS", "/")  # no AWS operation: nothing to authorize
        connection.getresponse()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
