"""IAM enforcement in the local AWS, over HTTP against the real moto server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from smartstack.local.moto import MotoServer
from tests.local.iam.conftest import (
    ACCOUNT,
    REGION,
    TRUST_ACCOUNT,
    allow,
    policy,
    session,
)
from tests.local.signed import signed_request

Client = Callable[[str], Any]
Role = Callable[..., Client]
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role"


def refused(call: Callable[[], Any]) -> dict[str, Any]:
    """The error of a call that must be refused with HTTP 403."""
    with pytest.raises(ClientError) as info:
        call()
    response: dict[str, Any] = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403, response
    error: dict[str, Any] = response["Error"]
    return error


def parameter_arn(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"


# --- the admin ---------------------------------------------------------------------------


def test_the_admin_is_allowed_everything(admin: Client, unique: str) -> None:
    admin("ssm").put_parameter(Name=f"/smartstack/prod/{unique}", Value="v", Type="String")
    admin("s3").create_bucket(Bucket=f"b-{unique}")
    admin("s3").put_object(Bucket=f"b-{unique}", Key="k", Body=b"x")
    assert admin("s3").get_object(Bucket=f"b-{unique}", Key="k")["Body"].read() == b"x"
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]
    admin("kms").describe_key(KeyId=key)
    admin("iam").create_role(RoleName=f"r-{unique}", AssumeRolePolicyDocument=policy())
    identity = admin("sts").get_caller_identity()
    assert identity["Arn"].endswith(":root") or identity["Account"] == ACCOUNT


def test_the_admin_deleting_what_is_gone_gets_aws_s_not_found(admin: Client, role: Role) -> None:
    # A destroy that repeats a delete (a retried request, a resource removed meanwhile)
    # names something that no longer exists: AWS answers its NotFound, not a refusal.
    error = admin_error(lambda: admin("ec2").disassociate_route_table(
        AssociationId="rtbassoc-0123456789abcdef0"))  # fmt: skip
    assert error["Code"] == "InvalidAssociationID.NotFound"
    # Anyone else is still refused what cannot be resolved: nothing is allowed by accident.
    other = role("nobody")
    refused(lambda: other("ec2").disassociate_route_table(
        AssociationId="rtbassoc-0123456789abcdef0"))  # fmt: skip


def admin_error(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] != 403
    return dict(info.value.response["Error"])


# --- authentication ---------------------------------------------------------------------


def test_an_unknown_access_key_is_refused(moto: MotoServer) -> None:
    stranger = session(moto, aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x")

    error = refused(lambda: stranger("ssm").get_parameter(Name="/x"))
    assert error["Code"] == "UnrecognizedClientException"
    assert error["Message"] == "The security token included in the request is invalid."
    assert refused(lambda: stranger("sts").get_caller_identity())["Code"] == "InvalidClientTokenId"
    assert refused(lambda: stranger("s3").list_buckets())["Code"] == "InvalidAccessKeyId"


def test_a_session_token_that_does_not_match_is_refused(moto: MotoServer, role: Role) -> None:
    good = role("smartstack-dev-role", allow("ssm:DescribeParameters", "*"))
    credentials = good("sts")._request_signer._credentials  # the session's own keys
    forged = session(
        moto,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token="not-the-token",
    )
    good("ssm").describe_parameters()
    assert refused(lambda: forged("ssm").describe_parameters())["Code"] == (
        "UnrecognizedClientException"
    )


def test_an_iam_user_acts_with_its_own_policies(admin: Client, moto: MotoServer) -> None:
    iam = admin("iam")
    iam.create_user(UserName="alice")
    iam.put_user_policy(UserName="alice", PolicyName="p",
                        PolicyDocument=policy(allow("ssm:DescribeParameters", "*")))  # fmt: skip
    keys = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = session(moto, aws_access_key_id=keys["AccessKeyId"],
                    aws_secret_access_key=keys["SecretAccessKey"])  # fmt: skip

    alice("ssm").describe_parameters()
    error = refused(lambda: alice("ssm").get_parameter(Name="/smartstack/dev/x"))
    assert error["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: "
        f"ssm:GetParameter on resource: {parameter_arn('/smartstack/dev/x')} "
        "because no identity-based policy allows the ssm:GetParameter action"
    )


# --- authorization ---------------------------------------------------------------------------


def test_a_role_reads_its_environment_s_parameters_and_not_prod_s(
    admin: Client, role: Role
) -> None:
    for env in ("dev", "prod"):
        admin("ssm").put_parameter(Name=f"/smartstack/{env}/db-password", Value=env, Type="String")
    dev = role(
        "smartstack-dev-role",
        allow("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/smartstack/dev/*"),
    )

    got = dev("ssm").get_parameter(Name="/smartstack/dev/db-password")
    assert got["Parameter"]["Value"] == "dev"
    error = refused(lambda: dev("ssm").get_parameter(Name="/smartstack/prod/db-password"))
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: {SESSION}/smartstack-dev-role/test is not authorized to perform: "
        f"ssm:GetParameter on resource: {parameter_arn('/smartstack/prod/db-password')} "
        "because no identity-based policy allows the ssm:GetParameter action"
    )


def test_parameters_by_path_are_authorized_on_the_path(admin: Client, role: Role) -> None:
    admin("ssm").put_parameter(Name="/smartstack/dev/a", Value="1", Type="String")
    prefix = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/smartstack"
    dev = role("dev-path", allow("ssm:GetParametersByPath", [f"{prefix}/dev", f"{prefix}/dev/*"]))

    names = [p["Name"] for p in dev("ssm").get_parameters_by_path(Path="/smartstack/dev")[
        "Parameters"]]  # fmt: skip
    assert names == ["/smartstack/dev/a"]
    error = refused(lambda: dev("ssm").get_parameters_by_path(Path="/smartstack/prod"))
    assert f"on resource: {prefix}/prod " in error["Message"]


def test_a_bucket_policy_deny_overrides_an_identity_allow(
    admin: Client, role: Role, unique: str
) -> None:
    bucket = f"smartstack-dev-data-{unique}"
    admin("s3").create_bucket(Bucket=bucket)
    admin("s3").put_object(Bucket=bucket, Key="secret/x", Body=b"1")
    admin("s3").put_object(Bucket=bucket, Key="public/x", Body=b"2")
    admin("s3").put_bucket_policy(Bucket=bucket, Policy=policy(
        {"Sid": "NoSecrets", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/secret/*"}))  # fmt: skip
    dev = role("smartstack-dev-role", allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"))

    assert dev("s3").get_object(Bucket=bucket, Key="public/x")["Body"].read() == b"2"
    error = refused(lambda: dev("s3").get_object(Bucket=bucket, Key="secret/x"))
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == (
        f"User: {SESSION}/smartstack-dev-role/test is not authorized to perform: "
        f"s3:GetObject on resource: arn:aws:s3:::{bucket}/secret/x "
        "with an explicit deny in a resource-based policy"
    )
    # The admin too: an explicit deny in the bucket policy names every principal.
    refused(lambda: admin("s3").get_object(Bucket=bucket, Key="secret/x"))


def test_s3_operations_are_authorized_as_their_actions(
    admin: Client, role: Role, unique: str
) -> None:
    bucket = f"smartstack-tfstate-{unique}"
    admin("s3").create_bucket(Bucket=bucket)
    admin("s3").put_object(Bucket=bucket, Key="env/dev/terraform.tfstate", Body=b"{}")
    dev = role(
        "smartstack-dev-role",
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/env/dev/terraform.tfstate"),
        allow("s3:ListBucket", f"arn:aws:s3:::{bucket}",
              Condition={"StringLike": {"s3:prefix": ["env/dev/*"]}}),
    )  # fmt: skip
    s3 = dev("s3")

    s3.head_object(Bucket=bucket, Key="env/dev/terraform.tfstate")  # HeadObject: s3:GetObject
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="env/dev/")["Contents"]
    assert [o["Key"] for o in listed] == ["env/dev/terraform.tfstate"]
    error = refused(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="env/prod/"))
    assert "s3:ListBucket on resource: arn:aws:s3:::" in error["Message"]
    # HeadBucket is s3:ListBucket with no prefix: the prefix condition does not hold.
    refused(lambda: s3.head_bucket(Bucket=bucket))
    # The workspace listing OpenTofu's S3 backend makes (prefix env:/) is refused too.
    refused(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="env:/"))


def test_secure_strings_need_kms_decrypt_through_ssm(
    admin: Client, role: Role, unique: str
) -> None:
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]
    admin("kms").create_alias(AliasName=f"alias/smartstack-dev-{unique}", TargetKeyId=key)
    admin("ssm").put_parameter(Name="/smartstack/dev/token", Value="s3cret", Type="SecureString",
                               KeyId=f"alias/smartstack-dev-{unique}")  # fmt: skip
    read = allow("ssm:GetParameter", parameter_arn("/smartstack/dev/*"))
    via_ssm = {"StringEquals": {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}}
    without_kms = role("no-kms", read)
    with_kms = role("with-kms", read, allow("kms:Decrypt", key, Condition=via_ssm))

    assert with_kms("ssm").get_parameter(Name="/smartstack/dev/token", WithDecryption=True)[
        "Parameter"]["Value"] == "s3cret"  # fmt: skip
    without_kms("ssm").get_parameter(Name="/smartstack/dev/token", WithDecryption=False)
    error = refused(
        lambda: without_kms("ssm").get_parameter(Name="/smartstack/dev/token", WithDecryption=True)
    )
    assert error["Code"] == "AccessDeniedException"
    assert f"kms:Decrypt on resource: {key} " in error["Message"]
    # kms:ViaService holds only for calls SSM makes: the key itself is refused.
    blob = admin("kms").encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    error = refused(lambda: with_kms("kms").decrypt(CiphertextBlob=blob))
    assert f"kms:Decrypt on resource: {key} " in error["Message"]


def test_dynamodb_leading_keys(admin: Client, role: Role, unique: str) -> None:
    table = f"smartstack-deployments-{unique}"
    admin("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
    )  # fmt: skip
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    own = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["env#dev"]},
           "Null": {"dynamodb:LeadingKeys": "false"}}  # fmt: skip
    dev = role("smartstack-dev-role",
               allow(["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"], table_arn,
                     Condition=own))  # fmt: skip
    ddb = dev("dynamodb")

    ddb.put_item(TableName=table, Item={"pk": {"S": "env#dev"}, "sk": {"S": "1"}})
    ddb.get_item(TableName=table, Key={"pk": {"S": "env#dev"}, "sk": {"S": "1"}})
    items = ddb.query(TableName=table, KeyConditionExpression="#p = :p",
                      ExpressionAttributeNames={"#p": "pk"},
                      ExpressionAttributeValues={":p": {"S": "env#dev"}})["Items"]  # fmt: skip
    assert len(items) == 1
    error = refused(
        lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "env#prod"}, "sk": {"S": "1"}})
    )
    assert error["Code"] == "AccessDeniedException"
    assert f"dynamodb:PutItem on resource: {table_arn} " in error["Message"]
    refused(lambda: ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": "env#prod"}}))  # fmt: skip
    refused(lambda: ddb.scan(TableName=table))  # not granted at all


def test_lambda_invoke_is_invoke_function_on_the_qualified_arn(admin: Client, role: Role) -> None:
    prefix = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"
    dev = role("smartstack-dev-role", allow("lambda:InvokeFunction", f"{prefix}:smartstack-dev-*"))

    error = refused(
        lambda: dev("lambda").invoke(FunctionName="smartstack-prod-api", Qualifier="live")
    )
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: {SESSION}/smartstack-dev-role/test is not authorized to perform: "
        f"lambda:InvokeFunction on resource: {prefix}:smartstack-prod-api:live "
        "because no identity-based policy allows the lambda:InvokeFunction action"
    )


def test_listing_http_apis_is_a_get_on_apis(admin: Client, role: Role) -> None:
    # smoke.AwsFunctions lists the APIs with GET /apis; /apis/* does not cover it.
    apis = f"arn:aws:apigateway:{REGION}::/apis"
    dev = role("smartstack-dev-role", allow("apigateway:GET", f"{apis}/*"))
    error = refused(lambda: dev("apigatewayv2").get_apis())
    assert error["Code"] == "AccessDeniedException"
    assert f"apigateway:GET on resource: {apis} " in error["Message"]
    listing = role("lister", allow("apigateway:GET", apis))
    assert listing("apigatewayv2").get_apis()["Items"] == []


def test_a_permissions_boundary_caps_the_role(admin: Client, role: Role) -> None:
    boundary = admin("iam").create_policy(
        PolicyName="boundary", PolicyDocument=policy(allow("ssm:DescribeParameters", "*"))
    )["Policy"]["Arn"]
    capped = role("capped", allow(["ssm:DescribeParameters", "ssm:GetParameter"], "*"),
                  boundary=boundary)  # fmt: skip

    capped("ssm").describe_parameters()
    error = refused(lambda: capped("ssm").get_parameter(Name="/smartstack/dev/x"))
    assert error["Message"].endswith(
        "because no permissions boundary allows the ssm:GetParameter action"
    )


def test_source_identity_and_session_tags_reach_the_conditions(role: Role) -> None:
    condition = {"aws:SourceIdentity": "alice", "aws:PrincipalTag/team": "platform"}
    statement = allow("ssm:DescribeParameters", "*", Condition={"StringEquals": condition})
    tagged = role("tagged", statement, SourceIdentity="alice",
                  Tags=[{"Key": "team", "Value": "platform"}])  # fmt: skip
    untagged = role("untagged", statement)

    tagged("ssm").describe_parameters()
    refused(lambda: untagged("ssm").describe_parameters())


def test_a_source_identity_survives_role_chaining_and_cannot_change(
    admin: Client, role: Role, unique: str
) -> None:
    """Set once, it is the session's for good: a session it assumes carries it (the next
    role's trust must allow sts:SetSourceIdentity), and it cannot be set to another."""
    condition = {"StringEquals": {"aws:SourceIdentity": "alice"}}
    chained = admin("iam").create_role(
        RoleName=f"chained-{unique}", AssumeRolePolicyDocument=TRUST_ACCOUNT
    )["Role"]["Arn"]
    statement = allow("ssm:DescribeParameters", "*", Condition=condition)
    admin("iam").put_role_policy(
        RoleName=f"chained-{unique}", PolicyName="inline", PolicyDocument=policy(statement)
    )
    assume = allow(["sts:AssumeRole", "sts:SetSourceIdentity"], chained)
    first = role(f"first-{unique}", assume, SourceIdentity="alice")

    creds = first("sts").assume_role(RoleArn=chained, RoleSessionName="bob")["Credentials"]
    second = boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).client("ssm", endpoint_url=admin("ssm").meta.endpoint_url)
    second.describe_parameters()  # as alice, though she never said so to this role
    error = refused(lambda: first("sts").assume_role(
        RoleArn=chained, RoleSessionName="bob", SourceIdentity="bob"
    ))  # fmt: skip
    assert "source identity" in error["Message"]


def test_an_unmapped_operation_fails_closed_naming_it(admin: Client) -> None:
    error = refused(lambda: admin("ssm").describe_sessions(State="Active"))
    assert error["Message"] == "local IAM: no mapping for ssm:DescribeSessions"
    error = refused(lambda: admin("glacier").list_vaults())
    assert error["Message"] == "local IAM: no mapping for glacier:ListVaults"


def test_allowed_calls_are_recorded(moto: MotoServer, admin: Client, role: Role) -> None:
    admin("ssm").put_parameter(Name="/smartstack/dev/recorded", Value="v", Type="String")
    dev = role("recorder", allow("ssm:GetParameter", parameter_arn("/smartstack/dev/*")))
    dev("ssm").get_parameter(Name="/smartstack/dev/recorded")
    refused(lambda: dev("ssm").get_parameter(Name="/smartstack/prod/recorded"))

    records = [
        (r["principal"], r["action"], r["resource"])
        for r in moto.iam_allowed()
        if r["principal"].startswith(f"{SESSION}/recorder/")
    ]
    assert records == [
        (f"{SESSION}/recorder/test", "ssm:GetParameter", parameter_arn("/smartstack/dev/recorded"))
    ]
    assert json.dumps(records)  # plain JSON values


def test_enforcement_is_off_by_default(server_dir: Path) -> None:
    from smartstack.local.processes import free_port

    server = MotoServer(free_port(), server_dir, iam_enforcement="0")
    try:
        server.start()
        anyone = session(
            server, aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x"
        )
        anyone("ssm").describe_parameters()
        anyone("glacier").list_vaults()  # unmapped, and moto answers it
    finally:
        server.stop()


def test_sse_kms_writes_need_the_key_through_s3(admin: Client, role: Role, unique: str) -> None:
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]
    bucket = f"smartstack-dev-kms-{unique}"
    admin("s3").create_bucket(Bucket=bucket)
    default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    admin("s3").put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default}]
        },
    )
    write = allow("s3:PutObject", f"arn:aws:s3:::{bucket}/*")
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}
    with_key = role("with-key", write, allow("kms:GenerateDataKey", key, Condition=via_s3))
    without_key = role("without-key", write)

    with_key("s3").put_object(Bucket=bucket, Key="a", Body=b"1")
    error = refused(lambda: without_key("s3").put_object(Bucket=bucket, Key="b", Body=b"2"))
    assert f"kms:GenerateDataKey on resource: {key} " in error["Message"]


def test_creating_an_alarm_with_tags_needs_tag_resource_too(role: Role) -> None:
    alarm = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:smartstack-dev-*"
    settings = {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "Sum",
                "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
                "ComparisonOperator": "GreaterThanThreshold"}  # fmt: skip
    tags = [{"Key": "Environment", "Value": "dev"}]
    put_only = role("put-only", allow("cloudwatch:PutMetricAlarm", alarm))("cloudwatch")
    error = refused(lambda: put_only.put_metric_alarm(
        AlarmName="smartstack-dev-errors", Tags=tags, **settings))  # fmt: skip
    assert "cloudwatch:TagResource on resource" in error["Message"]
    put_only.put_metric_alarm(AlarmName="smartstack-dev-untagged", **settings)
    both = role("both", allow(["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"], alarm))
    both("cloudwatch").put_metric_alarm(AlarmName="smartstack-dev-errors", Tags=tags, **settings)
    # An update's tags are ignored by CloudWatch, so it needs no TagResource.
    put_only.put_metric_alarm(AlarmName="smartstack-dev-errors", Tags=tags, **settings)


def test_creating_a_function_passes_its_role_to_lambda(admin: Client, role: Role) -> None:
    prefix = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"
    execution = admin("iam").create_role(
        RoleName="smartstack-dev-api", AssumeRolePolicyDocument=policy()
    )["Role"]["Arn"]
    create = allow("lambda:CreateFunction", f"{prefix}:smartstack-dev-*")
    to_lambda = {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    cannot_pass = role("cannot-pass", create)
    can_pass = role("can-pass", create, allow("iam:PassRole", execution, Condition=to_lambda))
    function = {"Runtime": "python3.12", "Role": execution, "Handler": "h.h",
                "Code": {"ZipFile": b"PK\x05\x06" + b"\x00" * 18}}  # fmt: skip

    error = refused(lambda: cannot_pass("lambda").create_function(
        FunctionName="smartstack-dev-api", **function))  # fmt: skip
    assert f"iam:PassRole on resource: {execution} " in error["Message"]
    can_pass("lambda").create_function(FunctionName="smartstack-dev-api", **function)


def test_a_subnet_is_authorized_on_its_vpc_too(admin: Client, role: Role) -> None:
    vpc = admin("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets_only = role(
        "subnets-only", allow("ec2:CreateSubnet", f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/*")
    )

    error = refused(lambda: subnets_only("ec2").create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24"))
    assert error["Code"] == "UnauthorizedOperation"
    assert (
        f"ec2:CreateSubnet on resource: arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{vpc} "
        in (error["Message"])
    )


def test_assuming_a_role_is_decided_by_its_trust_policy(admin: Client, role: Role) -> None:
    deployer = role("deployer", allow("sts:AssumeRole", "*"))
    outsider = role("outsider", allow("sts:AssumeRole", "*"))
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/deployer"}})  # fmt: skip
    target = admin("iam").create_role(RoleName="target", AssumeRolePolicyDocument=trust)["Role"][
        "Arn"
    ]

    deployer("sts").assume_role(RoleArn=target, RoleSessionName="session")
    error = refused(lambda: outsider("sts").assume_role(RoleArn=target, RoleSessionName="session"))
    assert error["Code"] == "AccessDenied"
    assert f"sts:AssumeRole on resource: {target}" in error["Message"]


def test_audit_mode_records_refusals_and_refuses_nothing(server_dir: Path) -> None:
    from smartstack.local.processes import free_port

    server = MotoServer(free_port(), server_dir, iam_enforcement="audit")
    try:
        server.start()
        anyone = session(
            server, aws_access_key_id="smartstack-local", aws_secret_access_key="local"
        )
        anyone("glacier").list_vaults()  # unmapped: recorded, not refused
        lines = (server_dir / "iam-denied.jsonl").read_text().splitlines()
        denied = {json.loads(line)["operation"]: json.loads(line) for line in lines}
        assert "glacier:ListVaults" in denied, lines
        assert denied["glacier:ListVaults"]["mode"] == "audit"
        assert denied["glacier:ListVaults"]["message"] == (
            "local IAM: no mapping for glacier:ListVaults"
        )
    finally:
        server.stop()


def test_a_bucket_policy_deny_whose_condition_does_not_hold_denies_nothing(
    admin: Client, role: Role, unique: str
) -> None:
    # moto itself applies bucket policy denies to object requests, ignoring conditions;
    # with enforcement on, the decision is the evaluator's (as on AWS).
    bucket = f"smartstack-dev-cond-{unique}"
    admin("s3").create_bucket(Bucket=bucket)
    admin("s3").put_object(Bucket=bucket, Key="x", Body=b"1")
    admin("s3").put_bucket_policy(Bucket=bucket, Policy=policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blocked"}}}))  # fmt: skip
    dev = role("smartstack-dev-role", allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"))

    assert dev("s3").get_object(Bucket=bucket, Key="x")["Body"].read() == b"1"


# --- requests that name nothing that exists ------------------------------------------------


def test_a_missing_key_is_not_found_as_on_aws_not_refused(admin: Client, role: Role) -> None:
    """bootstrap asks for the state key's alias before it exists: AWS answers NotFound."""
    for client in (admin, role("smartstack-dev-role", allow("kms:DescribeKey", "*"))):
        with pytest.raises(ClientError) as info:
            client("kms").describe_key(KeyId="alias/smartstack-tfstate")
        assert info.value.response["Error"]["Code"] == "NotFoundException"


def test_an_unresolved_request_that_moto_would_answer_with_success_is_refused() -> None:
    """The guard behind passing unresolved requests on: moto's success never goes out."""
    from smartstack.local.iam import ENFORCE
    from smartstack.local.iam.enforcer import Enforcer, Verdict
    from smartstack.local.iam.responses import refusal

    class Unresolving(Enforcer):
        def authorize(self, request: Any) -> Verdict:
            return Verdict(None, (), refusal(request, "no such thing"), "no such thing", True)

    def moto_says_yes(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "wsgi.url_scheme": "http",
        "HTTP_X_AMZ_TARGET": "TrentService.DescribeKey",
        "CONTENT_TYPE": "application/x-amz-json-1.1",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/kms/"
        "aws4_request, SignedHeaders=host, Signature=x",
    }  # fmt: skip

    class Idle:
        evaluations = 0

    enforcer = Unresolving(ENFORCE, None, evaluator=Idle(), authenticator=object())  # type: ignore[arg-type]
    body = b"".join(enforcer.handle(environ, lambda s, h: statuses.append(s), moto_says_yes))

    assert statuses[0].startswith("403"), statuses
    assert b"no such thing" in body


def test_s3_control_refuses_in_its_own_error_shape(admin: Client, role: Role, unique: str) -> None:
    """S3 Control wraps errors in ErrorResponse (the AWS provider reads bucket tags there)."""
    admin("s3").create_bucket(Bucket=f"b-{unique}")
    dev = role("smartstack-dev-role", allow("s3:GetBucketTagging", "*"))
    control = dev("s3control")
    bodies: list[bytes] = []  # as the wire carried them: the Go SDK reads only this shape
    control.meta.events.register(
        "before-parse.s3-control.*", lambda response_dict, **_: bodies.append(response_dict["body"])
    )

    error = refused(
        lambda: control.list_tags_for_resource(
            AccountId=ACCOUNT, ResourceArn=f"arn:aws:s3:::b-{unique}"
        )
    )
    assert error["Code"] == "AccessDenied"
    assert "s3:ListTagsForResource" in error["Message"]
    assert b"<ErrorResponse><Error><Code>AccessDenied</Code>" in bodies[-1]


def test_an_event_source_mapping_is_authorized_on_its_own_tags(
    admin: Client, role: Role, unique: str
) -> None:
    """Mappings have UUID ARNs, so the roles reach them by their Environment tag."""
    execution = admin("iam").create_role(
        RoleName=f"fn-{unique}", AssumeRolePolicyDocument=policy()
    )["Role"]["Arn"]
    admin("lambda").create_function(
        FunctionName=f"smartstack-dev-{unique}", Runtime="python3.12", Role=execution,
        Handler="h.h", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )  # fmt: skip
    queue = admin("sqs").create_queue(QueueName=f"q-{unique}")["QueueUrl"]
    queue_arn = admin("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    mapping = admin("lambda").create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=f"smartstack-dev-{unique}",
        Tags={"Environment": "dev"},
    )["UUID"]  # fmt: skip
    own = {"StringEquals": {"aws:ResourceTag/Environment": "dev"}}
    mappings = f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:*"
    dev = role(
        "smartstack-dev-role", allow("lambda:GetEventSourceMapping", mappings, Condition=own)
    )
    prod_own = {"StringEquals": {"aws:ResourceTag/Environment": "prod"}}
    prod = role(
        "smartstack-prod-role",
        allow("lambda:GetEventSourceMapping", mappings, Condition=prod_own),
    )

    assert dev("lambda").get_event_source_mapping(UUID=mapping)["UUID"] == mapping
    refused(lambda: prod("lambda").get_event_source_mapping(UUID=mapping))


def test_a_route_table_association_is_authorized_on_its_route_table(
    admin: Client, role: Role
) -> None:
    """Destroying a stack disassociates its subnets (the association id names no ARN)."""
    ec2 = admin("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    association = ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)["AssociationId"]
    others = role(
        "other-tables",
        allow("ec2:DisassociateRouteTable", f"arn:aws:ec2:{REGION}:{ACCOUNT}:route-table/rtb-0"),
    )
    owner = role(
        "this-table",
        allow("ec2:DisassociateRouteTable", f"arn:aws:ec2:{REGION}:{ACCOUNT}:route-table/{table}"),
    )

    refused(lambda: others("ec2").disassociate_route_table(AssociationId=association))
    owner("ec2").disassociate_route_table(AssociationId=association)


# --- requests that name two operations -----------------------------------------------------


def _add_to_url(client: Any, event: str, extra: str) -> None:
    """Append ``extra`` to the query of every request ``client`` sends for ``event``."""

    def tamper(request: Any, **_: Any) -> None:
        request.url += ("&" if "?" in request.url else "?") + extra

    client.meta.events.register(f"before-send.{event}", tamper)


def test_an_action_in_the_query_cannot_hide_the_one_in_the_body(admin: Client, role: Role) -> None:
    """Authorized as the query's Action, run as the body's: refused, and nothing happens."""
    vpc = admin("ec2").create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    reader = role("reader", allow("ec2:DescribeVpcs", "*"))("ec2")
    _add_to_url(reader, "ec2.DeleteVpc", "Action=DescribeVpcs")

    refused(lambda: reader.delete_vpc(VpcId=vpc))
    assert admin("ec2").describe_vpcs(VpcIds=[vpc])["Vpcs"]


def test_an_action_parameter_cannot_turn_a_read_into_a_delete(admin: Client, role: Role) -> None:
    """moto runs a REST service's ?Action= instead of its route's operation."""
    execution = admin("iam").create_role(RoleName="fn", AssumeRolePolicyDocument=policy())
    admin("lambda").create_function(
        FunctionName="smartstack-prod-api", Runtime="python3.12", Handler="h.h",
        Role=execution["Role"]["Arn"], Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )  # fmt: skip
    reader = role("reader", allow("lambda:GetFunction", "*"))("lambda")
    _add_to_url(reader, "lambda.GetFunction", "Action=DeleteFunction")

    refused(lambda: reader.get_function(FunctionName="smartstack-prod-api"))
    assert admin("lambda").get_function(FunctionName="smartstack-prod-api")


def test_a_role_that_does_not_exist_cannot_be_assumed(admin: Client) -> None:
    """As on AWS (moto alone hands out a session of any ARN): nobody may assume it."""
    error = refused(
        lambda: admin("sts").assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/smartstack-nowhere-role", RoleSessionName="xy"
        )
    )
    assert error["Code"] == "AccessDenied"


def _encrypted_table(admin: Client, table: str, hash_key: str, key: str) -> str:
    """A table encrypted with the KMS ``key``; returns its ARN."""
    admin("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": hash_key, "AttributeType": "S"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
    )  # fmt: skip
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"


def test_items_of_a_kms_encrypted_table_need_the_key_through_dynamodb(
    admin: Client, role: Role, unique: str
) -> None:
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]
    table = f"smartstack-locks-{unique}"
    table_arn = _encrypted_table(admin, table, "LockID", key)
    items = allow(["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem",
                   "dynamodb:Query", "dynamodb:BatchWriteItem"], table_arn)  # fmt: skip
    via_ddb = {"StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com",
                                "kms:EncryptionContext:aws:dynamodb:tableName": table}}  # fmt: skip
    with_key = role("with-key", items, allow("kms:Decrypt", key, Condition=via_ddb))("dynamodb")
    without_key = role("without-key", items)("dynamodb")
    lock = {"LockID": {"S": "state"}}

    with_key.put_item(TableName=table, Item=lock)
    with_key.get_item(TableName=table, Key=lock)
    with_key.delete_item(TableName=table, Key=lock)
    for call in (
        lambda: without_key.put_item(TableName=table, Item=lock),
        lambda: without_key.get_item(TableName=table, Key=lock),
        lambda: without_key.query(TableName=table, KeyConditionExpression="LockID = :l",
                                  ExpressionAttributeValues={":l": {"S": "state"}}),
        lambda: without_key.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": lock}}]}),
    ):  # fmt: skip
        error = refused(call)
        assert f"kms:Decrypt on resource: {key} " in error["Message"]
    # The encryption context names the table: a grant for another table's items is not one.
    other = {"StringEquals": {"kms:EncryptionContext:aws:dynamodb:tableName": "another"}}
    elsewhere = role("elsewhere", items, allow("kms:Decrypt", key, Condition=other))("dynamodb")
    refused(lambda: elsewhere.get_item(TableName=table, Key=lock))
    # Through DynamoDB only: the same grant does not let the key be used directly.
    direct = role("direct", allow("kms:Decrypt", key, Condition=via_ddb))("kms")
    refused(lambda: direct.decrypt(CiphertextBlob=b"x" * 32))


def test_messages_of_a_kms_encrypted_queue_need_the_key_through_sqs(
    admin: Client, role: Role, unique: str
) -> None:
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]
    sqs = admin("sqs")
    url = sqs.create_queue(QueueName=f"jobs-{unique}", Attributes={"KmsMasterKeyId": key})[
        "QueueUrl"
    ]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    messages = allow(["sqs:SendMessage", "sqs:ReceiveMessage"], queue)
    via_sqs = {"StringEquals": {"kms:ViaService": f"sqs.{REGION}.amazonaws.com",
                                "kms:EncryptionContext:aws:sqs:arn": queue}}  # fmt: skip
    producer = role("producer", messages,
                    allow("kms:GenerateDataKey", key, Condition=via_sqs))("sqs")  # fmt: skip
    consumer = role("consumer", messages, allow("kms:Decrypt", key, Condition=via_sqs))("sqs")

    producer.send_message(QueueUrl=url, MessageBody="job")
    assert consumer.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "job"
    error = refused(lambda: consumer.send_message(QueueUrl=url, MessageBody="job"))
    assert f"kms:GenerateDataKey on resource: {key} " in error["Message"]
    refused(lambda: consumer.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "job"}]))  # fmt: skip
    error = refused(lambda: producer.receive_message(QueueUrl=url))
    assert f"kms:Decrypt on resource: {key} " in error["Message"]
    # A queue without a key of its own (SQS-managed encryption) needs no KMS grant.
    plain = sqs.create_queue(QueueName=f"plain-{unique}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    role("plain", allow("sqs:SendMessage", arn))("sqs").send_message(
        QueueUrl=plain, MessageBody="x"
    )


def test_publishing_to_a_kms_encrypted_topic_needs_the_key_through_sns(
    admin: Client, role: Role, unique: str
) -> None:
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]
    topic = admin("sns").create_topic(Name=f"alerts-{unique}", Attributes={"KmsMasterKeyId": key})[
        "TopicArn"
    ]
    via_sns = {"StringEquals": {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}}
    publish = allow("sns:Publish", topic)
    keyed = role("keyed", publish, allow(["kms:GenerateDataKey", "kms:Decrypt"], key,
                                         Condition=via_sns))("sns")  # fmt: skip

    keyed.publish(TopicArn=topic, Message="alarm")
    error = refused(lambda: role("keyless", publish)("sns").publish(TopicArn=topic, Message="x"))
    assert f"on resource: {key} " in error["Message"]


def test_a_key_policy_that_does_not_trust_the_account_refuses_encryption_context_checks(
    admin: Client, role: Role, unique: str
) -> None:
    only_admin = policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody"}})  # fmt: skip
    key = admin("kms").create_key(Policy=only_admin, BypassPolicyLockoutSafetyCheck=True)[
        "KeyMetadata"
    ]["Arn"]
    table = f"smartstack-records-{unique}"
    table_arn = _encrypted_table(admin, table, "pk", key)
    ddb = role("records", allow("dynamodb:GetItem", table_arn), allow("kms:Decrypt", key))(
        "dynamodb"
    )
    error = refused(lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}))
    assert f"kms:Decrypt on resource: {key} " in error["Message"]


# --- requests that could be authorized as one thing and run as another ---------------------


def _raw(client: Any, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
    """Send a hand-made request signed with ``client``'s credentials; returns the status."""
    status, _ = signed_request(
        method, client.meta.endpoint_url + path, service=client.meta.service_model.signing_name,
        region=REGION, credentials=client._request_signer._credentials, headers=headers,
        body=body,
    )  # fmt: skip
    return status


_CBOR = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
_ALARM = "/service/GraniteServiceVersion20100801/operation/"


def _alarm_names(admin: Client) -> set[str]:
    return {a["AlarmName"] for a in admin("cloudwatch").describe_alarms()["MetricAlarms"]}


def _put_alarm(admin: Client, name: str) -> None:
    admin("cloudwatch").put_metric_alarm(
        AlarmName=name, MetricName="Errors", Namespace="AWS/Lambda", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip


def test_a_cbor_request_cannot_name_another_operation_in_its_target(
    admin: Client, role: Role
) -> None:
    import cbor2

    _put_alarm(admin, "prod-critical")
    reader = role("reader", allow("cloudwatch:DescribeAlarms", "*"))("cloudwatch")
    headers = {**_CBOR, "X-Amz-Target": "GraniteServiceVersion20100801.DescribeAlarms"}
    body = cbor2.dumps({"AlarmNames": ["prod-critical"]})
    assert _raw(reader, "POST", _ALARM + "DeleteAlarms", headers, body) == 403
    assert "prod-critical" in _alarm_names(admin)


def test_the_cbor_body_moto_runs_is_the_one_that_was_authorized(admin: Client, role: Role) -> None:
    import cbor2

    from smartstack.local.iam.cbor import decode_cbor

    dev = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:dev-*"
    writer = role("writer", allow("cloudwatch:PutMetricAlarm", dev))("cloudwatch")
    settings = {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "Sum",
                "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
                "ComparisonOperator": "GreaterThanThreshold"}  # fmt: skip
    # {"AlarmName": "dev-ok", …settings, stringref(0): "prod-critical"} in a string-reference
    # namespace (tag 256): a decoder that resolves references (tag 25) reads the last key as
    # "AlarmName" again, one that does not as 0.
    pairs = b"".join(cbor2.dumps(k) + cbor2.dumps(v) for k, v in settings.items())
    body = (b"\xd9\x01\x00" + bytes([0xA0 | (len(settings) + 2)])
            + cbor2.dumps("AlarmName") + cbor2.dumps("dev-ok") + pairs
            + b"\xd8\x19\x00" + cbor2.dumps("prod-critical"))  # fmt: skip
    assert cbor2.loads(body)["AlarmName"] == "prod-critical"
    assert decode_cbor(body)["AlarmName"] == "dev-ok"
    status = _raw(writer, "POST", _ALARM + "PutMetricAlarm", _CBOR, body)
    assert "prod-critical" not in _alarm_names(admin), status


def test_an_options_request_runs_nothing(admin: Client, role: Role, unique: str) -> None:
    nobody = role("nobody")("ssm")
    name = f"/smartstack/prod/{unique}"
    body = json.dumps({"Name": name, "Value": "x", "Type": "String"}).encode()
    headers = {"X-Amz-Target": "AmazonSSM.PutParameter",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    _raw(nobody, "OPTIONS", "/", headers, body)
    assert admin("ssm").get_parameters(Names=[name])["Parameters"] == []
