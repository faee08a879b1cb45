"""The mapping of S3 and S3 Control: see :mod:`smartstack.local.iam.rules`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from smartstack.local.iam.evaluator import ContextValue
from smartstack.local.iam.rules.core import (
    Call,
    Check,
    Unresolved,
    kms_check,
    on,
    tag_context,
    via,
)

# ================================ S3 =========================================================

# S3 operations whose action is not s3:<Operation>.
_S3_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "ListParts": "s3:ListMultipartUploadParts",
    "HeadObject": "s3:GetObject",
    "GetObjectAttributes": "s3:GetObject",
    "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObjects": "s3:DeleteObject",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "DeleteBucketWebsite": "s3:DeleteBucketWebsite",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "GetBucketLifecycle": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "PutBucketLifecycle": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "GetBucketNotification": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "PutBucketNotification": "s3:PutBucketNotification",
    "GetBucketMetricsConfiguration": "s3:GetMetricsConfiguration",
    "PutBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "ListBucketMetricsConfigurations": "s3:GetMetricsConfiguration",
    "GetBucketAnalyticsConfiguration": "s3:GetAnalyticsConfiguration",
    "ListBucketAnalyticsConfigurations": "s3:GetAnalyticsConfiguration",
    "GetBucketIntelligentTieringConfiguration": "s3:GetIntelligentTieringConfiguration",
    "ListBucketIntelligentTieringConfigurations": "s3:GetIntelligentTieringConfiguration",
    "GetBucketInventoryConfiguration": "s3:GetInventoryConfiguration",
    "ListBucketInventoryConfigurations": "s3:GetInventoryConfiguration",
    "ListBuckets": "s3:ListAllMyBuckets",
    "GetObjectLegalHold": "s3:GetObjectLegalHold",
    "PutObjectLegalHold": "s3:PutObjectLegalHold",
    "GetObjectRetention": "s3:GetObjectRetention",
    "PutObjectRetention": "s3:PutObjectRetention",
    "RestoreObject": "s3:RestoreObject",
}
_S3_BUCKET_OPS = (
    "CreateBucket", "DeleteBucket", "HeadBucket", "ListObjects", "ListObjectsV2",
    "ListObjectVersions", "ListMultipartUploads", "GetBucketLocation", "GetBucketPolicy",
    "PutBucketPolicy", "DeleteBucketPolicy", "GetBucketPolicyStatus", "GetBucketVersioning",
    "PutBucketVersioning", "GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption",
    "GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock", "GetBucketTagging",
    "PutBucketTagging", "DeleteBucketTagging", "GetBucketAcl", "PutBucketAcl", "GetBucketCors",
    "PutBucketCors", "DeleteBucketCors", "GetBucketWebsite", "PutBucketWebsite",
    "DeleteBucketWebsite", "GetBucketLogging", "PutBucketLogging",
    "GetBucketAccelerateConfiguration", "PutBucketAccelerateConfiguration",
    "GetBucketRequestPayment", "PutBucketRequestPayment", "GetBucketLifecycleConfiguration",
    "GetBucketLifecycle", "PutBucketLifecycleConfiguration", "PutBucketLifecycle",
    "DeleteBucketLifecycle", "GetBucketReplication", "PutBucketReplication",
    "DeleteBucketReplication", "GetObjectLockConfiguration", "PutObjectLockConfiguration",
    "GetBucketOwnershipControls", "PutBucketOwnershipControls", "DeleteBucketOwnershipControls",
    "GetBucketNotificationConfiguration", "GetBucketNotification",
    "PutBucketNotificationConfiguration", "PutBucketNotification",
    "GetBucketMetricsConfiguration", "PutBucketMetricsConfiguration",
    "DeleteBucketMetricsConfiguration", "ListBucketMetricsConfigurations",
    "GetBucketAnalyticsConfiguration", "ListBucketAnalyticsConfigurations",
    "GetBucketIntelligentTieringConfiguration", "ListBucketIntelligentTieringConfigurations",
    "GetBucketInventoryConfiguration", "ListBucketInventoryConfigurations",
)  # fmt: skip
_S3_OBJECT_OPS = (
    "GetObject", "HeadObject", "GetObjectAttributes", "PutObject", "DeleteObject",
    "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging", "GetObjectAcl",
    "PutObjectAcl", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
    "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts", "GetObjectLegalHold",
    "PutObjectLegalHold", "GetObjectRetention", "PutObjectRetention", "RestoreObject",
)  # fmt: skip
# Operations that take a version id: the action gains "Version".
_S3_VERSIONED = {
    "GetObject", "HeadObject", "DeleteObject", "GetObjectTagging", "PutObjectTagging",
    "DeleteObjectTagging", "GetObjectAcl", "PutObjectAcl", "GetObjectAttributes",
}  # fmt: skip


def _s3_action(operation: str) -> str:
    return _S3_ACTIONS.get(operation, f"s3:{operation}")


def _s3_versioned(action: str, version: Any) -> str:
    if not version or version == "null":
        return action
    if action in ("s3:GetObjectAttributes",):
        return "s3:GetObjectVersionAttributes"
    verb, _, rest = action.partition(":")[2].partition("Object")
    return f"s3:{verb}ObjectVersion{rest}"


def _s3_bucket_context(call: Call) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    if call.operation in ("ListObjects", "ListObjectsV2", "ListObjectVersions", "HeadBucket"):
        if call.operation != "HeadBucket":
            context["s3:prefix"] = str(call.get("Prefix", "") or "")
        if call.get("Delimiter"):
            context["s3:delimiter"] = str(call.get("Delimiter"))
        if call.get("MaxKeys"):
            context["s3:max-keys"] = str(call.get("MaxKeys"))
    return context


def _s3_bucket_actions(operation: str) -> tuple[str, ...]:
    if operation == "CreateBucket":
        return ("s3:CreateBucket", "s3:TagResource")
    return (_s3_action(operation),)


def _s3_object_actions(operation: str) -> tuple[str, ...]:
    action = _s3_action(operation)
    actions = [action]
    if operation in _S3_VERSIONED:
        actions.append(_s3_versioned(action, "v"))
    if operation in ("PutObject", "CopyObject", "CreateMultipartUpload"):
        actions.append("s3:PutObjectTagging")
    if operation in ("CopyObject", "UploadPartCopy"):
        actions += ["s3:GetObject", "s3:GetObjectVersion", "kms:Decrypt"]
    if operation in ("PutObject", "CopyObject", "CreateMultipartUpload"):
        actions.append("kms:GenerateDataKey")
    if operation == "GetObject":
        actions.append("kms:Decrypt")
    return tuple(dict.fromkeys(actions))


@on("s3", *_S3_BUCKET_OPS, actions=_s3_bucket_actions)
def _s3_bucket(call: Call) -> list[Check]:
    bucket = str(call.need("Bucket"))
    arn = f"arn:aws:s3:::{bucket}"
    context = _s3_bucket_context(call)
    if call.operation == "CreateBucket":
        tags = _s3_create_tags(call)
        checks = [Check("s3:CreateBucket", arn, tag_context(tags) if tags else {})]
        if tags:
            checks.append(Check("s3:TagResource", arn, tag_context(tags)))
        return checks
    if call.operation == "PutBucketTagging":
        tags = _s3_tagging_body(call)
        context.update(tag_context(tags))
    return [Check(_s3_action(call.operation), arn, context)]


@on("s3", *_S3_OBJECT_OPS, actions=_s3_object_actions)
def _s3_object(call: Call) -> list[Check]:
    bucket, key = str(call.need("Bucket")), str(call.need("Key"))
    arn = f"arn:aws:s3:::{bucket}/{key}"
    action = _s3_action(call.operation)
    if call.operation in _S3_VERSIONED:
        action = _s3_versioned(action, call.get("VersionId"))
    context: dict[str, ContextValue] = {}
    if call.operation in ("PutObjectTagging",):
        context.update(tag_context(_s3_tagging_body(call)))
    if call.operation in ("PutObject", "CompleteMultipartUpload"):  # conditional writes
        for param, key in (("IfNoneMatch", "s3:if-none-match"), ("IfMatch", "s3:if-match")):
            if call.get(param):
                context[key] = str(call.get(param))
    checks = [Check(action, arn, context)]
    if call.operation in ("PutObject", "CopyObject", "CreateMultipartUpload") and call.get(
        "Tagging"
    ):
        from urllib.parse import parse_qsl

        tags = dict(parse_qsl(str(call.get("Tagging"))))
        checks.append(Check("s3:PutObjectTagging", arn, tag_context(tags)))
    if call.operation in ("CopyObject", "UploadPartCopy"):
        source = unquote(str(call.need("CopySource"))).lstrip("/")
        source_path, _, query = source.partition("?versionId=")
        source_bucket, _, source_key = source_path.partition("/")
        read = "s3:GetObjectVersion" if query else "s3:GetObject"
        checks.append(Check(read, f"arn:aws:s3:::{source_path}"))
        key_ref = call.world.object_kms_key(source_bucket, source_key)
        if key_ref:
            checks.append(
                kms_check(
                    call, "kms:Decrypt", key_ref, _s3_kms_context(call, source_bucket, source_key)
                )
            )
    if call.operation in ("PutObject", "CopyObject", "CreateMultipartUpload"):
        key_ref = _s3_write_key(call, bucket)
        if key_ref:
            checks.append(
                kms_check(call, "kms:GenerateDataKey", key_ref, _s3_kms_context(call, bucket, key))
            )
    if call.operation == "GetObject":
        key_ref = call.world.object_kms_key(bucket, key)
        if key_ref:
            checks.append(
                kms_check(call, "kms:Decrypt", key_ref, _s3_kms_context(call, bucket, key))
            )
    return checks


def _s3_kms_context(call: Call, bucket: str, key: str) -> dict[str, ContextValue]:
    return {**via(call, "s3"), "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}/{key}",
            "kms:EncryptionContextKeys": ["aws:s3:arn"]}  # fmt: skip


def _s3_write_key(call: Call, bucket: str) -> str | None:
    algorithm = call.get("ServerSideEncryption")
    if algorithm in ("aws:kms", "aws:kms:dsse"):
        return str(call.get("SSEKMSKeyId") or call.world.bucket_kms_key(bucket) or "alias/aws/s3")
    if algorithm:
        return None  # AES256: S3-managed keys
    return call.world.bucket_kms_key(bucket)


def _s3_create_tags(call: Call) -> dict[str, str]:
    body = call.request.body
    if b"<Tag>" not in body:
        return {}
    return _xml_tags(body)


def _s3_tagging_body(call: Call) -> dict[str, str]:
    return _xml_tags(call.request.body)


def _xml_tags(body: bytes) -> dict[str, str]:
    text = body.decode("utf-8", "replace")
    tags: dict[str, str] = {}
    for tag in re.findall(r"<Tag>(.*?)</Tag>", text, re.S):
        key = re.search(r"<Key>(.*?)</Key>", tag, re.S)
        value = re.search(r"<Value>(.*?)</Value>", tag, re.S)
        if key:
            tags[_xml_text(key.group(1))] = _xml_text(value.group(1)) if value else ""
    return tags


def _xml_text(raw: str) -> str:
    return (
        raw.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


@on("s3", "DeleteObjects", actions=("s3:DeleteObject", "s3:DeleteObjectVersion"))
def _s3_delete_objects(call: Call) -> list[Check]:
    bucket = str(call.need("Bucket"))
    text = call.request.body.decode("utf-8", "replace")
    checks = []
    for item in re.findall(r"<Object>(.*?)</Object>", text, re.S):
        key = re.search(r"<Key>(.*?)</Key>", item, re.S)
        version = re.search(r"<VersionId>(.*?)</VersionId>", item, re.S)
        if key:
            action = "s3:DeleteObjectVersion" if version else "s3:DeleteObject"
            checks.append(Check(action, f"arn:aws:s3:::{bucket}/{_xml_text(key.group(1))}"))
    if not checks:
        raise Unresolved("s3:DeleteObjects without objects")
    return checks


@on("s3", "ListBuckets", "ListDirectoryBuckets", actions=("s3:ListAllMyBuckets",))
def _s3_star(call: Call) -> list[Check]:
    return [Check("s3:ListAllMyBuckets", "*")]


# S3 Control (the AWS provider reads bucket tags and public access blocks through it).
@on("s3control", "ListTagsForResource", "TagResource", "UntagResource")
def _s3control_tags(call: Call) -> list[Check]:
    arn = str(call.need("ResourceArn"))
    action = {"ListTagsForResource": "s3:ListTagsForResource", "TagResource": "s3:TagResource",
              "UntagResource": "s3:UntagResource"}[call.operation]  # fmt: skip
    return [Check(action, arn)]


@on("s3control", "GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock",
    actions=("s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock"))  # fmt: skip
def _s3control_account(call: Call) -> list[Check]:
    verb = "Get" if call.operation.startswith("Get") else "Put"
    return [Check(f"s3:{verb}AccountPublicAccessBlock", "*")]
