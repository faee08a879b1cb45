"""The resource-based policy and the tags of a resource, by its ARN, as moto keeps them."""

from __future__ import annotations

import json
import re

from smartstack.local.iam.rules.apigateway import apigateway_tags
from smartstack.local.iam.world import World, tag_dict

# --- resource policies and tags, by ARN -----------------------------------------------------


def resource_policy(world: World, arn: str) -> str | None:
    """The resource-based policy AWS evaluates with a request on ``arn``, if any."""
    if arn.startswith("arn:aws:s3:::"):
        return world.bucket_policy(arn[len("arn:aws:s3:::") :].split("/", 1)[0])
    match = re.match(r"^arn:aws:(lambda|sqs|sns):([^:]*):(\d*):(.+)$", arn)
    if not match:
        return None
    service, resource = match.group(1), match.group(4)
    if service == "lambda" and resource.startswith("function:"):
        # Every statement of the function's policy, whichever of its versions moto keeps it
        # on: each names the (qualified) function it is for in its Resource.
        statements: list[object] = []
        for fn in world.lambda_function_versions(resource.split(":")[1]):
            for statement in getattr(getattr(fn, "policy", None), "statements", None) or []:
                if statement not in statements:
                    statements.append(statement)
        if statements:
            return json.dumps({"Version": "2012-10-17", "Statement": statements})
        return None
    if service == "sqs":
        queue = world.sqs_queue(resource)
        policy = getattr(queue, "policy", None) if queue is not None else None
        return str(policy) if policy else None
    if service == "sns":
        topic = world.sns_topic(arn)
        return str(topic.policy) if topic is not None else None
    return None


def resource_tags(world: World, arn: str) -> dict[str, str]:
    """The tags of the resource ``arn`` names, as moto keeps them."""
    try:
        return _resource_tags(world, arn)
    except Exception:
        return {}


def _resource_tags(world: World, arn: str) -> dict[str, str]:
    if arn.startswith("arn:aws:s3:::"):
        path = arn[len("arn:aws:s3:::") :]
        return world.bucket_tags(path) if "/" not in path else {}
    match = re.match(r"^arn:aws:([\w-]+):([^:]*):(\d*):(.+)$", arn)
    if not match:
        return {}
    service, resource = match.group(1), match.group(4)
    if service == "apigateway":
        return apigateway_tags(world, resource)
    if service == "lambda" and resource.startswith("function:"):
        fn = world.lambda_function(resource.split(":")[1])
        return {str(k): str(v) for k, v in (getattr(fn, "tags", None) or {}).items()}
    if service == "lambda" and resource.startswith("event-source-mapping:"):
        mapping = world.lambda_event_source_mapping(resource.split(":")[1])
        return {str(k): str(v) for k, v in (getattr(mapping, "tags", None) or {}).items()}
    if service == "sqs":
        queue = world.sqs_queue(resource)
        return dict(getattr(queue, "tags", None) or {})
    if service == "sns":
        topic = world.sns_topic(arn)
        return dict(getattr(topic, "_tags", None) or {})
    if service == "logs" and resource.startswith("log-group:"):
        return world.log_group_tags(resource[len("log-group:") :].split(":log-stream:")[0])
    if service == "ssm" and resource.startswith("parameter/"):
        return world.ssm_tags("/" + resource[len("parameter/") :])
    if service == "dynamodb" and resource.startswith("table/"):
        table = world.dynamodb_table(resource.split("/")[1])
        return tag_dict(getattr(table, "tags", None))
    if service == "iam" and resource.startswith("role/"):
        return world.role_tags(resource.split("/")[-1])
    return {}
