from __future__ import annotations

import pytest

from smartstack.core.errors import UsageError
from smartstack.core.naming import (
    environment_key_alias,
    parameter_prefix,
    resource_name,
    role_name,
    state_key,
)


def test_resource_names_follow_the_adr_convention() -> None:
    assert resource_name("dev", "api") == "smartstack-dev-api"
    assert resource_name("staging", "ai-processor") == "smartstack-staging-ai-processor"
    assert role_name("prod") == "smartstack-prod-role"
    assert environment_key_alias("dev") == "alias/smartstack-dev"


def test_parameter_prefix_and_state_keys() -> None:
    assert parameter_prefix("prod") == "/smartstack/prod/"
    assert state_key("dev") == "env/dev/terraform.tfstate"
    assert state_key("account") == "account/terraform.tfstate"


@pytest.mark.parametrize("env", ["", "Dev", "dev/../prod", "d", "1dev", "a" * 17])
def test_bad_environment_names_are_refused(env: str) -> None:
    with pytest.raises(UsageError, match="not a valid environment name"):
        resource_name(env, "api")


@pytest.mark.parametrize("service", ["API", "-api", "api-", "a", "api_1", "x" * 41])
def test_bad_service_names_are_refused(service: str) -> None:
    with pytest.raises(UsageError, match="not a valid service name"):
        resource_name("dev", service)


@pytest.mark.parametrize("env", ["tfstate", "artifacts", "approvers", "deployments", "account"])
def test_names_the_account_stack_uses_are_not_environments(env: str) -> None:
    # smartstack-tfstate-* would be the state bucket and lock table, which the role of an
    # environment named tfstate would reach through its smartstack-<env>-* grants.
    with pytest.raises(UsageError, match="the account's own resources are named with it"):
        resource_name(env, "api")
