"""An administrator's session of an environment role (SMARTSTACK_ASSUME_ROLES) names the
person: their IAM user name is its source identity, which they cannot drop by naming the
session otherwise, nor change by assuming another role from it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smartstack.aws.target import AwsTarget, operator_session
from smartstack.local.moto import MotoServer
from tests.local.iam.conftest import ACCOUNT, REGION, allow, policy

# As the account stack's Administrators statement: the account's principals, with tags and
# a source identity.
ADMINISTRATORS = policy(
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
     "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}
)  # fmt: skip


def _target(moto: MotoServer, key: dict[str, Any]) -> AwsTarget:
    return AwsTarget({
        "AWS_ENDPOINT_URL": moto.url, "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    })  # fmt: skip


def test_an_operator_s_session_carries_their_user_name_as_source_identity(
    moto: MotoServer, admin: Any, unique: str
) -> None:
    carol, role = f"carol-{unique}", f"smartstack-dev-role-{unique}"
    iam = admin("iam")
    iam.create_user(UserName=carol)
    iam.put_user_policy(UserName=carol, PolicyName="admin",
                        PolicyDocument=policy(allow("*", "*")))  # fmt: skip
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=ADMINISTRATORS)["Role"]["Arn"]
    only_carol = {"StringEquals": {"aws:SourceIdentity": carol}}
    iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=policy(
        allow("ssm:DescribeParameters", "*", Condition=only_carol),
        allow(["sts:AssumeRole", "sts:SetSourceIdentity"], arn),
    ))  # fmt: skip
    operator = _target(moto, iam.create_access_key(UserName=carol)["AccessKey"])

    session = operator_session(operator, arn, "dev")

    assert session.caller_arn() == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{carol}"
    session.client("ssm").describe_parameters()  # as carol: her source identity
    again = session.assume_role(arn, "smartstack-dev")  # renamed: still carol
    again.client("ssm").describe_parameters()
    with pytest.raises(ClientError) as refused:
        session.assume_role(arn, "alice", source_identity="alice")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert json.dumps(refused.value.response["Error"]["Message"]).count("source identity")
