"""The app step: put a released artifact behind a function's ``live`` alias.

The code comes straight from the artifacts bucket (``S3Bucket``/``S3Key``), so
Lambda runs the very bytes that were published; the new version is published
with the expected ``CodeSha256`` and only then does ``live`` move.  A function
whose ``live`` version already runs the artifact is left alone, which is what
makes a repeated deploy cheap.  A function whose runtime or architecture is not
the one the release was built for is refused before anything changes: its
compiled dependencies would not load there.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from smartstack.aws.lambda_api import (
    DeployedFunction,
    deployed_function,
    hex_code_sha256,
    live_version,
    move_live,
)
from smartstack.aws.target import AwsTarget
from smartstack.core.errors import CommandFailedError, UsageError
from smartstack.core.services import ARCHITECTURE, RUNTIME
from smartstack.release.build import Artifact


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


def release_function(
    target: AwsTarget,
    function_name: str,
    artifact: Artifact,
    bucket: str,
    release: str,
    *,
    runtime: str = RUNTIME,
    architecture: str = ARCHITECTURE,
    before_move: Callable[[str], None] = lambda previous: None,
) -> FunctionRelease:
    """Deploy ``artifact`` to ``function_name`` and move ``live`` to it (no-op when it runs it).

    ``runtime`` and ``architecture`` are what the release was built for (its
    manifest's); a function configured otherwise is refused before any change.
    ``before_move`` is told the version ``live`` leaves just before it moves (a journal
    writes it ahead, so that a deploy killed right after the move can be undone).
    """
    lam = target.client("lambda")
    previous = live_version(target, function_name)
    live = deployed_function(target, function_name, previous)
    if live.code_sha256 == artifact.sha256:
        _check_platform(live, release, runtime, architecture)
        return FunctionRelease(artifact.name, function_name, previous, previous)
    latest = deployed_function(target, function_name)
    _check_platform(latest, release, runtime, architecture)
    if latest.handler != artifact.handler:
        raise UsageError(
            f"{function_name} runs handler {latest.handler!r} but release {release} ships "
            f"{artifact.handler!r}; apply the stack first so both agree."
        )
    lam.update_function_code(FunctionName=function_name, S3Bucket=bucket, S3Key=artifact.key)
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
    )
    published = lam.publish_version(
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
    before_move(previous)
    move_live(target, function_name, version)
    return FunctionRelease(artifact.name, function_name, previous, version)


def _check_platform(fn: DeployedFunction, release: str, runtime: str, architecture: str) -> None:
    """Refuse a function that cannot run the release's build (its runtime or architecture)."""
    if (fn.runtime, fn.architecture) != (runtime, architecture):
        raise UsageError(
            f"{fn.name} runs {fn.runtime or 'no runtime'} on {fn.architecture} but release "
            f"{release} is built for {runtime} on {architecture}; apply the stack so the "
            f"function runs {runtime}, or deploy a release built for {fn.runtime}."
        )
