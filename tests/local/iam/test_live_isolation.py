"""Environment isolation as real requests: every environment role against the local AWS.

``tests/infra/test_isolation.py`` judges the rendered policies with an evaluator; here the
same question is asked of the local AWS with IAM enforcement on (docs/local-iam.md). The
account stack is applied as the admin (after ``bootstrap``), each environment's resources
are made by the admin under the names and tags the stacks give them (no environment stack
is applied: that would cost minutes), and each environment's role, assumed from the admin
with ``sts:AssumeRole``, reads and writes every environment's. Its own it may; another's
it may not: HTTP 403, the error code of the service's protocol, a message naming the
action and the role.

Two things are shared by design (infrastructure/account/shared.tf and iam.tf): every role
reads every environment's deployment records (promotion reads the previous environment's
history) and the artifacts bucket, and only the release publisher (dev) writes releases.

Then the network and tagging cases of the policy review: another environment's VPC (its
subnets, security groups, route tables, endpoints, NAT), its HTTP API and its log groups,
and the default security groups the network module adopts; and, for each, that a role
still builds its own (what its stack's apply needs).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from smartstack.aws.target import AwsTarget, operator_session, target_for
from smartstack.core.config import Settings
from smartstack.core.naming import (
    DEFAULT_PROJECT,
    artifacts_bucket_name,
    environment_key_alias,
    lock_table_name,
    resource_name,
    role_name,
    state_bucket_name,
    state_key,
)
from smartstack.infra.stack import apply_stack
from smartstack.infra.stack_inputs import ensure_db_password
from smartstack.infra.state_backend import bootstrap
from smartstack.local import platform
from smartstack.local.iam.evaluator import NodeEvaluator, Question
from smartstack.pipeline.ledger import deployments_table

ENVS = ("dev", "staging", "prod")
PUBLISHER = "dev"  # var.release_publisher of the account stack: main deploys to dev
RETENTION = {"dev": 7, "staging": 14, "prod": 30}  # infrastructure/configs/<env>.tfvars
VPC_CIDRS = {"dev": "10.10.0.0/16", "staging": "10.20.0.0/16", "prod": "10.30.0.0/16"}
ZONE = "us-east-1a"
REFUSAL_CODES = {"s3": "AccessDenied", "sqs": "AccessDenied", "ec2": "UnauthorizedOperation"}
RELEASE_KEY = "releases/live-isolation/manifest.json"


# ================================ the estate =================================================


def stack_tags(env: str, **extra: str) -> dict[str, str]:
    """The provider's default_tags of an environment stack, and the resource's own."""
    return {"Project": DEFAULT_PROJECT, "Environment": env, "ManagedBy": "opentofu", **extra}


def tag_list(tags: dict[str, str]) -> Any:  # list[TagTypeDef], for every service's stubs
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_spec(kind: str, tags: dict[str, str]) -> Any:
    return [{"ResourceType": kind, "Tags": tag_list(tags)}]


def state_body(env: str) -> bytes:
    return json.dumps({"version": 4, "serial": 1, "lineage": f"live-isolation-{env}"}).encode()


def function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@dataclass
class Live:
    """The local AWS with the account stack applied and every environment's resources."""

    admin: AwsTarget
    roles: dict[str, AwsTarget]  # env -> a session of smartstack-<env>-role
    passwords: dict[str, str]  # env -> /smartstack/<env>/db-password
    ciphertexts: dict[str, bytes]  # env -> a ciphertext of its key
    key_arns: dict[str, str]
    queue_urls: dict[str, str]

    @property
    def account(self) -> str:
        return self.admin.account_id()

    @property
    def region(self) -> str:
        return self.admin.region

    @property
    def state_bucket(self) -> str:
        return state_bucket_name(self.account, self.region)

    @property
    def artifacts_bucket(self) -> str:
        return artifacts_bucket_name(self.account, self.region)

    def lock_id(self, env: str) -> str:
        return f"{self.state_bucket}/{state_key(env)}-md5"

    def log_group_arn(self, name: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}"

    def exec_role_arn(self, env: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{resource_name(env, 'api')}-exec"


def function_log_group(env: str) -> str:
    return f"/aws/lambda/{resource_name(env, 'api')}"


def access_log_group(env: str) -> str:
    return f"/aws/apigateway/{resource_name(env, 'api')}"


def _make_environment(admin: AwsTarget, env: str) -> tuple[str, bytes, str, str]:
    """What an applied environment stack has, made by the admin: (password, ciphertext,
    key ARN, queue URL)."""
    account, tags = admin.account_id(), stack_tags(env)
    key_arn = admin.client("kms").describe_key(KeyId=environment_key_alias(env))["KeyMetadata"][
        "Arn"
    ]
    bucket = state_bucket_name(account, admin.region)
    admin.client("s3").put_object(Bucket=bucket, Key=state_key(env), Body=state_body(env))
    admin.client("dynamodb").put_item(
        TableName=lock_table_name(),
        Item={
            "LockID": {"S": f"{bucket}/{state_key(env)}-md5"},
            "Digest": {"S": hashlib.md5(state_body(env)).hexdigest()},
        },
    )
    ssm = admin.client("ssm")
    parameter = ensure_db_password(admin, env, DEFAULT_PROJECT)
    password = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    ciphertext = admin.client("kms").encrypt(KeyId=key_arn, Plaintext=env.encode())[
        "CiphertextBlob"
    ]

    exec_role = f"{resource_name(env, 'api')}-exec"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = admin.client("iam").create_role(
        RoleName=exec_role,
        AssumeRolePolicyDocument=json.dumps(trust),
        PermissionsBoundary=f"arn:aws:iam::{account}:policy/{resource_name(env, 'boundary')}",
        Tags=tag_list(tags),
    )["Role"]["Arn"]
    lam = admin.client("lambda")
    lam.create_function(
        FunctionName=resource_name(env, "api"),
        Runtime="python3.12",
        Role=role_arn,
        Handler="index.handler",
        Code={"ZipFile": function_zip()},
        Publish=True,
        Tags=tags,
    )
    lam.create_alias(FunctionName=resource_name(env, "api"), Name="live", FunctionVersion="1")

    queue_url = admin.client("sqs").create_queue(
        QueueName=resource_name(env, "ai-jobs"),
        Attributes={"KmsMasterKeyId": key_arn, "KmsDataKeyReusePeriodSeconds": "300"},
        tags=tags,
    )["QueueUrl"]

    logs = admin.client("logs")
    for group in (function_log_group(env), access_log_group(env)):
        logs.create_log_group(logGroupName=group, kmsKeyId=key_arn, tags=tags)
        logs.put_retention_policy(logGroupName=group, retentionInDays=RETENTION[env])

    admin.client("dynamodb").put_item(TableName=deployments_table(), Item=ledger_item(env))
    return password, ciphertext, key_arn, queue_url


def ledger_item(env: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"env#{env}"},
        "sk": {"S": "deploy#2026-01-01T00:00:00.000+00:00#live-isolation"},
        "outcome": {"S": "succeeded"},
    }


@pytest.fixture(scope="module")
def live(running_platform: Settings) -> Live:
    """Bootstrap, the account stack, every environment's resources and a session per role."""
    platform.moto_server(running_platform).reset()
    admin = target_for(running_platform)
    bootstrap(admin, ENVS)
    apply_stack(running_platform, "account", admin)
    admin.client("s3").put_object(
        Bucket=artifacts_bucket_name(admin.account_id(), admin.region),
        Key=RELEASE_KEY,
        Body=b'{"release": "live-isolation"}',
        IfNoneMatch="*",  # the bucket is write-once under releases/, for the admin too
    )
    made = {env: _make_environment(admin, env) for env in ENVS}
    roles = {
        env: admin.assume_role(
            f"arn:aws:iam::{admin.account_id()}:role/{role_name(env)}", f"live-isolation-{env}"
        )
        for env in ENVS
    }
    return Live(
        admin=admin,
        roles=roles,
        passwords={env: made[env][0] for env in ENVS},
        ciphertexts={env: made[env][1] for env in ENVS},
        key_arns={env: made[env][2] for env in ENVS},
        queue_urls={env: made[env][3] for env in ENVS},
    )


def assert_refused(error: ClientError, service: str, action: str, role: str) -> None:
    """HTTP 403, the protocol's code, and AWS's message naming the role and the action."""
    answer = error.response
    message = str(answer.get("Error", {}).get("Message", ""))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 403, answer.get("Error")
    code = REFUSAL_CODES.get(service, "AccessDeniedException")
    assert answer["Error"]["Code"] == code, answer["Error"]
    assert f"assumed-role/{role_name(role)}/" in message, message
    assert f"is not authorized to perform: {action} on resource: " in message, message


def refused(service: str, action: str, role: str, request: Callable[[], Any]) -> str:
    """Make ``request``; it must be refused as ``action``. Returns the message."""
    with pytest.raises(ClientError) as caught:
        request()
    assert_refused(caught.value, service, action, role)
    return str(caught.value.response["Error"]["Message"])


# ================================ the matrix =================================================

Request = Callable[[Any, Live, str], None]  # (a client of the role, the estate, target env)


@dataclass(frozen=True)
class Probe:
    resource: str
    access: str  # read or write
    service: str
    action: str  # what a refusal names
    request: Request
    everyone_reads: bool = False  # every role may read every environment's (by design)

    def allowed(self, role: str, target: str) -> bool:
        return role == target or (self.everyone_reads and self.access == "read")


def _read_state(s3: Any, live: Live, env: str) -> None:
    body = s3.get_object(Bucket=live.state_bucket, Key=state_key(env))["Body"].read()
    assert body == state_body(env)


def _write_state(s3: Any, live: Live, env: str) -> None:
    s3.put_object(Bucket=live.state_bucket, Key=state_key(env), Body=state_body(env))


def _read_lock(ddb: Any, live: Live, env: str) -> None:
    item = ddb.get_item(TableName=lock_table_name(), Key={"LockID": {"S": live.lock_id(env)}})
    assert item["Item"]["Digest"]["S"] == hashlib.md5(state_body(env)).hexdigest()


def _write_lock(ddb: Any, live: Live, env: str) -> None:
    digest = hashlib.md5(state_body(env)).hexdigest()
    ddb.put_item(
        TableName=lock_table_name(),
        Item={"LockID": {"S": live.lock_id(env)}, "Digest": {"S": digest}},
    )


def _read_parameter(ssm: Any, live: Live, env: str) -> None:
    name = f"/smartstack/{env}/db-password"
    value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert value == live.passwords[env]


def _write_parameter(ssm: Any, live: Live, env: str) -> None:
    ssm.put_parameter(
        Name=f"/smartstack/{env}/db-password",
        Value=live.passwords[env],
        Type="SecureString",
        KeyId=environment_key_alias(env),
        Overwrite=True,
    )


def _read_key(kms: Any, live: Live, env: str) -> None:
    plain = kms.decrypt(CiphertextBlob=live.ciphertexts[env], KeyId=live.key_arns[env])
    assert plain["Plaintext"] == env.encode()


def _write_key(kms: Any, live: Live, env: str) -> None:
    kms.encrypt(KeyId=live.key_arns[env], Plaintext=b"live isolation")


def _read_function(lam: Any, live: Live, env: str) -> None:
    config = lam.get_function_configuration(FunctionName=resource_name(env, "api"))
    assert config["FunctionName"] == resource_name(env, "api")


def _write_function(lam: Any, live: Live, env: str) -> None:
    lam.update_function_configuration(
        FunctionName=resource_name(env, "api"), Description=f"SmartStack {env} HTTP API."
    )


def _read_alias(lam: Any, live: Live, env: str) -> None:
    alias = lam.get_alias(FunctionName=resource_name(env, "api"), Name="live")
    assert alias["FunctionVersion"] == "1"


def _write_alias(lam: Any, live: Live, env: str) -> None:
    lam.update_alias(FunctionName=resource_name(env, "api"), Name="live", FunctionVersion="1")


def _read_queue(sqs: Any, live: Live, env: str) -> None:
    attributes = sqs.get_queue_attributes(
        QueueUrl=live.queue_urls[env], AttributeNames=["QueueArn"]
    )["Attributes"]
    assert attributes["QueueArn"].endswith(f":{resource_name(env, 'ai-jobs')}")


def _write_queue(sqs: Any, live: Live, env: str) -> None:
    sqs.set_queue_attributes(QueueUrl=live.queue_urls[env], Attributes={"DelaySeconds": "0"})


def _read_logs(group: Callable[[str], str]) -> Request:
    def read(logs: Any, live: Live, env: str) -> None:
        logs.filter_log_events(logGroupName=group(env), limit=1)

    return read


def _write_logs(group: Callable[[str], str]) -> Request:
    def write(logs: Any, live: Live, env: str) -> None:
        logs.put_retention_policy(logGroupName=group(env), retentionInDays=RETENTION[env])

    return write


def _read_ledger(ddb: Any, live: Live, env: str) -> None:
    items = ddb.query(
        TableName=deployments_table(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"env#{env}"}},
    )["Items"]
    assert ledger_item(env) in items


def _write_ledger(ddb: Any, live: Live, env: str) -> None:
    ddb.put_item(TableName=deployments_table(), Item=ledger_item(env))


PROBES = (
    Probe("state-object", "read", "s3", "s3:GetObject", _read_state),
    Probe("state-object", "write", "s3", "s3:PutObject", _write_state),
    Probe("lock-item", "read", "dynamodb", "dynamodb:GetItem", _read_lock),
    Probe("lock-item", "write", "dynamodb", "dynamodb:PutItem", _write_lock),
    Probe("parameter", "read", "ssm", "ssm:GetParameter", _read_parameter),
    Probe("parameter", "write", "ssm", "ssm:PutParameter", _write_parameter),
    Probe("kms-key", "read", "kms", "kms:Decrypt", _read_key),
    Probe("kms-key", "write", "kms", "kms:Encrypt", _write_key),
    Probe("function", "read", "lambda", "lambda:GetFunctionConfiguration", _read_function),
    Probe("function", "write", "lambda", "lambda:UpdateFunctionConfiguration", _write_function),
    Probe("alias", "read", "lambda", "lambda:GetAlias", _read_alias),
    Probe("alias", "write", "lambda", "lambda:UpdateAlias", _write_alias),
    Probe("queue", "read", "sqs", "sqs:GetQueueAttributes", _read_queue),
    Probe("queue", "write", "sqs", "sqs:SetQueueAttributes", _write_queue),
    Probe("function-log-group", "read", "logs", "logs:FilterLogEvents",
          _read_logs(function_log_group)),
    Probe("function-log-group", "write", "logs", "logs:PutRetentionPolicy",
          _write_logs(function_log_group)),
    Probe("access-log-group", "read", "logs", "logs:FilterLogEvents",
          _read_logs(access_log_group)),
    Probe("access-log-group", "write", "logs", "logs:PutRetentionPolicy",
          _write_logs(access_log_group)),
    Probe("deployment-records", "read", "dynamodb", "dynamodb:Query", _read_ledger,
          everyone_reads=True),
    Probe("deployment-records", "write", "dynamodb", "dynamodb:PutItem", _write_ledger),
)  # fmt: skip

MATRIX = [
    pytest.param(role, target, probe, id=f"{role}-role/{target}-{probe.resource}/{probe.access}")
    for role in ENVS
    for target in ENVS
    for probe in PROBES
]


@pytest.mark.parametrize(("role", "target", "probe"), MATRIX)
def test_each_role_reaches_only_its_own_environment(
    live: Live, role: str, target: str, probe: Probe
) -> None:
    client = live.roles[role].client(probe.service)  # type: ignore[call-overload]
    if probe.allowed(role, target):
        probe.request(client, live, target)
    else:
        refused(probe.service, probe.action, role, lambda: probe.request(client, live, target))


def _read_release(s3: Any, live: Live) -> None:
    body = s3.get_object(Bucket=live.artifacts_bucket, Key=RELEASE_KEY)["Body"].read()
    assert json.loads(body) == {"release": "live-isolation"}


def _publish_release(s3: Any, live: Live) -> None:
    key = f"releases/live-isolation-{uuid.uuid4().hex[:8]}/manifest.json"
    s3.put_object(Bucket=live.artifacts_bucket, Key=key, Body=b"{}", IfNoneMatch="*")


@pytest.mark.parametrize("role", ENVS)
@pytest.mark.parametrize(
    ("access", "action", "request_"),
    [("read", "s3:GetObject", _read_release), ("write", "s3:PutObject", _publish_release)],
    ids=["read", "write"],
)
def test_every_role_reads_the_artifacts_and_only_the_publisher_writes_them(
    live: Live, role: str, access: str, action: str, request_: Callable[[Any, Live], None]
) -> None:
    s3 = live.roles[role].client("s3")
    if access == "read" or role == PUBLISHER:
        request_(s3, live)
    else:
        refused("s3", action, role, lambda: request_(s3, live))


@pytest.mark.parametrize("role", ENVS)
def test_no_role_overwrites_a_published_release(live: Live, role: str) -> None:
    """Write-once is the bucket policy's: a write without If-None-Match is refused whoever
    sends it, the publisher too, and with it S3 refuses the existing key."""
    s3 = live.roles[role].client("s3")
    put = functools.partial(
        s3.put_object, Bucket=live.artifacts_bucket, Key=RELEASE_KEY, Body=b'{"release": "x"}'
    )
    refused("s3", "s3:PutObject", role, put)
    with pytest.raises(ClientError) as conditional:
        put(IfNoneMatch="*")
    code = conditional.value.response["Error"]["Code"]
    assert code == ("PreconditionFailed" if role == PUBLISHER else "AccessDenied")
    _read_release(s3, live)


# ================================ the network ================================================


@dataclass(frozen=True)
class Network:
    """One environment's network as infrastructure/modules/networking makes it."""

    env: str
    vpc: str
    public_subnet: str
    private_subnet: str
    private_route_table: str
    lambda_group: str
    default_group: str


def default_group_of(ec2: Any, vpc: str) -> str:
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    return str(groups[0]["GroupId"])


def _make_network(ec2: Any, env: str) -> Network:
    prefix, cidr = f"{DEFAULT_PROJECT}-{env}", VPC_CIDRS[env]
    base = cidr.split(".")[:2]
    vpc = ec2.create_vpc(
        CidrBlock=cidr, TagSpecifications=tag_spec("vpc", stack_tags(env, Name=f"{prefix}-vpc"))
    )["Vpc"]["VpcId"]
    default = default_group_of(ec2, vpc)  # adopted untagged, as the network module does
    _close(ec2, default)
    subnets = {}
    for tier, third in (("public", 0), ("private", 128)):
        subnets[tier] = ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=f"{base[0]}.{base[1]}.{third}.0/20",
            AvailabilityZone=ZONE,
            TagSpecifications=tag_spec(
                "subnet", stack_tags(env, Name=f"{prefix}-{tier}-{ZONE}", Tier=tier)
            ),
        )["Subnet"]["SubnetId"]
    route_table = ec2.create_route_table(
        VpcId=vpc,
        TagSpecifications=tag_spec("route-table", stack_tags(env, Name=f"{prefix}-private-{ZONE}")),
    )["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=route_table, SubnetId=subnets["private"])
    lambda_group = ec2.create_security_group(
        GroupName=f"{prefix}-lambda",
        Description="SmartStack functions in the VPC: outbound HTTPS and PostgreSQL only.",
        VpcId=vpc,
        TagSpecifications=tag_spec("security-group", stack_tags(env, Name=f"{prefix}-lambda")),
    )["GroupId"]
    return Network(
        env, vpc, subnets["public"], subnets["private"], route_table, lambda_group, default
    )


@pytest.fixture(scope="module")
def networks(live: Live) -> dict[str, Network]:
    ec2 = live.admin.client("ec2")
    return {env: _make_network(ec2, env) for env in ("dev", "prod")}


def suffix() -> str:
    return uuid.uuid4().hex[:8]


# --- (a) a function in another environment's subnets or security groups --------------------
# Not refused: CreateFunction and UpdateFunctionConfiguration are authorized on the
# function's name, and their lambda:SubnetIds / lambda:SecurityGroupIds hold IDs the account
# stack cannot name (the environment stacks make the subnets and groups). What stops it on
# AWS is the network interfaces Lambda makes as the execution role, under the environment's
# boundary (asked of the evaluator below: the local AWS does not make them).


def test_a_role_puts_its_function_into_its_own_network(
    live: Live, networks: dict[str, Network]
) -> None:
    own = networks["dev"]
    live.roles["dev"].client("lambda").create_function(
        FunctionName=resource_name("dev", f"vpc-{suffix()}"),
        Runtime="python3.12",
        Role=live.exec_role_arn("dev"),
        Handler="index.handler",
        Code={"ZipFile": function_zip()},
        VpcConfig={"SubnetIds": [own.private_subnet], "SecurityGroupIds": [own.lambda_group]},
        Tags=stack_tags("dev"),
    )


def _boundary_allows_interface(live: Live, env: str, resource: str, tags: dict[str, str]) -> bool:
    """Whether ``env``'s execution roles may make a network interface in ``resource``: the
    role's own policy allows it anywhere (its role may write any), its boundary decides."""
    iam = live.admin.client("iam")
    arn = f"arn:aws:iam::{live.admin.account_id()}:policy/{resource_name(env, 'boundary')}"
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    boundary = document["Document"]  # moto answers it URL-encoded, AWS decoded
    if isinstance(boundary, str):
        boundary = json.loads(unquote(boundary))
    anything = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:CreateNetworkInterface", "Resource": "*"}]}  # fmt: skip
    role = f"arn:aws:iam::{live.admin.account_id()}:role/{resource_name(env, 'api')}"
    evaluator = NodeEvaluator()
    try:
        decision = evaluator.decide(
            Question(
                principal=f"arn:aws:sts::{live.admin.account_id()}:assumed-role/{role.split('/')[-1]}/fn",
                action="ec2:CreateNetworkInterface",
                resource=resource,
                account_id=live.admin.account_id(),
                context={f"aws:ResourceTag/{k}": v for k, v in tags.items()},
                identity_policies=[json.dumps(anything)],
                permission_boundaries=[json.dumps(boundary)],
            )
        )
    finally:
        evaluator.close()
    return decision.allowed


@pytest.mark.parametrize("kind", ["subnet", "security-group"])
def test_a_role_s_functions_get_network_interfaces_only_in_its_own_network(
    live: Live, networks: dict[str, Network], kind: str
) -> None:
    """Attaching a dev function to prod's subnets and security groups is not refused
    (above); on AWS Lambda makes the function's network interfaces as its execution role,
    and every dev execution role carries dev's boundary, which allows them only in what
    is tagged for dev."""
    ec2 = live.admin.client("ec2")
    for env in ("dev", "prod"):
        network = networks[env]
        resource_id = network.private_subnet if kind == "subnet" else network.lambda_group
        tags = {t["Key"]: t["Value"] for t in ec2.describe_tags(
            Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]}  # fmt: skip
        arn = f"arn:aws:ec2:{live.admin.region}:{live.admin.account_id()}:{kind}/{resource_id}"
        assert _boundary_allows_interface(live, "dev", arn, tags) is (env == "dev"), env


# --- (b) subnets, security groups, route tables, endpoints, NAT in another environment's VPC --


def _create_subnet(ec2: Any, network: Network, env: str) -> Any:
    base = VPC_CIDRS[network.env].split(".")[:2]
    return ec2.create_subnet(
        VpcId=network.vpc,
        CidrBlock=f"{base[0]}.{base[1]}.240.0/24",
        AvailabilityZone=ZONE,
        TagSpecifications=tag_spec("subnet", stack_tags(env, Name=f"smartstack-{env}-extra")),
    )


def _create_security_group(ec2: Any, network: Network, env: str) -> Any:
    return ec2.create_security_group(
        GroupName=f"smartstack-{env}-extra-{suffix()}",
        Description="live isolation",
        VpcId=network.vpc,
        TagSpecifications=tag_spec(
            "security-group", stack_tags(env, Name=f"smartstack-{env}-extra")
        ),
    )


def _create_route_table(ec2: Any, network: Network, env: str) -> Any:
    return ec2.create_route_table(
        VpcId=network.vpc,
        TagSpecifications=tag_spec("route-table", stack_tags(env, Name=f"smartstack-{env}-extra")),
    )


def _create_gateway_endpoint(ec2: Any, network: Network, env: str) -> Any:
    return ec2.create_vpc_endpoint(
        VpcId=network.vpc,
        ServiceName="com.amazonaws.us-east-1.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[network.private_route_table],
        TagSpecifications=tag_spec("vpc-endpoint", stack_tags(env, Name=f"smartstack-{env}-s3")),
    )


def _create_interface_endpoint(ec2: Any, network: Network, env: str) -> Any:
    return ec2.create_vpc_endpoint(
        VpcId=network.vpc,
        ServiceName="com.amazonaws.us-east-1.ssm",
        VpcEndpointType="Interface",
        SubnetIds=[network.private_subnet],
        SecurityGroupIds=[network.lambda_group],
        TagSpecifications=tag_spec("vpc-endpoint", stack_tags(env, Name=f"smartstack-{env}-ssm")),
    )


def _create_nat_gateway(ec2: Any, network: Network, env: str) -> Any:
    tags = stack_tags(env, Name=f"smartstack-{env}-nat-{ZONE}")
    address = ec2.allocate_address(Domain="vpc", TagSpecifications=tag_spec("elastic-ip", tags))
    allocation = address["AllocationId"]
    return ec2.create_nat_gateway(
        SubnetId=network.public_subnet,
        AllocationId=allocation,
        TagSpecifications=tag_spec("natgateway", tags),
    )


NETWORK_CREATES = [
    pytest.param("ec2:CreateSubnet", _create_subnet, id="subnet"),
    pytest.param("ec2:CreateSecurityGroup", _create_security_group, id="security-group"),
    pytest.param("ec2:CreateRouteTable", _create_route_table, id="route-table"),
    pytest.param("ec2:CreateVpcEndpoint", _create_gateway_endpoint, id="gateway-endpoint"),
    pytest.param("ec2:CreateVpcEndpoint", _create_interface_endpoint, id="interface-endpoint"),
    pytest.param("ec2:CreateNatGateway", _create_nat_gateway, id="nat-gateway"),
]


@pytest.mark.parametrize(("action", "create"), NETWORK_CREATES)
def test_a_role_builds_in_its_own_vpc(
    live: Live, networks: dict[str, Network], action: str, create: Callable[..., Any]
) -> None:
    create(live.roles["dev"].client("ec2"), networks["dev"], "dev")


@pytest.mark.parametrize(("action", "create"), NETWORK_CREATES)
def test_a_role_cannot_build_in_another_environments_vpc(
    live: Live, networks: dict[str, Network], action: str, create: Callable[..., Any]
) -> None:
    ec2 = live.roles["dev"].client("ec2")
    refused("ec2", action, "dev", lambda: create(ec2, networks["prod"], "dev"))


# --- (c) tagging another environment's HTTP API or log groups for oneself -------------------


@pytest.fixture
def prod_api(live: Live) -> Iterator[str]:
    """prod's HTTP API and its stage, access logs to prod's access log group, as compute
    makes them; deleted after the test."""
    gateway = live.admin.client("apigatewayv2")
    api = gateway.create_api(
        Name=resource_name("prod", "api"), ProtocolType="HTTP", Tags=stack_tags("prod")
    )["ApiId"]
    gateway.create_stage(
        ApiId=api,
        StageName="$default",
        AutoDeploy=True,
        AccessLogSettings={
            "DestinationArn": live.log_group_arn(access_log_group("prod")),
            "Format": '{"requestId": "$context.requestId"}',
        },
        Tags=stack_tags("prod"),
    )
    yield api
    gateway.delete_api(ApiId=api)


def api_arn(live: Live, api: str, path: str = "") -> str:
    return f"arn:aws:apigateway:{live.region}::/apis/{api}{path}"


@pytest.mark.parametrize("path", ["", "/stages/$default"], ids=["api", "stage"])
def test_a_role_cannot_tag_another_environments_http_api_for_itself(
    live: Live, prod_api: str, path: str
) -> None:
    gateway = live.roles["dev"].client("apigatewayv2")
    refused("apigatewayv2", "apigateway:POST", "dev", lambda: gateway.tag_resource(
        ResourceArn=api_arn(live, prod_api, path), Tags={"Environment": "dev"}
    ))  # fmt: skip
    refused("apigatewayv2", "apigateway:GET", "dev", lambda: gateway.get_api(ApiId=prod_api))


def test_a_role_cannot_redirect_another_environments_access_logs(live: Live, prod_api: str) -> None:
    gateway = live.roles["dev"].client("apigatewayv2")
    refused("apigatewayv2", "apigateway:PATCH", "dev", lambda: gateway.update_stage(
        ApiId=prod_api,
        StageName="$default",
        AccessLogSettings={
            "DestinationArn": live.log_group_arn(access_log_group("dev")),
            "Format": '{"requestId": "$context.requestId"}',
        },
    ))  # fmt: skip


def test_a_role_creates_tags_and_deletes_its_own_http_api(live: Live) -> None:
    gateway = live.roles["dev"].client("apigatewayv2")
    api = gateway.create_api(
        Name=resource_name("dev", "api"), ProtocolType="HTTP", Tags=stack_tags("dev")
    )["ApiId"]
    gateway.tag_resource(ResourceArn=api_arn(live, api), Tags={"Name": "smartstack-dev-api"})
    assert gateway.get_api(ApiId=api)["Tags"]["Name"] == "smartstack-dev-api"
    gateway.delete_api(ApiId=api)


def _tag_resource(logs: Any, live: Live, group: str) -> None:
    logs.tag_resource(resourceArn=live.log_group_arn(group), tags={"Environment": "dev"})


def _tag_log_group(logs: Any, live: Live, group: str) -> None:
    logs.tag_log_group(logGroupName=group, tags={"Environment": "dev"})


@pytest.mark.parametrize("group", [function_log_group("prod"), access_log_group("prod")])
@pytest.mark.parametrize(
    ("action", "tag"),
    [("logs:TagResource", _tag_resource), ("logs:TagLogGroup", _tag_log_group)],
    ids=["TagResource", "TagLogGroup"],
)
def test_a_role_cannot_tag_another_environments_log_group_for_itself(
    live: Live, group: str, action: str, tag: Callable[[Any, Live, str], None]
) -> None:
    logs = live.roles["dev"].client("logs")
    refused("logs", action, "dev", lambda: tag(logs, live, group))
    refused("logs", "logs:FilterLogEvents", "dev", lambda: logs.filter_log_events(
        logGroupName=group, limit=1
    ))  # fmt: skip


# --- (d) the default security groups the network module adopts ------------------------------
# EC2 makes a VPC's default group untagged, and IAM cannot tell which VPC it belongs to
# (ec2:Vpc is an ARN holding an ID the account stack cannot know). So no role may tag an
# untagged group (a claim would make it that environment's, and could be another VPC's);
# the network module adopts its default group untagged, and a role may only close a group
# that carries no Environment tag: revoke its rules, never add one, never delete it.


def _adopt_default_group(ec2: Any, cidr: str) -> str:
    """What the network module does as the role: create the VPC and strip its default
    group's rules (aws_default_security_group, through a provider without default tags).
    Returns the group."""
    vpc = ec2.create_vpc(
        CidrBlock=cidr,
        TagSpecifications=tag_spec("vpc", stack_tags("dev", Name="smartstack-dev-vpc")),
    )["Vpc"]["VpcId"]
    group = default_group_of(ec2, vpc)
    _close(ec2, group)
    return group


def _close(ec2: Any, group: str) -> None:
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    if rules["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(GroupId=group, IpPermissions=rules["IpPermissionsEgress"])
    if rules["IpPermissions"]:
        ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=rules["IpPermissions"])


def test_a_role_adopts_the_default_security_group_of_its_own_vpc(live: Live) -> None:
    ec2 = live.roles["dev"].client("ec2")
    group = _adopt_default_group(ec2, "10.11.0.0/16")
    adopted = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert adopted["IpPermissions"] == adopted["IpPermissionsEgress"] == []
    assert not adopted.get("Tags")


@pytest.mark.parametrize("whose", ["prod", "the default VPC"])
def test_no_role_claims_an_untagged_security_group(
    live: Live, networks: dict[str, Network], whose: str
) -> None:
    """Not even under the name and tags the network module once gave its default group:
    claimed first, another VPC's default group would be dev's, and its own stack's
    adoption refused."""
    ec2 = live.roles["dev"].client("ec2")
    if whose == "prod":
        group = networks["prod"].default_group
    else:
        default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])
        group = default_group_of(ec2, default_vpc["Vpcs"][0]["VpcId"])
    for tags in (
        tag_list(stack_tags("dev", Name=f"{DEFAULT_PROJECT}-dev-default-unused")),
        tag_list(stack_tags("dev")),
        tag_list({"Name": "mine"}),
    ):
        refused("ec2", "ec2:CreateTags", "dev", lambda tags=tags: ec2.create_tags(
            Resources=[group], Tags=tags
        ))  # fmt: skip


def test_an_untagged_security_group_can_be_closed_never_opened(
    live: Live, networks: dict[str, Network]
) -> None:
    """Another environment's default group included: closing it takes nothing from
    anyone (the stacks use no default group), and its own stack still adopts it."""
    dev = live.roles["dev"].client("ec2")
    group = networks["prod"].default_group
    anywhere: Any = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    refused("ec2", "ec2:AuthorizeSecurityGroupIngress", "dev", lambda: (
        dev.authorize_security_group_ingress(GroupId=group, IpPermissions=anywhere)
    ))  # fmt: skip
    refused("ec2", "ec2:AuthorizeSecurityGroupEgress", "dev", lambda: (
        dev.authorize_security_group_egress(GroupId=group, IpPermissions=anywhere)
    ))  # fmt: skip
    refused("ec2", "ec2:DeleteSecurityGroup", "dev", lambda: dev.delete_security_group(
        GroupId=group
    ))  # fmt: skip
    for closer in (dev, live.roles["prod"].client("ec2")):  # another environment, then its own
        live.admin.client("ec2").authorize_security_group_egress(
            GroupId=group, IpPermissions=anywhere
        )
        _close(closer, group)
        closed = dev.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
        assert closed["IpPermissions"] == closed["IpPermissionsEgress"] == []


# --- (e) an administrator's session of an environment role ----------------------------------


def test_an_administrator_who_is_an_iam_user_acts_in_an_environment_only_as_themselves(
    live: Live,
) -> None:
    """The roles' trust requires an IAM user's session to be named after them and carry
    their user name as its source identity: not none, not another's, not under another
    name; nor may their session rename itself by assuming the role again."""
    iam, carol = live.admin.client("iam"), f"carol-{suffix()}"
    iam.create_user(UserName=carol)
    everything = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}  # fmt: skip
    iam.put_user_policy(UserName=carol, PolicyName="admin", PolicyDocument=json.dumps(everything))
    key = iam.create_access_key(UserName=carol)["AccessKey"]
    variables = {k: v for k, v in live.admin.variables.items() if not k.startswith("AWS_SESS")}
    variables.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"],
                     AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])  # fmt: skip
    as_carol = AwsTarget(variables)
    arn = f"arn:aws:iam::{live.account}:role/{role_name('dev')}"
    for name, claimed in (
        ("alice", {}),
        ("alice", {"SourceIdentity": "alice"}),
        ("alice", {"SourceIdentity": carol}),
        (carol, {}),
    ):
        with pytest.raises(ClientError) as refused:
            as_carol.client("sts").assume_role(RoleArn=arn, RoleSessionName=name, **claimed)
        assert refused.value.response["Error"]["Code"] == "AccessDenied", (name, claimed)
    session = operator_session(as_carol, arn, "dev")
    assert session.caller_arn().endswith(f":assumed-role/{role_name('dev')}/{carol}")
    session.client("ssm").describe_parameters()  # and it acts as the role

    # Through a role of her own, which may do anything: her source identity goes with her.
    tools = iam.create_role(
        RoleName=f"{carol}-tools",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{live.account}:root"},
             "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}]}),
    )["Role"]["Arn"]  # fmt: skip
    iam.put_role_policy(RoleName=f"{carol}-tools", PolicyName="admin",
                        PolicyDocument=json.dumps(everything))  # fmt: skip
    chained = as_carol.assume_role(tools, carol, source_identity=carol)
    with pytest.raises(ClientError) as renamed:
        chained.assume_role(arn, "alice")
    assert renamed.value.response["Error"]["Code"] == "AccessDenied"
