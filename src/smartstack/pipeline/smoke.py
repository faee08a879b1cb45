"""Smoke tests of a deployed release: the same checks on AWS and on the local platform.

The checks ask the API's ``/health`` for the release, the database and the
secret, and hand the AI processor one job.  How requests reach the functions
depends only on what the endpoint can do:

* on AWS, HTTPS to the HTTP API's URL and ``Invoke`` of the processor's ``live``;
* where the endpoint stores functions but cannot run them (the local AWS says
  so with ``lambda-exec`` in ``SMARTSTACK_AWS_LIMITS``), the deployed zip of each
  ``live`` version runs in the Lambda RIE with that version's handler and
  environment (:class:`smartstack.local.lambda_runner.LocalLambda`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from smartstack.aws.lambda_api import LIVE_ALIAS
from smartstack.aws.target import AwsTarget
from smartstack.core.errors import CommandFailedError
from smartstack.local.lambda_runner import FunctionError, LocalLambda, http_event, sqs_event

API = "api"
AI_PROCESSOR = "ai-processor"
_HTTP_TIMEOUT = 30


class SmokeFailed(CommandFailedError):
    code = "smoke_failed"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


class Functions(Protocol):
    """How the smoke checks reach the deployed functions."""

    def http(self, method: str, path: str) -> tuple[int, dict[str, Any]]: ...

    def invoke(self, service: str, event: Mapping[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class AwsFunctions:
    """HTTPS to the API's URL; ``Invoke`` for the others.

    The URL is the one the stack published in the environment's parameter
    (``<prefix>/environment``, ``api_endpoint``): the environment's role may read its
    own parameters, not list every API of the account.
    """

    def __init__(
        self, target: AwsTarget, function_names: Mapping[str, str], parameter_prefix: str
    ) -> None:
        self.target = target
        self.names = dict(function_names)
        name = f"{parameter_prefix.rstrip('/')}/environment"
        ssm = target.client("ssm")
        try:
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
            endpoint = json.loads(value).get("api_endpoint")
        except (ssm.exceptions.ParameterNotFound, ValueError, AttributeError):
            endpoint = None  # missing, not JSON, not an object: the stack was not applied
        if not endpoint:
            raise SmokeFailed(f"{name} names no api_endpoint; apply the stack first.")
        self.endpoint = str(endpoint).rstrip("/")

    def http(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(self.endpoint + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT) as response:
                return response.status, _json_body(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _json_body(exc.read())
        except (urllib.error.URLError, TimeoutError) as exc:
            raise SmokeFailed(f"{self.endpoint}{path} did not answer ({exc}).") from exc

    def invoke(self, service: str, event: Mapping[str, Any]) -> dict[str, Any]:
        response = self.target.client("lambda").invoke(
            FunctionName=self.names[service],
            Qualifier=LIVE_ALIAS,
            Payload=json.dumps(event).encode(),
        )
        payload = _json_body(response["Payload"].read())
        if response.get("FunctionError"):
            raise SmokeFailed(
                f"{self.names[service]}:{LIVE_ALIAS} failed: {payload.get('errorMessage', payload)}"
            )
        return payload

    def close(self) -> None:
        pass


class EmulatedFunctions:
    """Each ``live`` version's zip in the Lambda RIE, as that version is configured."""

    def __init__(
        self,
        target: AwsTarget,
        function_names: Mapping[str, str],
        zips: Mapping[str, Path],
        rie: Path,
        log_dir: Path,
    ) -> None:
        self._stack = ExitStack()
        self.functions: dict[str, LocalLambda] = {}
        try:
            for service, name in function_names.items():
                self.functions[service] = self._stack.enter_context(
                    LocalLambda.deployed(
                        target,
                        name,
                        zips[service],
                        rie,
                        qualifier=LIVE_ALIAS,
                        log_file=log_dir / f"{service}.log",
                    )
                )
        except BaseException:
            self._stack.close()
            raise

    def http(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        try:
            result = self.functions[API].invoke(http_event(method, path))
        except FunctionError as exc:
            raise SmokeFailed(f"the API failed on {method} {path}: {exc.message}") from exc
        return int(result.get("statusCode", 0)), _json_body(result.get("body") or b"")

    def invoke(self, service: str, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self.functions[service].invoke(event)
        except FunctionError as exc:
            raise SmokeFailed(f"{service} failed: {exc.message}") from exc

    def close(self) -> None:
        self._stack.close()


def run_checks(functions: Functions, release: str, job_id: str, queue_arn: str) -> list[Check]:
    """Every check, in order; a check that cannot run at all raises :class:`SmokeFailed`."""
    status, health = functions.http("GET", "/health")
    checks = [
        Check("api health", status == 200, f"HTTP {status}, status {health.get('status')}"),
        Check(
            "release",
            health.get("release") == release,
            f"reports {health.get('release')}, deployed {release}",
        ),
        Check("database", health.get("database") == "ok", f"database {health.get('database')}"),
        Check("secret", health.get("secret") == "readable", f"secret {health.get('secret')}"),
    ]
    job = {"MessageId": job_id, "Body": json.dumps({"job_id": job_id, "prompt": "smoke test"})}
    result = functions.invoke(AI_PROCESSOR, sqs_event([job], queue_arn))
    failures = result.get("batchItemFailures") or []
    checks.append(
        Check("ai job", not failures, "processed" if not failures else f"{len(failures)} failed")
    )
    return checks


def _json_body(body: bytes | str) -> dict[str, Any]:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {
            "body": body[:200] if isinstance(body, str) else body[:200].decode(errors="replace")
        }
    return parsed if isinstance(parsed, dict) else {"body": parsed}
