"""The mapping of API Gateway: see :mod:`smartstack.local.iam.rules`."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from smartstack.local.iam.evaluator import ContextValue
from smartstack.local.iam.requests import service_model
from smartstack.local.iam.rules.core import (
    FAMILIES,
    Call,
    Check,
    Rule,
    tag_context,
    tags_of,
)
from smartstack.local.iam.world import World

# ================================ API Gateway (HTTP APIs and REST APIs) =====================


def _apigateway(call: Call) -> list[Check]:
    """API Gateway authorizes ``apigateway:<METHOD>`` on the path of the request."""
    path = call.request.path
    if call.service == "apigatewayv2":
        path = path[len("/v2") :] if path.startswith("/v2/") else path
    path = path.rstrip("/") or "/"
    arn = f"arn:aws:apigateway:{call.region}::{path}"
    method = call.request.method
    context: dict[str, ContextValue] = {}
    body_tags = tags_of(call.get("Tags")) if call.get("Tags") is not None else {}
    if body_tags:
        context.update(tag_context(body_tags))
    elif call.operation in ("UntagResource",):
        keys = [str(k) for k in call.flat_list("TagKeys")]
        if keys:
            context["aws:TagKeys"] = keys
    return [Check(f"apigateway:{method}", arn, context, lookup_policy=False)]


def apigateway_tags(world: World, path: str) -> dict[str, str]:
    """An HTTP API's tags (and its stage's) for any path under it, or under /tags/<arn>."""
    match = re.match(r"^/apis/([^/]+)(?:/stages/([^/]+))?", path)
    if match:
        tags = world.http_api_tags(match.group(1))
        if match.group(2):
            tags = {**tags, **world.http_api_stage_tags(match.group(1), match.group(2))}
        return tags
    tagged = re.match(r"^/tags/(.+)$", path)
    if tagged:
        inner = re.match(r"^arn:aws[\w-]*:apigateway:[^:]*::(/.+)$", unquote(tagged.group(1)))
        if inner and not inner.group(1).startswith("/tags/"):
            return apigateway_tags(world, inner.group(1))
    return {}


def _apigateway_family(service: str, operation: str) -> Rule:
    model = service_model(service)
    method = str(model.operation_model(operation).http.get("method", "GET")) if model else "GET"
    return Rule(_apigateway, (f"apigateway:{method}",))


def _is_operation_of(service: str) -> Callable[[str], bool]:
    def predicate(operation: str) -> bool:
        model = service_model(service)
        return model is not None and operation in model.operation_names

    return predicate


_EVERY = "every operation: `apigateway:<HTTP method>` on `arn:aws:apigateway:<region>::<path>`"
FAMILIES.append(("apigatewayv2", _is_operation_of("apigatewayv2"), _apigateway_family, _EVERY))
FAMILIES.append(("apigateway", _is_operation_of("apigateway"), _apigateway_family, _EVERY))
