"""Fixtures of the pipeline tests."""

from __future__ import annotations

import pytest

from smartstack.aws.target import AwsTarget
from smartstack.core.naming import DEFAULT_PROJECT
from smartstack.pipeline.ledger import Ledger, deployments_table


@pytest.fixture
def ledger(aws: AwsTarget) -> Ledger:
    """The table as the account stack makes it: string keys pk and sk."""
    aws.client("dynamodb").create_table(
        TableName=deployments_table(),
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return Ledger(aws, DEFAULT_PROJECT)
