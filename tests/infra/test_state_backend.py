"""bootstrap creates the ADR-007 state backend and puts back what drifted."""

from __future__ import annotations

from smartstack.aws.target import AwsTarget
from smartstack.infra.state_backend import bootstrap, tls_only_policy

ENVS = ("dev", "staging", "prod")


def test_bootstrap_creates_every_part(aws: AwsTarget) -> None:
    report = bootstrap(aws, ENVS)
    layout = report.layout
    assert {c.resource for c in report.changes if c.action == "created"} == {
        layout.bucket,
        layout.lock_table,
        layout.kms_alias,
    }
    s3, ddb, kms = aws.client("s3"), aws.client("dynamodb"), aws.client("kms")

    assert s3.get_bucket_versioning(Bucket=layout.bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=layout.bucket)["ServerSideEncryptionConfiguration"][
        "Rules"
    ][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": report.kms_key_arn,
    }
    block = s3.get_public_access_block(Bucket=layout.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    assert report.skipped == [
        f"TLS-only bucket policy: the endpoint {aws.endpoint_url('s3')} is plain HTTP"
    ]

    key = kms.describe_key(KeyId=layout.kms_alias)["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]

    table = ddb.describe_table(TableName=layout.lock_table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    backups = ddb.describe_continuous_backups(TableName=layout.lock_table)
    assert (
        backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"
        ]
        == "ENABLED"
    )

    assert layout.keys == {
        "account": "account/terraform.tfstate",
        "dev": "env/dev/terraform.tfstate",
        "staging": "env/staging/terraform.tfstate",
        "prod": "env/prod/terraform.tfstate",
    }


def test_second_run_changes_nothing(aws: AwsTarget) -> None:
    bootstrap(aws, ENVS)
    assert bootstrap(aws, ENVS).changes == []


def test_hand_made_drift_is_restored_and_reported(aws: AwsTarget) -> None:
    layout = bootstrap(aws, ENVS).layout
    s3 = aws.client("s3")
    s3.put_bucket_versioning(Bucket=layout.bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_public_access_block(Bucket=layout.bucket)

    report = bootstrap(aws, ENVS)

    details = sorted(c.detail for c in report.changes)
    assert details == [
        "public access block was missing; restored it",
        "versioning was Suspended; enabled it",
    ]
    assert all(c.action == "repaired" and c.resource == layout.bucket for c in report.changes)
    assert s3.get_bucket_versioning(Bucket=layout.bucket)["Status"] == "Enabled"
    assert bootstrap(aws, ENVS).changes == []


def test_rotation_turned_off_is_turned_back_on(aws: AwsTarget) -> None:
    layout = bootstrap(aws, ENVS).layout
    kms = aws.client("kms")
    key_id = kms.describe_key(KeyId=layout.kms_alias)["KeyMetadata"]["KeyId"]
    kms.disable_key_rotation(KeyId=key_id)
    report = bootstrap(aws, ENVS)
    assert [c.detail for c in report.changes] == ["key rotation was off; turned it on"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]


def test_tls_only_policy_denies_plain_http_on_both_bucket_and_objects() -> None:
    statement = tls_only_policy("b")["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Resource"] == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
