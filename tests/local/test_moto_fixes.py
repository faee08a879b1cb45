"""The moto fixes, against the running local AWS: without them these fail."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.exceptions import ClientError

from smartstack.aws.target import AwsTarget
from smartstack.core.config import Settings
from smartstack.local import platform
from smartstack.local.moto import MotoServer
from smartstack.local.network import PrivateNetwork
from smartstack.local.processes import free_port
from tests.conftest import LAMBDA_TRUST
from tests.local.signed import signed_request
from tests.vpc import VpcSession


def test_each_database_gets_its_own_resource_id(aws: AwsTarget) -> None:
    rds = aws.client("rds")
    for name in ("smartstack-dev-db", "smartstack-staging-db"):
        rds.create_db_instance(
            DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20, MasterUsername="smartstack", MasterUserPassword="x" * 16,
        )  # fmt: skip
    ids = {d["DBInstanceIdentifier"]: d["DbiResourceId"]
           for d in rds.describe_db_instances()["DBInstances"]}  # fmt: skip
    assert len(set(ids.values())) == 2
    found = rds.describe_db_instances(
        Filters=[{"Name": "dbi-resource-id", "Values": [ids["smartstack-staging-db"]]}]
    )["DBInstances"]
    assert [d["DBInstanceIdentifier"] for d in found] == ["smartstack-staging-db"]


def test_tags_sent_at_bucket_creation_are_kept(aws: AwsTarget) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(
        Bucket="smartstack-dev-data-test",
        CreateBucketConfiguration={"Tags": [{"Key": "Environment", "Value": "dev"}]},
    )
    tags = s3.get_bucket_tagging(Bucket="smartstack-dev-data-test")["TagSet"]
    assert tags == [{"Key": "Environment", "Value": "dev"}]


# --- RDS PostgreSQL instances are databases in the local PostgreSQL --------------------------


def _instance(rds: Any, name: str, password: str) -> dict[str, Any]:
    created: dict[str, Any] = rds.create_db_instance(
        DBInstanceIdentifier=f"{name.replace('_', '-')}-db", Engine="postgres",
        DBInstanceClass="db.t4g.micro", AllocatedStorage=20, DBName=name,
        MasterUsername=name, MasterUserPassword=password,
    )["DBInstance"]  # fmt: skip
    return created


def _connect(
    vpc: PrivateNetwork | None,
    endpoint: dict[str, Any],
    name: str,
    password: str,
    sslmode: str,
    dbname: str | None = None,
) -> VpcSession:
    """As the master user ``name`` to the database of that name (or ``dbname``), from the VPC
    (the database is private, as on AWS)."""
    return VpcSession(
        vpc, host=endpoint["Address"], port=endpoint["Port"], dbname=dbname or name, user=name,
        password=password, sslmode=sslmode,
    )  # fmt: skip


def _admin(settings: Settings) -> Any:
    return psycopg.connect(platform.postgres_server(settings).dsn, autocommit=True)


@pytest.fixture
def name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def test_a_postgres_instance_is_a_database_its_master_user_logs_in_to(
    aws: AwsTarget, running_platform: Settings, name: str, vpc: PrivateNetwork | None
) -> None:
    rds, password = aws.client("rds"), f"pw-{uuid.uuid4().hex}"
    created = _instance(rds, name, password)

    pg_port = platform.postgres_server(running_platform).port
    assert created["Endpoint"]["Address"] == "127.0.0.1"
    assert created["Endpoint"]["Port"] == pg_port
    described = rds.describe_db_instances(DBInstanceIdentifier=created["DBInstanceIdentifier"])
    instance = described["DBInstances"][0]
    assert (instance["Endpoint"], instance["DbInstancePort"]) == (created["Endpoint"], pg_port)

    with _connect(vpc, created["Endpoint"], name, password, sslmode="require") as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), ssl FROM pg_stat_ssl"
            " WHERE pid = pg_backend_pid()"
        ).fetchone()
        conn.execute("CREATE TABLE owned_by_the_master_user (id int)")
    assert row == (name, name, True)


def test_a_wrong_password_or_no_tls_is_refused(
    aws: AwsTarget, running_platform: Settings, name: str, vpc: PrivateNetwork | None
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    endpoint = _instance(aws.client("rds"), name, password)["Endpoint"]

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(vpc, endpoint, name, "not-the-password", sslmode="require")
    # As RDS PostgreSQL 15+ (rds.force_ssl): the right password without TLS is refused too.
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        _connect(vpc, endpoint, name, password, sslmode="disable")


def test_another_instance_s_master_user_cannot_connect(
    aws: AwsTarget, running_platform: Settings, name: str, vpc: PrivateNetwork | None
) -> None:
    rds, password = aws.client("rds"), f"pw-{uuid.uuid4().hex}"
    endpoint = _instance(rds, name, password)["Endpoint"]
    _instance(rds, f"{name}_b", password)

    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        _connect(vpc, endpoint, f"{name}_b", password, sslmode="require", dbname=name)


def test_modify_changes_the_master_password(
    aws: AwsTarget, running_platform: Settings, name: str, vpc: PrivateNetwork | None
) -> None:
    rds, old, new = aws.client("rds"), f"pw-{uuid.uuid4().hex}", f"pw-{uuid.uuid4().hex}"
    created = _instance(rds, name, old)

    rds.modify_db_instance(
        DBInstanceIdentifier=created["DBInstanceIdentifier"],
        MasterUserPassword=new,
        ApplyImmediately=True,
    )

    with _connect(vpc, created["Endpoint"], name, new, sslmode="require") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(vpc, created["Endpoint"], name, old, sslmode="require")


def test_delete_drops_the_database_and_the_role(
    aws: AwsTarget, running_platform: Settings, name: str, vpc: PrivateNetwork | None
) -> None:
    rds, password = aws.client("rds"), f"pw-{uuid.uuid4().hex}"
    created = _instance(rds, name, password)
    session = _connect(vpc, created["Endpoint"], name, password, sslmode="require")  # kept open

    rds.delete_db_instance(
        DBInstanceIdentifier=created["DBInstanceIdentifier"], SkipFinalSnapshot=True
    )

    session.close()
    with _admin(running_platform) as admin:
        databases = admin.execute("SELECT datname FROM pg_database").fetchall()
        roles = admin.execute("SELECT rolname FROM pg_roles").fetchall()
    assert (name,) not in databases
    assert (name,) not in roles


def test_creating_again_keeps_the_data_and_takes_the_new_password(
    aws: AwsTarget, running_platform: Settings, name: str, vpc: PrivateNetwork | None
) -> None:
    # moto forgets everything when it restarts (here: a reset); the database outlives it.
    rds, first, second = aws.client("rds"), f"pw-{uuid.uuid4().hex}", f"pw-{uuid.uuid4().hex}"
    endpoint = _instance(rds, name, first)["Endpoint"]
    with _connect(vpc, endpoint, name, first, sslmode="require") as conn:
        conn.execute("CREATE TABLE kept (id int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    platform.moto_server(running_platform).reset()

    _instance(rds, name, second)

    with _connect(vpc, endpoint, name, second, sslmode="require") as conn:
        assert conn.execute("SELECT id FROM kept").fetchall() == [(7,)]


def test_passwords_reach_no_log(aws: AwsTarget, running_platform: Settings, name: str) -> None:
    rds, password = aws.client("rds"), f"pw-{uuid.uuid4().hex}"
    with _admin(running_platform) as admin:  # the server logs every role statement it gets
        admin.execute("ALTER ROLE postgres SET log_statement = 'ddl'")
    try:
        identifier = _instance(rds, name, password)["DBInstanceIdentifier"]
        rds.modify_db_instance(
            DBInstanceIdentifier=identifier,
            MasterUserPassword=f"{password}-2",
            ApplyImmediately=True,
        )
    finally:
        with _admin(running_platform) as admin:
            admin.execute("ALTER ROLE postgres RESET log_statement")

    pg, moto = platform.postgres_server(running_platform), platform.moto_server(running_platform)
    logged = pg.log_file.read_text(errors="replace")
    assert f'CREATE ROLE "{name}" LOGIN PASSWORD \'SCRAM-SHA-256$' in logged  # sent hashed
    for log in (pg.log_file, moto.log_file):
        assert password not in log.read_text(errors="replace")
    with _admin(running_platform) as admin:  # stored as a SCRAM verifier, sent as one
        stored = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (name,))
        assert str(stored.fetchone()[0]).startswith("SCRAM-SHA-256$")


def test_an_unreachable_postgres_is_an_rds_error(tmp_path: Path, name: str) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    server = MotoServer(free_port(), tmp_path, dead)
    server.start()
    try:
        rds = boto3.client(
            "rds", endpoint_url=server.url, region_name="us-east-1",
            aws_access_key_id="smartstack-local", aws_secret_access_key="local",  # the admin
        )  # fmt: skip
        password = f"pw-{uuid.uuid4().hex}"
        with pytest.raises(ClientError) as info:
            _instance(rds, name, password)
        error = info.value.response["Error"]
        assert error["Code"] == "InternalFailure"
        assert "the local PostgreSQL is not reachable" in error["Message"]
        assert password not in str(info.value)
        assert rds.describe_db_instances()["DBInstances"] == []
        assert server.healthy()
    finally:
        server.stop()


def _policy_of(size: int) -> str:
    """A policy document of exactly ``size`` characters without whitespace."""
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::"}
    empty = json.dumps({"Version": "2012-10-17", "Statement": [statement]}, separators=(",", ":"))
    statement["Resource"] += "b" * (size - len(empty))
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, separators=(",", ":"))


def _limit(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] == "LimitExceeded"
    return str(error["Message"])


def test_a_role_s_inline_policies_are_limited_to_10240_characters_in_all(aws: AwsTarget) -> None:
    iam = aws.client("iam")
    trust = _policy_of(200)  # moto takes any document as a trust policy
    iam.create_role(RoleName="quota-role", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="quota-role", PolicyName="a", PolicyDocument=_policy_of(6000))
    put = lambda: iam.put_role_policy(  # noqa: E731 - one call, asked twice
        RoleName="quota-role", PolicyName="b", PolicyDocument=_policy_of(4241)
    )
    assert _limit(put) == "Maximum policy size of 10240 bytes exceeded for role quota-role"
    iam.put_role_policy(RoleName="quota-role", PolicyName="b", PolicyDocument=_policy_of(4240))
    # Whitespace does not count, as on AWS; replacing a policy counts its new size only.
    spaced = _policy_of(4240).replace(",", ",   ")
    iam.put_role_policy(RoleName="quota-role", PolicyName="b", PolicyDocument=spaced)
    iam.put_role_policy(RoleName="quota-role", PolicyName="a", PolicyDocument=_policy_of(6000))


def test_managed_policies_are_limited_to_6144_characters_and_10_per_role(aws: AwsTarget) -> None:
    iam = aws.client("iam")
    create = lambda: iam.create_policy(  # noqa: E731
        PolicyName="too-big", PolicyDocument=_policy_of(6145)
    )
    assert _limit(create) == "Cannot exceed quota for PolicySize: 6144"
    arn = iam.create_policy(PolicyName="fits", PolicyDocument=_policy_of(6144))["Policy"]["Arn"]
    version = lambda: iam.create_policy_version(  # noqa: E731
        PolicyArn=arn, PolicyDocument=_policy_of(6145)
    )
    assert _limit(version) == "Cannot exceed quota for PolicySize: 6144"
    trust = _policy_of(200)  # moto takes any document as a trust policy
    iam.create_role(RoleName="many-policies", AssumeRolePolicyDocument=trust)
    for n in range(10):
        small = iam.create_policy(PolicyName=f"small-{n}", PolicyDocument=_policy_of(200))
        iam.attach_role_policy(RoleName="many-policies", PolicyArn=small["Policy"]["Arn"])
    attach = lambda: iam.attach_role_policy(RoleName="many-policies", PolicyArn=arn)  # noqa: E731
    assert _limit(attach) == "Cannot exceed quota for PoliciesPerRole: 10"


def test_user_and_group_inline_policies_have_their_own_limits(aws: AwsTarget) -> None:
    iam = aws.client("iam")
    iam.create_user(UserName="quota-user")
    iam.create_group(GroupName="quota-group")
    user = lambda: iam.put_user_policy(  # noqa: E731
        UserName="quota-user", PolicyName="p", PolicyDocument=_policy_of(2049)
    )
    assert _limit(user) == "Maximum policy size of 2048 bytes exceeded for user quota-user"
    group = lambda: iam.put_group_policy(  # noqa: E731
        GroupName="quota-group", PolicyName="p", PolicyDocument=_policy_of(5121)
    )
    assert _limit(group) == "Maximum policy size of 5120 bytes exceeded for group quota-group"


def test_a_role_session_lasts_at_most_the_role_s_max_session_duration(aws: AwsTarget) -> None:
    iam, sts = aws.client("iam"), aws.client("sts")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{aws.account_id()}:root"}}]}  # fmt: skip
    arn = iam.create_role(
        RoleName="short-sessions",
        AssumeRolePolicyDocument=json.dumps(trust),
        MaxSessionDuration=3600,
    )["Role"]["Arn"]
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=arn, RoleSessionName="longer", DurationSeconds=3601)
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    granted = sts.assume_role(RoleArn=arn, RoleSessionName="hour", DurationSeconds=3600)
    assert granted["Credentials"]["AccessKeyId"]


def _admin_credentials(aws: AwsTarget) -> Any:
    return boto3.session.Session(
        aws_access_key_id=aws.variables["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws.variables["AWS_SECRET_ACCESS_KEY"],
    ).get_credentials()


def _cbor_call(aws: AwsTarget, operation: str, params: dict[str, Any]) -> tuple[int, Any]:
    """One CloudWatch call as the AWS provider makes it: Smithy RPC v2 CBOR, signed."""
    import cbor2

    base = aws.endpoint_url("cloudwatch")
    url = f"{base}/service/GraniteServiceVersion20100801/operation/{operation}"
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
               "Accept": "application/cbor"}  # fmt: skip
    status, body = signed_request(
        "POST", url, service="monitoring", region=aws.region,
        credentials=_admin_credentials(aws), headers=headers, body=cbor2.dumps(params),
    )  # fmt: skip
    return status, cbor2.loads(body)


def test_cloudwatch_answers_the_cbor_protocol_the_provider_speaks(aws: AwsTarget) -> None:
    alarm = {"AlarmName": "errors", "MetricName": "Errors", "Namespace": "AWS/Lambda",
             "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
             "ComparisonOperator": "GreaterThanThreshold",
             "Dimensions": [{"Name": "FunctionName", "Value": "f"}]}  # fmt: skip
    assert _cbor_call(aws, "PutMetricAlarm", alarm)[0] == 200
    status, answer = _cbor_call(aws, "DescribeAlarms", {"AlarmNames": ["errors"]})
    assert status == 200
    found = answer["MetricAlarms"][0]
    assert found["AlarmName"] == "errors"
    assert found["Threshold"] == 1.0
    # Timestamps are CBOR epoch times (tag 1, which cbor2 decodes to datetimes), as the
    # protocol has them: a plain number would stay a number.
    assert isinstance(found["StateUpdatedTimestamp"], datetime)
    # The same alarm through boto3's own protocol choice.
    listed = aws.client("cloudwatch").describe_alarms(AlarmNames=["errors"])["MetricAlarms"]
    assert [a["AlarmName"] for a in listed] == ["errors"]


def test_a_cloudwatch_error_is_a_cbor_error(aws: AwsTarget) -> None:
    status, answer = _cbor_call(aws, "DeleteDashboards", {"DashboardNames": ["nowhere"]})
    assert status == 404
    assert answer["__type"] == "ResourceNotFound"


def _signed_ddb(aws: AwsTarget, target: str, body: dict[str, Any], headers: dict[str, str]) -> int:
    status, _ = signed_request(
        "POST", str(aws.endpoint_url("dynamodb")) + "/", service="dynamodb", region=aws.region,
        credentials=_admin_credentials(aws), body=json.dumps(body).encode(),
        headers={"X-Amz-Target": f"DynamoDB_20120810.{target}",
                 "Content-Type": "application/x-amz-json-1.0", **headers},
    )  # fmt: skip
    return status


def test_a_retried_conditional_write_gets_its_first_answer(aws: AwsTarget) -> None:
    table = f"locks-{uuid.uuid4().hex[:8]}"
    aws.client("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    )  # fmt: skip
    lock = {"TableName": table, "Item": {"LockID": {"S": "state/key"}, "Info": {"S": "me"}},
            "ConditionExpression": "attribute_not_exists(LockID)"}  # fmt: skip
    invocation = str(uuid.uuid4())

    def attempt(n: int, invocation_id: str = invocation) -> int:
        headers = {"amz-sdk-invocation-id": invocation_id, "amz-sdk-request": f"attempt={n}; max=5"}
        return _signed_ddb(aws, "PutItem", lock, headers)

    assert attempt(1) == 200
    assert attempt(2) == 200  # the retry of an attempt that was carried out
    assert attempt(1, str(uuid.uuid4())) == 400  # another operation: the lock is held


def test_a_retried_create_of_any_service_gets_its_first_answer(aws: AwsTarget) -> None:
    # Seen in CI: OpenTofu's CreateAlias ran twice (201, then 409 "Alias already exists").
    iam = aws.client("iam")
    role = iam.create_role(RoleName="retried-exec", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"][
        "Arn"
    ]
    lam = aws.client("lambda")
    empty_zip = b"PK\x05\x06" + b"\0" * 18
    lam.create_function(FunctionName="retried", Runtime="python3.12", Role=role,
                        Handler="app.handler", Code={"ZipFile": empty_zip})  # fmt: skip
    version = lam.publish_version(FunctionName="retried")["Version"]
    url = f"{aws.endpoint_url('lambda')}/2015-03-31/functions/retried/aliases"
    body = json.dumps({"Name": "live", "FunctionVersion": version}).encode()
    invocation = str(uuid.uuid4())

    def attempt(n: int, invocation_id: str = invocation) -> tuple[int, bytes]:
        headers = {"amz-sdk-invocation-id": invocation_id, "amz-sdk-request": f"attempt={n}; max=3",
                   "Content-Type": "application/json"}  # fmt: skip
        return signed_request(
            "POST", url, service="lambda", region=aws.region,
            credentials=_admin_credentials(aws), headers=headers, body=body,
        )  # fmt: skip

    first = attempt(1)
    assert first[0] == 201
    assert attempt(2) == first  # the retry of an attempt that was carried out
    assert attempt(1, str(uuid.uuid4()))[0] == 409  # another operation: the alias exists
