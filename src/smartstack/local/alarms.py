"""CloudWatch alarms that change state, as CloudWatch evaluates them.

moto stores alarms and metrics but never evaluates an alarm: every alarm stays in its
initial state whatever its metric does.  Here a thread evaluates each metric alarm every
second from the metrics published so far, for the kinds of alarm the stacks define:

* a metric with a ``Statistic`` (``Sum``, ``Average``, ``Minimum``, ``Maximum``,
  ``SampleCount``) or an ``ExtendedStatistic`` percentile (``p99``), or metric math
  (``Metrics`` with an ``Expression`` such as ``IF(invocations > 0, errors / invocations *
  100, 0)``: arithmetic, comparisons and ``IF``) over metrics' statistics;
* against ``Threshold`` with the ``ComparisonOperator``;
* over the ``EvaluationPeriods`` most recent periods of ``Period`` seconds (aligned to the
  period, the current one included), ``DatapointsToAlarm`` of them breaching to alarm;
* a period without data is treated as ``TreatMissingData`` says: ``missing`` (the default:
  only periods with data count; none at all is ``INSUFFICIENT_DATA``), ``notBreaching``,
  ``breaching``, or ``ignore`` (the state stays).

A metric matches when its namespace, name and dimensions are exactly the alarm's, as in
CloudWatch (a datapoint published with more dimensions is another metric).
"""

from __future__ import annotations

import ast
import functools
import json
import logging
import math
import operator
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from smartstack.local.persistence.store import persisted

log = logging.getLogger("smartstack.local.alarms")
_EVALUATE_EVERY = 1.0

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def statistic(values: list[float], name: str) -> float | None:
    """One period's statistic of its samples (None: no data)."""
    if not values:
        return None
    if name == "Sum":
        return sum(values)
    if name == "Average":
        return sum(values) / len(values)
    if name == "Minimum":
        return min(values)
    if name == "Maximum":
        return max(values)
    if name == "SampleCount":
        return float(len(values))
    if name.startswith("p"):
        return percentile(values, float(name[1:]))
    raise ValueError(f"statistic {name} is not evaluated here")


def percentile(values: list[float], rank: float) -> float:
    """The nearest-rank percentile (CloudWatch's for raw samples)."""
    ordered = sorted(values)
    index = max(0, math.ceil(rank / 100 * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]


_BINARY: dict[type[ast.AST], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda a, b: a / b if b else math.nan,
}
_COMPARE: dict[type[ast.AST], Callable[[float, float], bool]] = {
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}  # fmt: skip


def evaluate_expression(expression: str, values: Mapping[str, float | None]) -> float | None:
    """A metric math expression over one period's values (None: missing data)."""
    tree = ast.parse(expression.strip(), mode="eval")

    def value(node: ast.AST) -> float | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise ValueError(f"unknown metric id {node.id}")
            return values[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = value(node.operand)
            return None if inner is None else -inner
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = value(node.left), value(node.right)
            return None if left is None or right is None else _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            left, right = value(node.left), value(node.comparators[0])
            if left is None or right is None:
                return None
            return 1.0 if _COMPARE[type(node.ops[0])](left, right) else 0.0
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "IF"
            and len(node.args) in (2, 3)
        ):
            condition = value(node.args[0])
            if condition is None:
                return None
            if condition:
                return value(node.args[1])
            return value(node.args[2]) if len(node.args) == 3 else None
        raise ValueError(f"metric math {ast.unparse(node)!r} is not evaluated here")

    return value(tree.body)


def decide(
    datapoints: list[float | None],
    threshold: float,
    comparison: str,
    to_alarm: int,
    missing: str,
    current: str,
) -> str:
    """The alarm's state from its evaluation window's datapoints (oldest first)."""
    breaches = COMPARISONS[comparison]
    marks: list[bool] = []
    for point in datapoints:
        if point is None or math.isnan(point):
            if missing == "breaching":
                marks.append(True)
            elif missing == "notBreaching":
                marks.append(False)
            continue
        marks.append(breaches(point, threshold))
    if not marks:
        return current if missing == "ignore" else "INSUFFICIENT_DATA"
    return "ALARM" if sum(marks) >= to_alarm else "OK"


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


Wanted = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, metric name, dimensions
Samples = dict[Wanted, list[tuple[float, float]]]  # a metric's (epoch, value) samples


def _dimensions(items: Iterable[Any]) -> frozenset[tuple[str, str]]:
    return frozenset((str(d.name), str(d.value)) for d in items)


class AlarmEvaluator:
    """Evaluates every metric alarm of every account and region, once a second."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alarms", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(_EVALUATE_EVERY):
            try:
                self.evaluate_all()
            except Exception:  # one odd alarm must not stop the others being evaluated
                log.exception("local alarms: an evaluation failed")

    def evaluate_all(self) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        for account in list(cloudwatch_backends.keys()):
            for region in list(cloudwatch_backends[account].keys()):
                backend = cloudwatch_backends[account][region]
                if backend.alarms:
                    self.evaluate(backend, functools.partial(_set_alarm_state, account, region))

    def evaluate(self, backend: Any, set_state: Callable[..., None] | None = None) -> None:
        """Each alarm of ``backend`` from its metrics; a change goes through ``set_state``
        (name, reason, data, state), the backend's own unless given (logged, in the server)."""
        set_state = set_state or backend.set_alarm_state
        now = self.clock()
        samples = index_samples(backend.metric_data)
        for alarm in list(backend.alarms.values()):
            try:
                state, points = self.state_of(alarm, samples, now)
            except Exception as exc:  # a kind not evaluated here; the others still are
                log.warning("local alarms: %s not evaluated: %s", alarm.name, exc)
                continue
            if state != alarm.state_value:
                reason = (
                    f"Threshold Crossed: {len(points)} datapoint(s) "
                    f"{[round(p, 3) for p in points if p is not None]} evaluated "
                    f"against {alarm.comparison_operator} {alarm.threshold}."
                )
                data = json.dumps({"version": "1.0", "queryDate": now, "recentDatapoints": [
                    p for p in points if p is not None]})  # fmt: skip
                set_state(alarm.name, reason, data, state)

    def state_of(self, alarm: Any, samples: Samples, now: float) -> tuple[str, list[float | None]]:
        queries = list(alarm.metric_data_queries or [])
        period = int(alarm.period or (_query_period(queries) if queries else 60))
        periods = int(alarm.evaluation_periods or 1)
        current_start = now - now % period
        windows = [(current_start - i * period, current_start - i * period + period)
                   for i in range(periods - 1, -1, -1)]  # fmt: skip
        if queries:
            points = [self._math(queries, samples, start, end) for start, end in windows]
        else:
            wanted = (alarm.namespace, alarm.metric_name, _dimensions(alarm.dimensions))
            stat = str(alarm.extended_statistic or alarm.statistic)
            points = [statistic(_values(samples, wanted, s, e), stat) for s, e in windows]
        to_alarm = int(alarm.datapoints_to_alarm or periods)
        missing = str(alarm.treat_missing_data or "missing")
        state = decide(points, float(alarm.threshold), str(alarm.comparison_operator),
                       to_alarm, missing, str(alarm.state_value))  # fmt: skip
        return state, points

    def _math(self, queries: list[Any], samples: Samples, start: float, end: float) -> float | None:
        values: dict[str, float | None] = {}
        for query in queries:
            stat = query.metric_stat
            if stat is None:
                continue
            metric = stat.metric
            wanted = (metric.namespace, metric.metric_name, _dimensions(metric.dimensions))
            values[query.id] = statistic(_values(samples, wanted, start, end), str(stat.stat))
        result = [q for q in queries if str(q.return_data).lower() in ("true", "1")] or queries
        chosen = result[0]
        if chosen.expression:
            return evaluate_expression(str(chosen.expression), values)
        return values.get(chosen.id)


def _query_period(queries: list[Any]) -> int:
    for query in queries:
        if query.metric_stat is not None and query.metric_stat.period:
            return int(query.metric_stat.period)
    return 60


def index_samples(data: Iterable[Any]) -> Samples:
    """moto's metric data by metric (namespace, name, dimensions): (epoch, value) pairs."""
    index: Samples = {}
    for sample in list(data):
        value = getattr(sample, "value", None)
        if value is None:
            continue
        key = (sample.namespace, sample.name, _dimensions(sample.dimensions))
        index.setdefault(key, []).append((_epoch(sample.timestamp), float(value)))
    return index


def _values(samples: Samples, wanted: Wanted, start: float, end: float) -> list[float]:
    return [value for moment, value in samples.get(wanted, ()) if start <= moment < end]


@persisted("cloudwatch.set_alarm_state")
def _set_alarm_state(account: str, region: str, name: str, reason: str, data: str,
                     state: str) -> None:  # fmt: skip
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[account][region].set_alarm_state(name, reason, data, state)
