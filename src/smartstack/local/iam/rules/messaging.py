"""The mapping of CloudWatch Logs, SQS, SNS, CloudWatch, tagging and Bedrock runtime.

See :mod:`smartstack.local.iam.rules`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from smartstack.local.iam.rules.core import (
    Call,
    Check,
    Unresolved,
    kms_check,
    on,
    query_tags,
    tag_context,
    tags_of,
    via,
)

# ================================ CloudWatch Logs ============================================


def _group_name(call: Call) -> str:
    identifier = call.get("logGroupIdentifier") or call.get("logGroupName")
    if not identifier:
        raise Unresolved(f"logs:{call.operation} without logGroupName")
    text = str(identifier)
    if text.startswith("arn:"):
        text = text.split(":log-group:", 1)[1]
        text = text[:-2] if text.endswith(":*") else text
    return text


def _group_arn(call: Call, name: str | None = None) -> str:
    return call.arn("logs", f"log-group:{name or _group_name(call)}")


_LOGS_GROUP_OPS = (
    "DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy", "AssociateKmsKey",
    "DisassociateKmsKey", "DescribeLogStreams", "FilterLogEvents", "ListTagsLogGroup",
    "PutSubscriptionFilter", "DeleteSubscriptionFilter", "DescribeSubscriptionFilters",
    "PutMetricFilter", "DeleteMetricFilter", "PutDataProtectionPolicy",
    "GetDataProtectionPolicy", "DeleteDataProtectionPolicy", "GetLogGroupFields",
)  # fmt: skip


@on("logs", *_LOGS_GROUP_OPS)
def _logs_group(call: Call) -> list[Check]:
    return [Check(call.action, _group_arn(call))]


@on("logs", "CreateLogGroup", actions=("logs:CreateLogGroup", "logs:TagResource"))
def _logs_create(call: Call) -> list[Check]:
    arn = _group_arn(call)
    tags = tags_of(call.get("tags"))
    checks = [Check("logs:CreateLogGroup", arn, tag_context(tags) if tags else {})]
    if tags:
        checks.append(Check("logs:TagResource", arn, tag_context(tags)))
    return checks


@on("logs", "TagLogGroup", "UntagLogGroup")
def _logs_tag_group(call: Call) -> list[Check]:
    tags = tags_of(call.get("tags"))
    keys = list(tags) if tags else [str(k) for k in call.get("tags") or ()]
    return [Check(call.action, _group_arn(call), tag_context(tags, keys))]


@on("logs", "CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents")
def _logs_stream(call: Call) -> list[Check]:
    stream = str(call.need("logStreamName"))
    return [
        Check(call.action, call.arn("logs", f"log-group:{_group_name(call)}:log-stream:{stream}"))
    ]


@on("logs", "TagResource", "UntagResource", "ListTagsForResource")
def _logs_tags(call: Call) -> list[Check]:
    arn = str(call.get("resourceArn") or call.need("resourceArn"))
    arn = arn[:-2] if arn.endswith(":*") else arn
    tags = tags_of(call.get("tags"))
    keys = list(tags) if tags else [str(k) for k in call.get("tagKeys") or ()]
    return [Check(call.action, arn, tag_context(tags, keys) if keys else {})]


@on("logs", "StartQuery")
def _logs_query(call: Call) -> list[Check]:
    names = [str(n) for n in call.get("logGroupNames") or ()]
    names += [str(n) for n in call.get("logGroupIdentifiers") or ()]
    if call.get("logGroupName"):
        names.append(str(call.get("logGroupName")))
    if not names:
        raise Unresolved("logs:StartQuery without log groups")
    arns = [n if n.startswith("arn:") else call.arn("logs", f"log-group:{n}") for n in names]
    return [Check("logs:StartQuery", a[:-2] if a.endswith(":*") else a) for a in arns]


_LOGS_STAR_OPS = (
    "DescribeLogGroups", "StopQuery", "GetQueryResults", "DescribeQueries", "DescribeMetricFilters",
    "PutResourcePolicy", "DescribeResourcePolicies", "DeleteResourcePolicy",
    "DescribeDestinations", "DescribeExportTasks", "TestMetricFilter", "DescribeDeliveries",
    "DescribeDeliverySources", "DescribeDeliveryDestinations",
)  # fmt: skip


@on("logs", *_LOGS_STAR_OPS)
def _logs_star(call: Call) -> list[Check]:
    return [Check(call.action, "*")]


# ================================ SQS ========================================================


def _queue_arn(call: Call) -> str:
    url = call.get("QueueUrl")
    if url:
        parts = urlsplit(str(url)).path.strip("/").split("/")
        if len(parts) >= 2:
            return call.arn("sqs", parts[-1], account=parts[-2])
        return call.arn("sqs", parts[-1])
    return call.arn("sqs", str(call.need("QueueName")), account=call.get("QueueOwnerAWSAccountId"))


_SQS_ACTIONS = {
    "SendMessageBatch": "sqs:SendMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
_SQS_QUEUE_OPS = (
    "DeleteQueue", "GetQueueAttributes", "SetQueueAttributes", "GetQueueUrl", "ListQueueTags",
    "ListDeadLetterSourceQueues", "SendMessage", "SendMessageBatch", "ReceiveMessage",
    "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch", "PurgeQueue", "AddPermission", "RemovePermission",
)  # fmt: skip


# What SQS does with a queue's KMS key, with the caller's credentials (SSE-KMS).
_SQS_KEY_USE = {
    "SendMessage": "kms:GenerateDataKey",
    "SendMessageBatch": "kms:GenerateDataKey",
    "ReceiveMessage": "kms:Decrypt",
}


def _sqs_actions(operation: str) -> tuple[str, ...]:
    action = _SQS_ACTIONS.get(operation, f"sqs:{operation}")
    key_use = _SQS_KEY_USE.get(operation)
    return (action, key_use) if key_use else (action,)


@on("sqs", *_SQS_QUEUE_OPS, actions=_sqs_actions)
def _sqs_queue(call: Call) -> list[Check]:
    arn = _queue_arn(call)
    checks = [Check(_SQS_ACTIONS.get(call.operation, call.action), arn)]
    key_use = _SQS_KEY_USE.get(call.operation)
    if key_use:
        checks += _queue_key(call, arn, key_use)
    return checks


def _queue_key(call: Call, arn: str, action: str) -> list[Check]:
    """A queue encrypted with a KMS key: SQS generates (to send) or decrypts (to receive) the
    data key as the caller, through SQS, with the queue's ARN as encryption context.  AWS
    reuses a data key for a while; each request is checked here, which is what the first
    use decides.  SQS-managed encryption (no key of the queue's) needs no grant."""
    queue = call.world.sqs_queue(arn.rsplit(":", 1)[-1])
    key_ref = getattr(queue, "kms_master_key_id", None) if queue is not None else None
    if not key_ref:
        return []
    context = {**via(call, "sqs"), "kms:EncryptionContext:aws:sqs:arn": arn,
               "kms:EncryptionContextKeys": ["aws:sqs:arn"]}  # fmt: skip
    return [kms_check(call, action, str(key_ref), context)]


@on("sqs", "CreateQueue", "TagQueue", "UntagQueue")
def _sqs_create(call: Call) -> list[Check]:
    tags = tags_of(call.get("tags") or call.get("Tags")) or query_tags(call.params, "Tag")
    keys = list(tags) if tags else [str(k) for k in call.flat_list("TagKeys")]
    return [Check(call.action, _queue_arn(call), tag_context(tags, keys) if keys else {})]


@on("sqs", "ListQueues")
def _sqs_star(call: Call) -> list[Check]:
    return [Check("sqs:ListQueues", "*")]


# ================================ SNS ========================================================

_SNS_TOPIC_OPS = (
    "DeleteTopic", "GetTopicAttributes", "SetTopicAttributes", "Subscribe",
    "ListSubscriptionsByTopic", "Publish", "PublishBatch", "AddPermission", "RemovePermission",
    "ConfirmSubscription", "GetDataProtectionPolicy", "PutDataProtectionPolicy",
)  # fmt: skip


_PUBLISH = ("Publish", "PublishBatch")


def _sns_actions(operation: str) -> tuple[str, ...]:
    if operation in _PUBLISH:
        return ("sns:Publish", "kms:GenerateDataKey", "kms:Decrypt")
    return (f"sns:{operation}",)


@on("sns", *_SNS_TOPIC_OPS, actions=_sns_actions)
def _sns_topic(call: Call) -> list[Check]:
    topic = call.get("TopicArn") or call.get("TargetArn") or call.get("ResourceArn")
    if not topic:
        raise Unresolved(f"sns:{call.operation} without TopicArn")
    if call.operation not in _PUBLISH:
        return [Check(call.action, str(topic))]
    return [Check("sns:Publish", str(topic)), *_topic_key(call, str(topic))]


def _topic_key(call: Call, topic: str) -> list[Check]:
    """A topic encrypted with a KMS key: a publisher needs ``kms:GenerateDataKey`` and
    ``kms:Decrypt`` on it through SNS, as SNS documents."""
    found = call.world.sns_topic(topic)
    key_ref = getattr(found, "kms_master_key_id", None) if found is not None else None
    if not key_ref:
        return []
    context = {**via(call, "sns"), "kms:EncryptionContext:aws:sns:topicArn": topic,
               "kms:EncryptionContextKeys": ["aws:sns:topicArn"]}  # fmt: skip
    return [kms_check(call, action, str(key_ref), context)
            for action in ("kms:GenerateDataKey", "kms:Decrypt")]  # fmt: skip


@on("sns", "Unsubscribe", "GetSubscriptionAttributes", "SetSubscriptionAttributes")
def _sns_subscription(call: Call) -> list[Check]:
    subscription = str(call.need("SubscriptionArn"))
    return [Check(call.action, subscription.rsplit(":", 1)[0])]


@on("sns", "CreateTopic", "TagResource", "UntagResource", "ListTagsForResource")
def _sns_tags(call: Call) -> list[Check]:
    arn = call.get("ResourceArn") or call.arn("sns", str(call.need("Name")))
    tags = query_tags(call.params, "Tags")
    keys = list(tags) if tags else [str(k) for k in call.flat_list("TagKeys")]
    return [Check(call.action, str(arn), tag_context(tags, keys) if keys else {})]


@on("sns", "ListTopics", "ListSubscriptions")
def _sns_star(call: Call) -> list[Check]:
    return [Check(call.action, "*")]


# ================================ CloudWatch =================================================


def _alarm_arn(call: Call, name: str) -> str:
    return call.arn("cloudwatch", f"alarm:{name}")


@on("cloudwatch", "PutMetricAlarm", "PutCompositeAlarm",
    actions=("cloudwatch:{op}", "cloudwatch:TagResource"))  # fmt: skip
def _cw_put_alarm(call: Call) -> list[Check]:
    """Creating an alarm with tags needs ``cloudwatch:TagResource`` too; the tags of an
    existing alarm's update are ignored (``TagResource`` changes them)."""
    tags = tags_of(call.get("Tags")) or query_tags(call.params, "Tags")
    name = str(call.need("AlarmName"))
    arn = _alarm_arn(call, name)
    checks = [Check(call.action, arn, tag_context(tags) if tags else {})]
    if tags and call.world.cloudwatch_alarm(name) is None:
        checks.append(Check("cloudwatch:TagResource", arn, tag_context(tags)))
    return checks


@on("cloudwatch", "DeleteAlarms", "DescribeAlarms", "EnableAlarmActions", "DisableAlarmActions",
    "DescribeAlarmHistory", "SetAlarmState")  # fmt: skip
def _cw_alarms(call: Call) -> list[Check]:
    names = [str(n) for n in call.flat_list("AlarmNames")]
    if call.get("AlarmName"):
        names.append(str(call.get("AlarmName")))
    if not names:
        return [Check(call.action, _alarm_arn(call, "*"))]
    return [Check(call.action, _alarm_arn(call, n)) for n in names]


@on("cloudwatch", "TagResource", "UntagResource", "ListTagsForResource")
def _cw_tags(call: Call) -> list[Check]:
    tags = tags_of(call.get("Tags")) or query_tags(call.params, "Tags")
    keys = list(tags) if tags else [str(k) for k in call.flat_list("TagKeys")]
    return [
        Check(call.action, str(call.need("ResourceARN")), tag_context(tags, keys) if keys else {})
    ]


@on("cloudwatch", "PutMetricData")
def _cw_metric_data(call: Call) -> list[Check]:
    return [Check(call.action, "*", {"cloudwatch:namespace": str(call.get("Namespace", ""))})]


@on("cloudwatch", "DescribeAlarmsForMetric", "GetMetricData", "GetMetricStatistics", "ListMetrics",
    "ListDashboards", "GetMetricWidgetImage")  # fmt: skip
def _cw_star(call: Call) -> list[Check]:
    return [Check(call.action, "*")]


@on("cloudwatch", "PutDashboard", "GetDashboard", "DeleteDashboards")
def _cw_dashboard(call: Call) -> list[Check]:
    names = [str(n) for n in call.flat_list("DashboardNames")] or [str(call.need("DashboardName"))]
    return [Check(call.action, f"arn:aws:cloudwatch::{call.account}:dashboard/{n}") for n in names]


# ================================ Resource Groups Tagging ====================================


@on("resourcegroupstaggingapi", "GetResources", "GetTagKeys", "GetTagValues")
def _tagging_star(call: Call) -> list[Check]:
    return [Check(call.action, "*")]


# ================================ Bedrock runtime ============================================


def _bedrock_action(operation: str) -> tuple[str, ...]:
    streams = operation in ("InvokeModelWithResponseStream", "ConverseStream")
    return ("bedrock:InvokeModelWithResponseStream" if streams else "bedrock:InvokeModel",)


@on("bedrock-runtime", "InvokeModel", "InvokeModelWithResponseStream", "Converse",
    "ConverseStream", actions=_bedrock_action)  # fmt: skip
def _bedrock_invoke(call: Call) -> list[Check]:
    model = str(call.need("modelId"))
    arn = (
        model
        if model.startswith("arn:")
        else f"arn:aws:bedrock:{call.region}::foundation-model/{model}"
    )
    stream = call.operation in ("InvokeModelWithResponseStream", "ConverseStream")
    return [
        Check("bedrock:InvokeModelWithResponseStream" if stream else "bedrock:InvokeModel", arn)
    ]
