"""Lambda calls the pipeline makes: a function's deployed configuration, its ``live`` alias.

The pipeline's app step, the rollback and the smoke checks all read and move
``live`` through here, so the alias's name and the error for a function that
does not exist yet are written once.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from smartstack.aws.errors import error_code
from smartstack.aws.target import AwsTarget
from smartstack.core.errors import UsageError

LIVE_ALIAS = "live"


@dataclass(frozen=True)
class DeployedFunction:
    """What the Lambda API says about a deployed function: what a local run must reproduce."""

    name: str
    handler: str
    runtime: str
    architecture: str  # x86_64 or arm64
    code_sha256: str  # hex, comparable with a manifest's artifact digest
    timeout_seconds: int
    environment: Mapping[str, str] = field(repr=False)  # may hold settings; not printed


def deployed_function(
    target: AwsTarget, function_name: str, qualifier: str | None = None
) -> DeployedFunction:
    """The deployed configuration of ``function_name`` (handler, environment, code digest).

    ``qualifier`` picks a version or alias (``live``); without it, ``$LATEST``.
    """
    extra = {"Qualifier": qualifier} if qualifier else {}
    try:
        config = target.client("lambda").get_function_configuration(
            FunctionName=function_name, **extra
        )
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise UsageError(
                f"function {function_name} is not deployed; deploy the release first."
            ) from exc
        raise
    return DeployedFunction(
        name=function_name,
        handler=str(config.get("Handler", "")),
        runtime=str(config.get("Runtime", "")),
        architecture=str((config.get("Architectures") or ["x86_64"])[0]),
        code_sha256=hex_code_sha256(str(config.get("CodeSha256", ""))),
        timeout_seconds=int(config.get("Timeout", 30)),
        environment=dict(config.get("Environment", {}).get("Variables", {})),
    )


def hex_code_sha256(b64: str) -> str:
    """Lambda's ``CodeSha256`` (base64) as hex, comparable with a manifest's digest."""
    return base64.b64decode(b64).hex() if b64 else ""


def live_version(target: AwsTarget, function_name: str) -> str:
    """The version ``live`` points at."""
    try:
        alias = target.client("lambda").get_alias(FunctionName=function_name, Name=LIVE_ALIAS)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise UsageError(
                f"{function_name} or its '{LIVE_ALIAS}' alias does not exist; "
                "the infra step (or `smartstack apply <env>`) creates them."
            ) from exc
        raise
    return str(alias["FunctionVersion"])


def move_live(target: AwsTarget, function_name: str, version: str) -> None:
    """Point ``live`` at ``version``; the alias's other settings stay OpenTofu's."""
    target.client("lambda").update_alias(
        FunctionName=function_name, Name=LIVE_ALIAS, FunctionVersion=version
    )
