"""The mapping table against the service authorization reference and botocore's models."""

from __future__ import annotations

import pytest

from smartstack.local.iam import iamdata
from smartstack.local.iam.requests import service_model
from smartstack.local.iam.rules import FAMILIES, RULES, rule_for

OPERATIONS = [(s, o) for s, table in sorted(RULES.items()) for o in sorted(table)]


@pytest.mark.parametrize("service", sorted(RULES))
def test_every_mapped_operation_exists_in_its_service(service: str) -> None:
    model = service_model(service)
    assert model is not None, service
    unknown = sorted(set(RULES[service]) - set(model.operation_names))
    assert unknown == []


def test_every_action_a_rule_may_check_exists() -> None:
    missing = sorted(
        {(f"{s}:{o}", a) for s, o in OPERATIONS for a in RULES[s][o].actions
         if not iamdata.action_exists(a)}
    )  # fmt: skip
    assert missing == []


def test_families_take_only_their_own_operations() -> None:
    for service, predicate, _, _ in FAMILIES:
        model = service_model(service)
        taken = [o for o in model.operation_names if predicate(o)]
        assert taken, service
        for operation in taken:
            rule = rule_for(service, operation)
            assert rule is not None and all(iamdata.action_exists(a) for a in rule.actions), (
                operation
            )
    assert rule_for("ec2", "RunInstances") is None  # not mapped: refused
    assert rule_for("glacier", "ListVaults") is None
