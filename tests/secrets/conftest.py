"""Fixtures for the secrets tests: the environments' KMS keys and call counting.

The KMS aliases are made with boto3 here, as the account stack will make them.
"""

from __future__ import annotations

from typing import Any

import pytest

from smartstack.aws.target import AwsTarget
from smartstack.core.config import Settings
from smartstack.core.naming import environment_key_alias
from smartstack.core.redact import Redactor
from smartstack.secrets.store import SsmSecretStore
from tests.secrets.secrets_helpers import make_store

ENVS = ("dev", "staging", "prod")


@pytest.fixture
def kms_aliases(aws: AwsTarget) -> AwsTarget:
    """The three environments' customer-managed keys, as the account stack would create."""
    kms = aws.client("kms")
    for env in ENVS:
        key_id = kms.create_key(Description=f"smartstack {env} secrets")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=environment_key_alias(env), TargetKeyId=key_id)
    return aws


@pytest.fixture
def platform(running_platform: Settings, kms_aliases: AwsTarget) -> Settings:
    """Settings of the test platform, on an empty local AWS with the KMS keys made."""
    return running_platform


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def dev_store(kms_aliases: AwsTarget, redactor: Redactor) -> SsmSecretStore:
    return make_store(kms_aliases, "dev", redactor)


@pytest.fixture
def ssm_calls(aws: AwsTarget) -> Any:
    """The SSM operations made through the shared client, in order (a botocore event hook)."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    client = aws.client("ssm")
    client.meta.events.register("before-call.ssm", record)
    yield calls
    client.meta.events.unregister("before-call.ssm", record)
