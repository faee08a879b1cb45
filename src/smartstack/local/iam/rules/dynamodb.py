"""The mapping of DynamoDB: see :mod:`smartstack.local.iam.rules`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from smartstack.local.iam.evaluator import ContextValue
from smartstack.local.iam.rules.core import (
    Call,
    Check,
    kms_check,
    on,
    tag_context,
    tags_of,
    via,
)

# ================================ DynamoDB ===================================================


def _table_arn(call: Call, name: str) -> str:
    return name if name.startswith("arn:") else call.arn("dynamodb", f"table/{name}")


def _table_name(name: str) -> str:
    return name.split(":table/", 1)[1].split("/")[0] if name.startswith("arn:") else name


def _attribute_value(value: Any) -> str | None:
    if not isinstance(value, dict) or len(value) != 1:
        return None
    kind, raw = next(iter(value.items()))
    if kind in ("S", "N", "B"):
        return str(raw)
    return None


def _hash_key(call: Call, table: str) -> str | None:
    found = call.world.dynamodb_table(_table_name(table))
    return str(found.hash_key_attr) if found is not None else None


def _leading_from_item(call: Call, table: str, item: Mapping[str, Any] | None) -> list[str]:
    hash_key = _hash_key(call, table)
    if hash_key is None or not item:
        return []
    value = _attribute_value(item.get(hash_key))
    return [value] if value is not None else []


def _leading_from_query(call: Call, table: str, params: Mapping[str, Any]) -> list[str]:
    hash_key = _hash_key(call, table)
    if hash_key is None:
        return []
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    expression = params.get("KeyConditionExpression")
    index = params.get("IndexName")
    if index:
        found = call.world.dynamodb_table(_table_name(table))
        for candidate in [*getattr(found, "global_indexes", []), *getattr(found, "indexes", [])]:
            if getattr(candidate, "name", None) == index:
                schema = getattr(candidate, "schema", []) or []
                hash_key = next(
                    (s["AttributeName"] for s in schema if s.get("KeyType") == "HASH"), hash_key
                )
    if expression:
        for left, right in re.findall(r"([#\w.]+)\s*=\s*(:[\w]+)", str(expression)):
            attribute = names.get(left, left)
            if attribute == hash_key:
                value = _attribute_value(values.get(right))
                return [value] if value is not None else []
        for right, left in re.findall(r"(:[\w]+)\s*=\s*([#\w.]+)", str(expression)):
            if names.get(left, left) == hash_key:
                value = _attribute_value(values.get(right))
                return [value] if value is not None else []
        return []
    conditions = params.get("KeyConditions") or {}
    condition = conditions.get(hash_key) or {}
    if condition.get("ComparisonOperator") == "EQ":
        listed = condition.get("AttributeValueList") or []
        value = _attribute_value(listed[0]) if listed else None
        return [value] if value is not None else []
    return []


def _table_key(call: Call, table: str) -> list[Check]:
    """The KMS use of an item access: DynamoDB decrypts the table's key with the caller's
    credentials (``kms:Decrypt`` via DynamoDB, with the table's encryption context), so a
    table encrypted with a KMS key is readable and writable only by who may use that key
    through DynamoDB.  AWS caches the plaintext key for a while; each request is checked
    here, which is what the cache's first use decides."""
    name = _table_name(table)
    found = call.world.dynamodb_table(name)
    sse = getattr(found, "sse_specification", None) or {}
    key_ref = sse.get("KMSMasterKeyId")
    if not key_ref or not sse.get("Enabled", True):
        return []
    context = {**via(call, "dynamodb"),
               "kms:EncryptionContext:aws:dynamodb:tableName": name,
               "kms:EncryptionContext:aws:dynamodb:subscriberId": call.account,
               "kms:EncryptionContextKeys": ["aws:dynamodb:tableName",
                                             "aws:dynamodb:subscriberId"]}  # fmt: skip
    return [kms_check(call, "kms:Decrypt", str(key_ref), context)]


def _item_actions(*actions: str) -> tuple[str, ...]:
    return (*actions, "kms:Decrypt")


def _leading_context(keys: list[str]) -> dict[str, ContextValue]:
    return {"dynamodb:LeadingKeys": keys} if keys else {}


def _ddb_attributes(call: Call, params: Mapping[str, Any]) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    if params.get("Select"):
        context["dynamodb:Select"] = str(params["Select"])
    if params.get("ReturnValues"):
        context["dynamodb:ReturnValues"] = str(params["ReturnValues"])
    return context


@on(
    "dynamodb",
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    actions=_item_actions("dynamodb:{op}"),
)
def _ddb_item(call: Call) -> list[Check]:
    table = str(call.need("TableName"))
    item = call.get("Item") if call.operation == "PutItem" else call.get("Key")
    context = {
        **_leading_context(_leading_from_item(call, table, item)),
        **_ddb_attributes(call, call.params),
    }
    return [Check(call.action, _table_arn(call, table), context), *_table_key(call, table)]


@on("dynamodb", "Query", actions=_item_actions("dynamodb:Query"))
def _ddb_query(call: Call) -> list[Check]:
    table = str(call.need("TableName"))
    arn = _table_arn(call, table)
    if call.get("IndexName"):
        arn = f"{arn}/index/{call.get('IndexName')}"
    context = {
        **_leading_context(_leading_from_query(call, table, call.params)),
        **_ddb_attributes(call, call.params),
    }
    return [Check("dynamodb:Query", arn, context), *_table_key(call, table)]


@on("dynamodb", "Scan", actions=_item_actions("dynamodb:Scan"))
def _ddb_scan(call: Call) -> list[Check]:
    table = str(call.need("TableName"))
    arn = _table_arn(call, table)
    if call.get("IndexName"):
        arn = f"{arn}/index/{call.get('IndexName')}"
    return [
        Check("dynamodb:Scan", arn, _ddb_attributes(call, call.params)),
        *_table_key(call, table),
    ]


@on("dynamodb", "BatchGetItem", actions=_item_actions("dynamodb:BatchGetItem"))
def _ddb_batch_get(call: Call) -> list[Check]:
    checks = []
    for table, request in (call.need("RequestItems") or {}).items():
        keys = sorted(
            {k for item in request.get("Keys") or () for k in _leading_from_item(call, table, item)}
        )
        checks.append(
            Check("dynamodb:BatchGetItem", _table_arn(call, table), _leading_context(keys))
        )
        checks.extend(_table_key(call, table))
    return checks


@on("dynamodb", "BatchWriteItem", actions=_item_actions("dynamodb:BatchWriteItem"))
def _ddb_batch_write(call: Call) -> list[Check]:
    checks = []
    for table, writes in (call.need("RequestItems") or {}).items():
        keys: set[str] = set()
        for write in writes or ():
            if "PutRequest" in write:
                keys.update(_leading_from_item(call, table, write["PutRequest"].get("Item")))
            if "DeleteRequest" in write:
                keys.update(_leading_from_item(call, table, write["DeleteRequest"].get("Key")))
        checks.append(
            Check(
                "dynamodb:BatchWriteItem", _table_arn(call, table), _leading_context(sorted(keys))
            )
        )
        checks.extend(_table_key(call, table))
    return checks


def _transact_actions(operation: str) -> tuple[str, ...]:
    if operation == "TransactGetItems":
        return _item_actions("dynamodb:GetItem")
    writes = ("PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem")
    return _item_actions(*(f"dynamodb:{w}" for w in writes))


@on("dynamodb", "TransactWriteItems", "TransactGetItems", actions=_transact_actions)
def _ddb_transact(call: Call) -> list[Check]:
    kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
             "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}  # fmt: skip
    checks = []
    tables: dict[str, None] = {}
    for entry in call.need("TransactItems"):
        for kind, body in entry.items():
            table = str(body.get("TableName", ""))
            item = body.get("Item") if kind == "Put" else body.get("Key")
            context = _leading_context(_leading_from_item(call, table, item))
            checks.append(Check(f"dynamodb:{kinds[kind]}", _table_arn(call, table), context))
            tables[table] = None
    return [*checks, *(check for table in tables for check in _table_key(call, table))]


_DDB_TABLE_OPS = (
    "DescribeTable", "DeleteTable", "UpdateTable", "DescribeContinuousBackups",
    "UpdateContinuousBackups", "DescribeTimeToLive", "UpdateTimeToLive", "CreateBackup",
    "DescribeKinesisStreamingDestination", "DescribeContributorInsights",
    "UpdateContributorInsights", "GetResourcePolicy", "PutResourcePolicy",
    "DeleteResourcePolicy", "DescribeTableReplicaAutoScaling", "ListBackups",
)  # fmt: skip


@on("dynamodb", *_DDB_TABLE_OPS)
def _ddb_table(call: Call) -> list[Check]:
    name = call.get("TableName") or call.get("ResourceArn")
    if not name and call.operation == "ListBackups":
        return [Check("dynamodb:ListBackups", "*")]
    return [Check(call.action, _table_arn(call, str(name or call.need("TableName"))))]


@on("dynamodb", "CreateTable", actions=("dynamodb:CreateTable", "dynamodb:TagResource"))
def _ddb_create(call: Call) -> list[Check]:
    arn = _table_arn(call, str(call.need("TableName")))
    tags = tags_of(call.get("Tags"))
    checks = [Check("dynamodb:CreateTable", arn, tag_context(tags) if tags else {})]
    if tags:
        checks.append(Check("dynamodb:TagResource", arn, tag_context(tags)))
    return checks


@on("dynamodb", "TagResource", "UntagResource", "ListTagsOfResource")
def _ddb_tags(call: Call) -> list[Check]:
    tags = tags_of(call.get("Tags"))
    keys = list(tags) if tags else [str(k) for k in call.get("TagKeys") or ()]
    return [
        Check(call.action, str(call.need("ResourceArn")), tag_context(tags, keys) if keys else {})
    ]


@on("dynamodb", "ListTables", "DescribeLimits", "DescribeEndpoints", "ListGlobalTables")
def _ddb_star(call: Call) -> list[Check]:
    return [Check(call.action, "*")]
