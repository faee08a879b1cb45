"""The mapping of Lambda: see :mod:`smartstack.local.iam.rules`."""

from __future__ import annotations

import re
from typing import Any

from smartstack.local.iam.evaluator import ContextValue
from smartstack.local.iam.rules.core import (
    Call,
    Check,
    on,
    tag_context,
    tags_of,
)

# ================================ Lambda =====================================================


def _function(
    call: Call, name: str | None = None, qualifier: Any = None
) -> tuple[str, str, str | None]:
    """(region, account, name) and the qualifier, from any form of a function name."""
    raw = str(name if name is not None else call.need("FunctionName"))
    region, account = call.region, call.account
    match = re.match(r"^arn:aws[\w-]*:lambda:([^:]+):(\d+):function:([^:]+)(?::(.+))?$", raw)
    if match:
        region, account, fn, qual = match.groups()
    else:
        parts = raw.split(":")
        if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:q]
            account, fn, qual = parts[0], parts[2], parts[3] if len(parts) > 3 else None
        else:
            fn, qual = parts[0], parts[1] if len(parts) > 1 else None
    qualifier = qualifier if qualifier is not None else call.get("Qualifier")
    return (
        f"arn:aws:lambda:{region}:{account}:function:{fn}",
        fn,
        str(qualifier or qual or "") or None,
    )


def _function_arn(call: Call, qualified: bool = True) -> str:
    arn, _, qualifier = _function(call)
    return f"{arn}:{qualifier}" if qualified and qualifier else arn


def _vpc_context(config: Any) -> dict[str, ContextValue]:
    if not isinstance(config, dict):
        return {}
    context: dict[str, ContextValue] = {}
    subnets = [str(s) for s in config.get("SubnetIds") or ()]
    groups = [str(g) for g in config.get("SecurityGroupIds") or ()]
    if subnets:
        context["lambda:SubnetIds"] = subnets
    if groups:
        context["lambda:SecurityGroupIds"] = groups
    return context


def _pass_role(call: Call, role: Any, service: str, resource: str) -> Check:
    context: dict[str, ContextValue] = {
        "iam:PassedToService": f"{service}.amazonaws.com",
        "iam:AssociatedResourceArn": resource,
    }
    return Check("iam:PassRole", str(role), context)


_LAMBDA_FUNCTION_OPS = (
    "GetFunction", "GetFunctionConfiguration", "DeleteFunction", "UpdateFunctionCode",
    "PublishVersion", "ListVersionsByFunction", "CreateAlias", "GetAlias", "UpdateAlias",
    "DeleteAlias", "ListAliases", "AddPermission", "RemovePermission", "GetPolicy",
    "PutFunctionConcurrency", "DeleteFunctionConcurrency", "GetFunctionConcurrency",
    "GetFunctionCodeSigningConfig", "PutFunctionCodeSigningConfig",
    "DeleteFunctionCodeSigningConfig", "GetRuntimeManagementConfig",
    "PutRuntimeManagementConfig", "GetFunctionEventInvokeConfig",
    "PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig",
    "DeleteFunctionEventInvokeConfig", "ListFunctionEventInvokeConfigs",
    "CreateFunctionUrlConfig", "GetFunctionUrlConfig", "UpdateFunctionUrlConfig",
    "DeleteFunctionUrlConfig", "ListFunctionUrlConfigs", "GetFunctionRecursionConfig",
    "PutFunctionRecursionConfig", "GetProvisionedConcurrencyConfig",
    "PutProvisionedConcurrencyConfig", "DeleteProvisionedConcurrencyConfig",
    "ListProvisionedConcurrencyConfigs", "GetFunctionScalingConfig",
)  # fmt: skip


@on("lambda", *_LAMBDA_FUNCTION_OPS)
def _lambda_function(call: Call) -> list[Check]:
    alias_ops = ("CreateAlias", "GetAlias", "UpdateAlias", "DeleteAlias", "ListAliases")
    qualified = call.operation not in alias_ops
    return [Check(call.action, _function_arn(call, qualified))]


@on(
    "lambda",
    "Invoke",
    "InvokeAsync",
    "InvokeWithResponseStream",
    actions=("lambda:InvokeFunction",),
)
def _lambda_invoke(call: Call) -> list[Check]:
    return [Check("lambda:InvokeFunction", _function_arn(call))]


@on(
    "lambda",
    "CreateFunction",
    actions=("lambda:CreateFunction", "iam:PassRole", "lambda:TagResource"),
)
def _lambda_create(call: Call) -> list[Check]:
    arn = _function_arn(call, qualified=False)
    tags = tags_of(call.get("Tags"))
    context = {**_vpc_context(call.get("VpcConfig")), **tag_context(tags)}
    checks = [Check("lambda:CreateFunction", arn, context)]
    checks.append(_pass_role(call, call.need("Role"), "lambda", arn))
    if tags:
        checks.append(Check("lambda:TagResource", arn, tag_context(tags)))
    return checks


@on(
    "lambda",
    "UpdateFunctionConfiguration",
    actions=("lambda:UpdateFunctionConfiguration", "iam:PassRole"),
)
def _lambda_configure(call: Call) -> list[Check]:
    arn = _function_arn(call, qualified=False)
    checks = [Check(call.action, arn, _vpc_context(call.get("VpcConfig")))]
    if call.get("Role"):
        checks.append(_pass_role(call, call.get("Role"), "lambda", arn))
    return checks


def _lambda_resource(call: Call, arn: str) -> tuple[str, dict[str, ContextValue]]:
    if ":event-source-mapping:" in arn:
        return arn, _mapping_context(call, arn.rsplit(":", 1)[-1])
    return arn, {}


def _mapping_context(call: Call, uuid: str) -> dict[str, ContextValue]:
    mapping = call.world.lambda_event_source_mapping(uuid)
    function_arn = getattr(mapping, "function_arn", None)
    return {"lambda:FunctionArn": str(function_arn)} if function_arn else {}


@on("lambda", "TagResource", "UntagResource", "ListTags")
def _lambda_tags(call: Call) -> list[Check]:
    arn, context = _lambda_resource(call, str(call.need("Resource")))
    tags = tags_of(call.get("Tags"))
    keys = list(tags) if tags else [str(k) for k in call.get("TagKeys") or ()]
    return [Check(call.action, arn, {**context, **(tag_context(tags, keys) if keys else {})})]


@on("lambda", "CreateEventSourceMapping")
def _lambda_create_mapping(call: Call) -> list[Check]:
    arn, _, qualifier = _function(call)
    function = f"{arn}:{qualifier}" if qualifier else arn
    context: dict[str, ContextValue] = {
        "lambda:FunctionArn": function,
        **tag_context(tags_of(call.get("Tags"))),
    }
    return [Check("lambda:CreateEventSourceMapping", "*", context)]


@on("lambda", "GetEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping")
def _lambda_mapping(call: Call) -> list[Check]:
    uuid = str(call.need("UUID"))
    arn = call.arn("lambda", f"event-source-mapping:{uuid}")
    context = _mapping_context(call, uuid)
    if call.get("FunctionName"):
        fn, _, qualifier = _function(call)
        context["lambda:FunctionArn"] = f"{fn}:{qualifier}" if qualifier else fn
    return [Check(call.action, arn, context)]


@on("lambda", "ListFunctions", "ListEventSourceMappings", "GetAccountSettings", "ListLayers",
    "ListCodeSigningConfigs")  # fmt: skip
def _lambda_star(call: Call) -> list[Check]:
    return [Check(call.action, "*")]


@on("lambda", "GetLayerVersion", "DeleteLayerVersion", "GetLayerVersionPolicy",
    "ListLayerVersions", "PublishLayerVersion")  # fmt: skip
def _lambda_layer(call: Call) -> list[Check]:
    layer = str(call.need("LayerName"))
    base = layer if layer.startswith("arn:") else call.arn("lambda", f"layer:{layer}")
    if call.get("VersionNumber") is not None:
        return [Check(call.action, f"{base}:{call.get('VersionNumber')}")]
    return [Check(call.action, base if call.operation != "ListLayerVersions" else "*")]
