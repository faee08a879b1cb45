"""The isolation matrix and the real IAM evaluator, on hand-written policies.

These prove the checker itself can fail: a policy that leaks across
environments must show up as wrong cells in the matrix.
"""

from __future__ import annotations

from typing import Any

import pytest

from smartstack.infra.isolation import AccountFacts, IamSimulateEvaluator, evaluate, render_matrix
from tests.conftest import ROOT

ENVS = ("dev", "staging", "prod")
FACTS = AccountFacts(
    account_id="123456789012",
    region="us-east-1",
    state_bucket="smartstack-tfstate-123456789012-us-east-1",
    lock_table="smartstack-tfstate-lock",
    kms_key_policies={
        e: {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
        for e in ENVS
    },
    kms_key_arns={
        e: f"arn:aws:kms:us-east-1:123456789012:key/{i}1111111-2222-3333-4444-555555555555"
        for i, e in enumerate(ENVS)
    },
)


def scoped_policy(env: str, parameter_glob: str | None = None) -> dict[str, Any]:
    acct, region, bucket = FACTS.account_id, FACTS.region, FACTS.state_bucket
    ssm = f"arn:aws:ssm:{region}:{acct}:parameter"
    logs = f"arn:aws:logs:{region}:{acct}:log-group"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:PutParameter"],
                "Resource": f"{ssm}/smartstack/{parameter_glob or env}/*",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"arn:aws:s3:::{bucket}/env/{env}/terraform.tfstate",
            },
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": f"arn:aws:dynamodb:{region}:{acct}:table/{FACTS.lock_table}",
                "Condition": {
                    "ForAllValues:StringLike": {
                        "dynamodb:LeadingKeys": [f"{bucket}/env/{env}/terraform.tfstate*"]
                    }
                },
            },
            {
                "Effect": "Allow",
                "Action": ["logs:FilterLogEvents", "logs:PutRetentionPolicy"],
                "Resource": f"{logs}:/aws/lambda/smartstack-{env}-*",
            },
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt"],
                "Resource": FACTS.kms_key_arns[env],
            },
        ],
    }


@pytest.fixture(scope="module")
def evaluator() -> IamSimulateEvaluator:
    return IamSimulateEvaluator(ROOT / "tools" / "iam-simulate")


def test_scoped_policies_pass_the_whole_matrix(evaluator: IamSimulateEvaluator) -> None:
    outcomes = evaluate(evaluator, FACTS, ENVS, {e: [scoped_policy(e)] for e in ENVS})
    print(render_matrix(outcomes))
    assert len(outcomes) == 3 * 3 * 10
    assert [o for o in outcomes if not o.correct] == []


def test_a_leaky_parameter_path_is_caught(evaluator: IamSimulateEvaluator) -> None:
    policies = {e: [scoped_policy(e)] for e in ENVS}
    policies["dev"] = [scoped_policy("dev", parameter_glob="*")]
    wrong = [o for o in evaluate(evaluator, FACTS, ENVS, policies) if not o.correct]
    assert {(o.case.role_env, o.case.target_env, o.case.probe.kind) for o in wrong} == {
        ("dev", "staging", "parameters"),
        ("dev", "prod", "parameters"),
    }
    assert all(o.decision == "Allowed" for o in wrong)
