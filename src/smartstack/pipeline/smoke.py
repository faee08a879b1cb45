"""Smoke tests of a deployed release: one path, on AWS and on the local platform.

The checks ask the API's ``/health`` for the release, the database and the secret
over HTTPS to the HTTP API's endpoint, ask it once more with ``Invoke`` of the API's
``live`` alias, and post one job through the API: it goes through the queue to the AI
processor, whose result the API then serves.  The local AWS answers all of it as AWS
does (it runs the functions in the Lambda RIE, serves each HTTP API's endpoint and
feeds the queue's messages to the processor), so the code that runs against AWS is
the code every local deploy runs.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from smartstack.aws.lambda_api import LIVE_ALIAS
from smartstack.aws.target import AwsTarget
from smartstack.core.errors import CommandFailedError
from smartstack.local.lambda_runner import http_event

API = "api"
_HTTP_TIMEOUT = 30
JOB_WAIT_SECONDS = 90.0


class SmokeFailed(CommandFailedError):
    code = "smoke_failed"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


class Functions(Protocol):
    """How the smoke checks reach the deployed functions."""

    def http(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]: ...

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

    def http(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = urllib.request.Request(
            self.endpoint + path, data=data, headers=headers, method=method
        )
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


def smoke_test(functions: Functions, release: str) -> list[Check]:
    """:func:`run_checks`, then the functions' clients closed whatever happened."""
    try:
        return run_checks(functions, release)
    finally:
        functions.close()


def failures(checks: list[Check]) -> str:
    """The failed checks as one line, ``name: detail; …``; empty when every check passed."""
    return "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.passed)


def run_checks(
    functions: Functions, release: str, job_wait_seconds: float = JOB_WAIT_SECONDS
) -> list[Check]:
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
    invoked = functions.invoke(API, http_event("GET", "/health"))
    code = invoked.get("statusCode")
    checks.append(Check("api invoke", code == 200, f"Invoke of the live alias: statusCode {code}"))
    checks.append(_job_through_the_queue(functions, job_wait_seconds))
    return checks


def _job_through_the_queue(functions: Functions, wait_seconds: float) -> Check:
    """``POST /jobs``, then ``GET /jobs/{id}`` until the processor has stored its result."""
    status, queued = functions.http("POST", "/jobs", {"prompt": "smoke test"})
    job_id = queued.get("job_id")
    if status != 202 or not job_id:
        return Check("ai job", False, f"POST /jobs answered HTTP {status}")
    deadline = time.monotonic() + wait_seconds
    while True:
        status, result = functions.http("GET", f"/jobs/{job_id}")
        if status == 200:
            return Check("ai job", True, f"processed through the queue by {result.get('model')}")
        if status != 404 or time.monotonic() >= deadline:
            waited = f"not processed within {wait_seconds:.0f}s"
            return Check("ai job", False, f"job {job_id}: {waited if status == 404 else status}")
        time.sleep(0.5)


def _json_body(body: bytes | str) -> dict[str, Any]:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {
            "body": body[:200] if isinstance(body, str) else body[:200].decode(errors="replace")
        }
    return parsed if isinstance(parsed, dict) else {"body": parsed}
