"""The mapping's vocabulary: checks, rules, the call a rule sees, and the registry.

The mapping: each operation the local AWS enforces -> the checks AWS makes for it.

A check is (action, resource ARN, request context).  Most operations make one; some
make several, all of which must be allowed: ``CreateFunction`` also passes a role
(``iam:PassRole``), an SSE-KMS ``PutObject`` also uses the key
(``kms:GenerateDataKey`` with ``kms:ViaService``), ``CreateSubnet`` is authorized on
the new subnet and on its VPC.

An operation that is not in :data:`RULES` (and no family of :data:`FAMILIES` takes)
is refused: there is no silent allow.  docs/local-iam.md lists the table
(:func:`smartstack.local.iam.docs.render`, checked by a test).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from smartstack.local.iam.evaluator import ContextValue
from smartstack.local.iam.principals import Principal
from smartstack.local.iam.requests import AwsRequest
from smartstack.local.iam.world import World

# botocore service name -> IAM action prefix
PREFIXES = {
    "apigatewayv2": "apigateway",
    "apigateway": "apigateway",
    "resourcegroupstaggingapi": "tag",
    "bedrock-runtime": "bedrock",
    "s3control": "s3",
}


class Unresolved(Exception):
    """The request lacks what names its resource: refused, naming what is missing."""


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    resource_policy: str | None = None  # given by the rule (an AssumeRole's trust policy)
    lookup_policy: bool = True  # else: read the resource's policy from moto by its ARN
    tags: Mapping[str, str] | None = None  # the resource's tags (None: looked up by ARN)


@dataclass(frozen=True)
class Rule:
    build: Callable[[Call], list[Check]]
    actions: tuple[str, ...]
    free: bool = False  # AWS asks no permission (sts:GetCallerIdentity)


class Call:
    """What a rule sees: the request, the caller, and moto's state."""

    def __init__(self, request: AwsRequest, principal: Principal, world: World) -> None:
        self.request = request
        self.principal = principal
        self.world = world
        self.service = request.service or ""
        self.operation = request.operation or ""
        self.region = request.region
        self.account = principal.account_id

    @property
    def params(self) -> dict[str, Any]:
        return self.request.params

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def need(self, name: str) -> Any:
        value = self.params.get(name)
        if value in (None, "", [], {}):
            raise Unresolved(f"{self.service}:{self.operation} without {name}")
        return value

    def arn(
        self, service: str, resource: str, region: str | None = None, account: str | None = None
    ) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:aws:{service}:{region}:{account}:{resource}"

    @property
    def action(self) -> str:
        return f"{PREFIXES.get(self.service, self.service)}:{self.operation}"

    def flat_list(self, name: str) -> list[Any]:
        """A list parameter: a JSON list, or the query protocol's ``Name.member.N`` / ``Name.N``."""
        value = self.params.get(name)
        if isinstance(value, list):
            return value
        if value not in (None, ""):
            return [value]
        found: dict[int, Any] = {}
        pattern = re.compile(rf"^{re.escape(name)}\.(?:member\.)?(\d+)$")
        for key, item in self.params.items():
            match = pattern.match(key)
            if match:
                found[int(match.group(1))] = item
        return [found[i] for i in sorted(found)]


RULES: dict[str, dict[str, Rule]] = {}
# (service, predicate on the operation, rule factory, what the doc says)
FAMILIES: list[tuple[str, Callable[[str], bool], Callable[[str, str], Rule], str]] = []


def on(
    service: str,
    *operations: str,
    actions: Iterable[str] | Callable[[str], Iterable[str]] | None = None,
    free: bool = False,
) -> Callable[[Callable[[Call], list[Check]]], Callable[[Call], list[Check]]]:
    """Register ``build`` for these operations.  ``actions``: what it may check, for the
    docs and the tests (``{op}`` stands for the operation; a callable gets the operation);
    by default ``<prefix>:<Operation>``."""

    def register(build: Callable[[Call], list[Check]]) -> Callable[[Call], list[Check]]:
        prefix = PREFIXES.get(service, service)
        for operation in operations:
            if actions is None:
                declared: tuple[str, ...] = (f"{prefix}:{operation}",)
            elif callable(actions):
                declared = tuple(actions(operation))
            else:
                declared = tuple(a.replace("{op}", operation) for a in actions)
            RULES.setdefault(service, {})[operation] = Rule(build, declared, free)
        return build

    return register


def rule_for(service: str, operation: str) -> Rule | None:
    found = RULES.get(service, {}).get(operation)
    if found is not None:
        return found
    for family_service, predicate, factory, _ in FAMILIES:
        if family_service == service and predicate(operation):
            return factory(service, operation)
    return None


# --- shared context ------------------------------------------------------------------------


def tag_context(
    tags: Mapping[str, str] | None, keys: Iterable[str] | None = None
) -> dict[str, ContextValue]:
    """``aws:RequestTag/<k>`` and ``aws:TagKeys`` for the tags a request sets."""
    context: dict[str, ContextValue] = {}
    for k, v in (tags or {}).items():
        context[f"aws:RequestTag/{k}"] = str(v)
    all_keys = list(keys) if keys is not None else list(tags or {})
    if all_keys:
        context["aws:TagKeys"] = [str(k) for k in all_keys]
    return context


def tags_of(value: Any) -> dict[str, str]:
    """Tags as a request carries them: a map, or a list of Key/Value (or TagKey/TagValue)."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for item in value or ():
        if isinstance(item, dict):
            key = item.get("Key", item.get("TagKey", item.get("key")))
            if key is not None:
                out[str(key)] = str(item.get("Value", item.get("TagValue", item.get("value", ""))))
    return out


def query_tags(params: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """``<prefix>.N.Key`` / ``.Value`` (and ``<prefix>.member.N.…``) of a query request."""
    pattern = re.compile(rf"^{re.escape(prefix)}\.(?:member\.)?(\d+)\.Key$")
    out: dict[str, str] = {}
    for key, value in params.items():
        match = pattern.match(key)
        if match:
            value_key = key[: -len("Key")] + "Value"
            out[str(value)] = str(params.get(value_key, ""))
    return out


def via(call: Call, service: str) -> dict[str, ContextValue]:
    return {
        "kms:ViaService": f"{service}.{call.region}.amazonaws.com",
        "kms:CallerAccount": call.account,
    }


def kms_check(call: Call, action: str, key_ref: str, context: Mapping[str, ContextValue]) -> Check:
    """A use of a KMS key (direct, or through a service when ``context`` says so)."""
    key = call.world.kms_key(key_ref)
    if key is None:
        raise Unresolved(f"{call.service}:{call.operation}: no KMS key {key_ref}")
    extra: dict[str, ContextValue] = {"kms:CallerAccount": call.account, **context}
    if key.alias:
        extra["kms:RequestAlias"] = key.alias
    return Check(action, key.arn, extra, key.policy, lookup_policy=False, tags=key.tags)
