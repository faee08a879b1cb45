"""The metrics AWS services publish for what the local AWS runs: Lambda's and API Gateway's.

Put straight into moto's CloudWatch (as the services do, without a caller's request):

* ``AWS/Lambda``: ``Invocations``, ``Errors``, ``Duration`` (milliseconds, from the
  runtime's REPORT line) and ``Throttles``, each by ``FunctionName``, by ``FunctionName``
  and ``Resource`` (``<function>:<qualifier>`` when one was asked for), and, for an
  alias, by those and ``ExecutedVersion``;
* ``AWS/ApiGateway`` (HTTP APIs): ``Count``, ``4xx``, ``5xx`` (0 or 1 each request) and
  ``Latency`` (milliseconds), by ``ApiId`` and by ``ApiId`` and ``Stage``.
"""

from __future__ import annotations

import re
from typing import Any

from smartstack.local.persistence.store import persisted

_DURATION = re.compile(r"REPORT RequestId: \S+\s+Duration: ([0-9.]+) ms")


@persisted("cloudwatch.put_metric_data")
def put(account: str, region: str, namespace: str, data: list[dict[str, Any]]) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[account][region].put_metric_data(namespace, data)


def reported_duration(log: str, measured_ms: float) -> float:
    """The invocation's duration as the runtime reported it (else as measured here)."""
    found = _DURATION.findall(log)
    return float(found[-1]) if found else measured_ms


def lambda_invocation(
    fn: Any,
    qualifier: str | None,
    executed_version: str,
    *,
    duration_ms: float | None,
    errored: bool,
    throttled: bool = False,
) -> None:
    name = str(fn.function_name)
    sets = [[("FunctionName", name)]]
    if qualifier:
        resource = [("FunctionName", name), ("Resource", f"{name}:{qualifier}")]
        sets.append(resource)
        if not qualifier.isdigit() and qualifier != "$LATEST":
            sets.append([*resource, ("ExecutedVersion", executed_version)])
    values: list[tuple[str, float, str]] = []
    if throttled:
        values.append(("Throttles", 1.0, "Count"))
    else:
        values += [("Invocations", 1.0, "Count"), ("Errors", 1.0 if errored else 0.0, "Count")]
        if duration_ms is not None:
            values.append(("Duration", duration_ms, "Milliseconds"))
    put(str(fn.account_id), str(fn.region), "AWS/Lambda", _data(sets, values))


def api_request(api: Any, stage: str, status: int, latency_ms: float) -> None:
    sets = [[("ApiId", api.api_id)], [("ApiId", api.api_id), ("Stage", stage)]]
    values = [
        ("Count", 1.0, "Count"),
        ("4xx", 1.0 if 400 <= status < 500 else 0.0, "Count"),
        ("5xx", 1.0 if status >= 500 else 0.0, "Count"),
        ("Latency", latency_ms, "Milliseconds"),
    ]
    account, region = str(api.backend.account_id), str(api.backend.region_name)
    put(account, region, "AWS/ApiGateway", _data(sets, values))


def _data(
    sets: list[list[tuple[str, str]]], values: list[tuple[str, float, str]]
) -> list[dict[str, Any]]:
    """Each (metric, value, unit) once for each set of dimensions, as PutMetricData has it."""
    return [
        {"MetricName": metric, "Value": value, "Unit": unit,
         "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions]}
        for dimensions in sets for metric, value, unit in values
    ]  # fmt: skip
