"""The OpenTofu state backend of ADR-007: S3 + DynamoDB locking, encrypted.

:func:`bootstrap` creates what is missing and puts back what drifted
(versioning suspended, the public access block removed, ...), reporting each
change.  It only uses the AWS APIs, so the same code runs against real AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from smartstack.aws.errors import error_code
from smartstack.aws.target import AwsTarget, target_for
from smartstack.core.config import Settings
from smartstack.core.environments import environment_names
from smartstack.core.naming import (
    ACCOUNT_STACK,
    DEFAULT_PROJECT,
    lock_table_name,
    state_bucket_name,
    state_key,
    state_key_alias,
)

Action = Literal["created", "repaired"]
_PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@dataclass(frozen=True)
class BackendLayout:
    """Names of the backend's parts; what ``tofu init -backend-config`` needs."""

    bucket: str
    lock_table: str
    kms_alias: str
    region: str
    keys: dict[str, str]


@dataclass(frozen=True)
class Change:
    resource: str
    action: Action
    detail: str


@dataclass
class BootstrapReport:
    layout: BackendLayout
    kms_key_arn: str = ""
    changes: list[Change] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def note(self, resource: str, action: Action, detail: str) -> None:
        self.changes.append(Change(resource, action, detail))


def backend_layout(
    target: AwsTarget, environments: tuple[str, ...], project: str = DEFAULT_PROJECT
) -> BackendLayout:
    stacks = (ACCOUNT_STACK, *environments)
    return BackendLayout(
        bucket=state_bucket_name(target.account_id(), target.region, project),
        lock_table=lock_table_name(project),
        kms_alias=state_key_alias(project),
        region=target.region,
        keys={stack: state_key(stack) for stack in stacks},
    )


def bootstrap(
    target: AwsTarget, environments: tuple[str, ...], project: str = DEFAULT_PROJECT
) -> BootstrapReport:
    """Create or reconcile the key, the bucket and the lock table; idempotent."""
    report = BootstrapReport(backend_layout(target, environments, project))
    report.kms_key_arn = _ensure_kms_key(target, report)
    _ensure_bucket(target, report)
    _ensure_lock_table(target, report)
    return report


def _ensure_kms_key(target: AwsTarget, report: BootstrapReport) -> str:
    kms = target.client("kms")
    alias = report.layout.kms_alias
    try:
        key = kms.describe_key(KeyId=alias)["KeyMetadata"]
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise
        key = kms.create_key(
            Description="SmartStack OpenTofu state (bucket and lock table)",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": "Project", "TagValue": "smartstack"}],
        )["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        kms.enable_key_rotation(KeyId=key["KeyId"])
        report.note(alias, "created", "customer-managed key, rotation on")
        return str(key["Arn"])
    if key["KeyState"] == "Disabled":
        kms.enable_key(KeyId=key["KeyId"])
        report.note(alias, "repaired", "key was disabled; enabled it")
    if not kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]:
        kms.enable_key_rotation(KeyId=key["KeyId"])
        report.note(alias, "repaired", "key rotation was off; turned it on")
    return str(key["Arn"])


def _ensure_bucket(target: AwsTarget, report: BootstrapReport) -> None:
    s3 = target.client("s3")
    bucket = report.layout.bucket
    fresh = False
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
        args: dict[str, Any] = {"Bucket": bucket}
        if target.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": target.region}
        s3.create_bucket(**args)
        report.note(bucket, "created", "state bucket")
        fresh = True
    ensures = [_ensure_versioning, _ensure_encryption, _ensure_public_access_block]
    if target.uses_tls("s3"):
        ensures.append(_ensure_tls_policy)
    else:
        endpoint = target.endpoint_url("s3")
        # Under a TLS-only policy every request over this endpoint would be
        # denied, ours included (and moto denies even more: it ignores the condition).
        report.skipped.append(f"TLS-only bucket policy: the endpoint {endpoint} is plain HTTP")
    for ensure in ensures:
        detail = ensure(s3, bucket, report.kms_key_arn)
        if detail and not fresh:
            report.note(bucket, "repaired", detail)


def _ensure_versioning(s3: Any, bucket: str, _key: str) -> str | None:
    status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    if status == "Enabled":
        return None
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return f"versioning was {status}; enabled it"


def _ensure_encryption(s3: Any, bucket: str, key_arn: str) -> str | None:
    wanted = {
        "ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": key_arn,
        },
        "BucketKeyEnabled": True,
    }
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
    except ClientError as exc:
        if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        rules = []
    if rules and _same_encryption(rules[0], wanted):
        return None
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [wanted]})
    return "default encryption was not SSE-KMS with the state key; restored it"


def _same_encryption(rule: dict[str, Any], wanted: dict[str, Any]) -> bool:
    default = rule.get("ApplyServerSideEncryptionByDefault", {})
    return bool(
        default.get("SSEAlgorithm") == "aws:kms"
        and default.get("KMSMasterKeyID")
        == wanted["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
        and rule.get("BucketKeyEnabled") is True
    )


def _ensure_public_access_block(s3: Any, bucket: str, _key: str) -> str | None:
    try:
        current = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            raise
        current = None
    if current == _PUBLIC_ACCESS_BLOCK:
        return None
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_PUBLIC_ACCESS_BLOCK)
    return (
        "public access block was "
        + ("missing" if current is None else "weakened")
        + "; restored it"
    )


def tls_only_policy(bucket: str) -> dict[str, Any]:
    """Deny every request that does not arrive over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def _ensure_tls_policy(s3: Any, bucket: str, _key: str) -> str | None:
    wanted = tls_only_policy(bucket)
    try:
        current = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        if error_code(exc) != "NoSuchBucketPolicy":
            raise
        current = None
    if current == wanted:
        return None
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted))
    return (
        "TLS-only bucket policy was "
        + ("missing" if current is None else "changed")
        + "; restored it"
    )


def _ensure_lock_table(target: AwsTarget, report: BootstrapReport) -> None:
    ddb = target.client("dynamodb")
    table = report.layout.lock_table
    try:
        ddb.describe_table(TableName=table)
        fresh = False
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        ddb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={
                "Enabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": report.kms_key_arn,
            },
            Tags=[{"Key": "Project", "Value": "smartstack"}],
        )
        ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
        report.note(table, "created", "lock table (LockID), SSE-KMS")
        fresh = True
    backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    if pitr != "ENABLED":
        ddb.update_continuous_backups(
            TableName=table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        if not fresh:
            report.note(table, "repaired", "point-in-time recovery was off; turned it on")


def bootstrap_backend(settings: Settings) -> BootstrapReport:
    """Bootstrap the backend of the AWS the settings point at, for every environment."""
    return bootstrap(
        target_for(settings), environment_names(settings.configs_dir), settings.project
    )
