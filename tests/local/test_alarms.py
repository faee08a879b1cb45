"""How the local AWS evaluates alarms: statistics, metric math, windows, missing data."""

from __future__ import annotations

import math

import pytest

from smartstack.local.alarms import decide, evaluate_expression, percentile, statistic

ERROR_RATE = "IF(invocations > 0, errors / invocations * 100, 0)"


def test_statistics_of_one_period() -> None:
    values = [1.0, 2.0, 3.0, 10.0]
    assert statistic(values, "Sum") == 16.0
    assert statistic(values, "Average") == 4.0
    assert statistic(values, "Minimum") == 1.0
    assert statistic(values, "Maximum") == 10.0
    assert statistic(values, "SampleCount") == 4.0
    assert statistic([], "Sum") is None
    with pytest.raises(ValueError, match="not evaluated"):
        statistic(values, "TrimmedMean")


def test_percentiles_take_the_nearest_rank() -> None:
    hundred = [float(v) for v in range(1, 101)]
    assert percentile(hundred, 99) == 99.0
    assert percentile(hundred, 50) == 50.0
    assert statistic([5.0], "p99") == 5.0
    assert statistic(list(reversed(hundred)), "p90") == 90.0


def test_the_error_rate_expression() -> None:
    assert evaluate_expression(ERROR_RATE, {"errors": 3.0, "invocations": 4.0}) == 75.0
    assert evaluate_expression(ERROR_RATE, {"errors": 0.0, "invocations": 0.0}) == 0.0
    assert evaluate_expression(ERROR_RATE, {"errors": None, "invocations": None}) is None
    assert evaluate_expression("a - -b", {"a": 1.0, "b": 2.0}) == 3.0
    assert math.isnan(evaluate_expression("a / b", {"a": 1.0, "b": 0.0}) or 0.0)


@pytest.mark.parametrize("expression", ["__import__('os')", "a.b", "[a]", "IF(a)", "nope + 1"])
def test_anything_else_in_an_expression_is_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        evaluate_expression(expression, {"a": 1.0})


def test_datapoints_to_alarm_of_the_window() -> None:
    over = "GreaterThanThreshold"
    assert decide([5.0], 1.0, over, 1, "missing", "OK") == "ALARM"
    assert decide([0.0], 1.0, over, 1, "missing", "ALARM") == "OK"
    assert decide([5.0, 0.0, 5.0], 1.0, over, 2, "missing", "OK") == "ALARM"
    assert decide([5.0, 0.0, 0.0], 1.0, over, 2, "missing", "ALARM") == "OK"
    assert decide([1.0], 1.0, "GreaterThanOrEqualToThreshold", 1, "missing", "OK") == "ALARM"
    assert decide([0.5], 1.0, "LessThanThreshold", 1, "missing", "OK") == "ALARM"


def test_missing_data_is_treated_as_the_alarm_says() -> None:
    over = "GreaterThanThreshold"
    assert decide([None], 1.0, over, 1, "missing", "OK") == "INSUFFICIENT_DATA"
    assert decide([None], 1.0, over, 1, "notBreaching", "ALARM") == "OK"
    assert decide([None], 1.0, over, 1, "breaching", "OK") == "ALARM"
    assert decide([None], 1.0, over, 1, "ignore", "ALARM") == "ALARM"
    assert decide([None, 5.0], 1.0, over, 2, "missing", "OK") == "OK"  # only one counts


def test_an_alarm_not_evaluated_here_does_not_stop_the_others() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from smartstack.local.alarms import AlarmEvaluator

    now = 1_000_000.0
    changed: dict[str, str] = {}

    def alarm(name: str, comparison: str) -> SimpleNamespace:
        return SimpleNamespace(
            name=name, metric_data_queries=[], period=60, evaluation_periods=1,
            namespace="AWS/Lambda", metric_name="Errors", dimensions=[], statistic="Sum",
            extended_statistic=None, datapoints_to_alarm=None, treat_missing_data="missing",
            threshold=1.0, comparison_operator=comparison, state_value="OK",
        )  # fmt: skip

    sample = SimpleNamespace(namespace="AWS/Lambda", name="Errors", dimensions=[], value=5.0,
                             timestamp=datetime.fromtimestamp(now - 1, UTC))  # fmt: skip
    backend = SimpleNamespace(
        metric_data=[sample],
        alarms={"band": alarm("band", "LessThanLowerOrGreaterThanUpperThreshold"),
                "errors": alarm("errors", "GreaterThanThreshold")},
        set_alarm_state=lambda name, reason, data, state: changed.update({name: state}),
    )  # fmt: skip
    AlarmEvaluator(clock=lambda: now).evaluate(backend)
    assert changed == {"errors": "ALARM"}
