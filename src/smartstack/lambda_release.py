"""The app step: put a released artifact behind a function's ``live`` alias.

The code comes straight from the artifacts bucket (``S3Bucket``/``S3Key``), so
Lambda runs the very bytes that were published; the new version is published
with the expected ``CodeSha256`` and only then does ``live`` move.  A function
whose ``live`` version already runs the artifact is left alone, which is what
makes a repeated deploy cheap.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from smartstack.aws import AwsTarget
from smartstack.build import Artifact
from smartstack.errors import CommandFailedError, UsageError
from smartstack.lambda_runner import deployed_function, hex_code_sha256

LIVE_ALIAS = "live"


@dataclass(frozen=True)
class FunctionRelease:
    """What the app step did to one function."""

    service: str
    function_name: str
    previous_version: str
    version: str

    @property
    def changed(self) -> bool:
        return self.version != self.previous_version


def live_version(target: AwsTarget, function_name: str) -> str:
    """The version ``live`` points at."""
    try:
        alias = target.client("lambda").get_alias(FunctionName=function_name, Name=LIVE_ALIAS)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise UsageError(
                f"{function_name} or its '{LIVE_ALIAS}' alias does not exist; "
                "the infra step (or `smartstack apply <env>`) creates them."
            ) from exc
        raise
    return str(alias["FunctionVersion"])


def release_function(
    target: AwsTarget, function_name: str, artifact: Artifact, bucket: str, release: str
) -> FunctionRelease:
    """Deploy ``artifact`` to ``function_name`` and move ``live`` to it (no-op when it runs it)."""
    lam = target.client("lambda")
    previous = live_version(target, function_name)
    if deployed_function(target, function_name, previous).code_sha256 == artifact.sha256:
        return FunctionRelease(artifact.name, function_name, previous, previous)
    handler = deployed_function(target, function_name).handler
    if handler != artifact.handler:
        raise UsageError(
            f"{function_name} runs handler {handler!r} but release {release} ships "
            f"{artifact.handler!r}; apply the stack first so both agree."
        )
    lam.update_function_code(FunctionName=function_name, S3Bucket=bucket, S3Key=artifact.key)
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
    )
    published: dict[str, Any] = lam.publish_version(
        FunctionName=function_name,
        CodeSha256=base64.b64encode(bytes.fromhex(artifact.sha256)).decode(),
        Description=f"{release} {artifact.name}",
    )
    version = str(published["Version"])
    if hex_code_sha256(str(published.get("CodeSha256", ""))) != artifact.sha256:
        raise CommandFailedError(
            f"{function_name} version {version} does not run {artifact.key}; "
            "someone else changed the function meanwhile: deploy again."
        )
    move_live(target, function_name, version)
    return FunctionRelease(artifact.name, function_name, previous, version)


def move_live(target: AwsTarget, function_name: str, version: str) -> None:
    """Point ``live`` at ``version``; the alias's other settings stay OpenTofu's."""
    target.client("lambda").update_alias(
        FunctionName=function_name, Name=LIVE_ALIAS, FunctionVersion=version
    )
