"""Lists what exists in an AWS account, by kind, through boto3 (for the stack tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smartstack.aws.target import AwsTarget


@dataclass
class Inventory:
    names: dict[str, list[str]] = field(default_factory=dict)
    retention: dict[str, int | None] = field(default_factory=dict)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    api_ids: dict[str, str] = field(default_factory=dict)  # name -> id


def take_inventory(target: AwsTarget) -> Inventory:
    inv = Inventory()
    lam, sqs, sns = target.client("lambda"), target.client("sqs"), target.client("sns")
    inv.names["lambda"] = [f["FunctionName"] for f in _pages(lam, "list_functions", "Functions")]
    inv.names["sqs"] = [u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", [])]
    inv.names["sns"] = [t["TopicArn"].rsplit(":", 1)[-1] for t in sns.list_topics()["Topics"]]
    inv.names["s3"] = [b["Name"] for b in target.client("s3").list_buckets()["Buckets"]]
    inv.names["iam role"] = [r["RoleName"] for r in target.client("iam").list_roles()["Roles"]]
    inv.names["rds"] = [
        d["DBInstanceIdentifier"]
        for d in target.client("rds").describe_db_instances()["DBInstances"]
    ]
    inv.names["dynamodb"] = target.client("dynamodb").list_tables()["TableNames"]
    apis = target.client("apigatewayv2").get_apis()["Items"]
    inv.names["http api"] = [a["Name"] for a in apis]
    inv.api_ids = {a["Name"]: a["ApiId"] for a in apis}
    inv.names["sqs"] = sorted(inv.names["sqs"])
    inv.names["ssm"] = [
        p["Name"] for p in _pages(target.client("ssm"), "describe_parameters", "Parameters")
    ]
    inv.names["kms alias"] = [
        a["AliasName"]
        for a in target.client("kms").list_aliases()["Aliases"]
        if not a["AliasName"].startswith("alias/aws/")
    ]
    groups = _pages(target.client("logs"), "describe_log_groups", "logGroups")
    inv.names["log group"] = [g["logGroupName"] for g in groups]
    inv.retention = {g["logGroupName"]: g.get("retentionInDays") for g in groups}
    inv.alarms = _pages(target.client("cloudwatch"), "describe_alarms", "MetricAlarms")
    inv.names["alarm"] = [a["AlarmName"] for a in inv.alarms]
    return inv


def _pages(client: Any, operation: str, key: str) -> list[Any]:
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate():
        items.extend(page.get(key, []))
    return items
