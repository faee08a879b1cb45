"""The promotion's guarantees attacked as an attacker would, with their own credentials
against the local AWS (IAM enforced): what was approved is exactly what runs in prod,
approved by a person other than its deployer, and the ledger shows tampering.

Each test is a scenario of issue 13; each failed on the code before its fix.  Refusals
by the local AWS are expected here: they are the attacker's.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from smartstack.aws.environment import open_environment
from smartstack.aws.target import AwsTarget, environment_target
from smartstack.core.naming import DEFAULT_PROJECT, artifacts_bucket_name
from smartstack.local import platform
from smartstack.pipeline.deploy import deploy
from smartstack.pipeline.gates import GateError
from smartstack.pipeline.ledger import deployments_table
from smartstack.release.store import load_release, manifest_key
from tests.pipeline.world import (
    Pipeline,
    approver,
    loosened_checkout,
    role_session,
    withdraw_approvals,
)


def _bucket(pipeline: Pipeline) -> str:
    return artifacts_bucket_name(pipeline.target.account_id(), pipeline.target.region)


def _as_role(pipeline: Pipeline, env: str) -> AwsTarget:
    """The target of ``env``'s GitHub job: that environment's role."""
    return environment_target(pipeline.job(env), env)


def _denied(call: object) -> str:
    assert isinstance(call, ClientError), f"the attacker's request went through: {call!r}"
    code = call.response["Error"]["Code"]
    assert code in ("AccessDenied", "AccessDeniedException"), call
    return code


def _try(fn: object, **kwargs: object) -> object:
    try:
        return fn(**kwargs)  # type: ignore[operator]
    except ClientError as exc:
        return exc


def test_the_dev_role_cannot_overwrite_a_published_manifest_or_artifact(
    pipeline: Pipeline,
) -> None:
    """Releases are write-once by the bucket's policy, not by our client's courtesy."""
    s3 = _as_role(pipeline, "dev").client("s3")
    bucket, release = _bucket(pipeline), pipeline.good
    forged = json.loads(
        s3.get_object(Bucket=bucket, Key=manifest_key(release.release))["Body"].read()
    )
    forged["artifacts"]["api"] = json.loads(pipeline.broken.to_json())["artifacts"]["api"]
    body = json.dumps(forged).encode()
    _denied(_try(s3.put_object, Bucket=bucket, Key=manifest_key(release.release), Body=body))
    artifact = release.artifact("api").key
    _denied(_try(s3.put_object, Bucket=bucket, Key=artifact, Body=b"evil"))
    # The conditional write the pipeline itself uses is refused too: the key exists.
    again = _try(s3.put_object, Bucket=bucket, Key=artifact, Body=b"evil", IfNoneMatch="*")
    assert isinstance(again, ClientError), again
    published = s3.get_object(Bucket=bucket, Key=manifest_key(release.release))["Body"].read()
    assert (
        json.loads(published)["artifacts"]["api"]
        == json.loads(release.to_json())["artifacts"]["api"]
    )


def test_a_manifest_replaced_after_approval_is_refused_by_staging_and_prod(
    pipeline: Pipeline, staging_live: None
) -> None:
    """Someone who may delete objects replaces a release's manifest after it passed staging
    and was approved: the deploys compare its digest with the one that passed and was
    approved, and refuse it."""
    release = pipeline.good.release
    alice = approver(pipeline, "alice")
    assert pipeline.cli("approve", "prod", release, env=alice).exit_code == 0
    s3, bucket, key = pipeline.target.client("s3"), _bucket(pipeline), manifest_key(release)
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    forged = json.loads(original)
    forged["artifacts"]["api"] = json.loads(pipeline.broken.to_json())["artifacts"]["api"]
    s3.delete_object(Bucket=bucket, Key=key)  # a delete marker: the key is free again
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(forged).encode(), IfNoneMatch="*")
    try:
        for env in ("prod", "staging"):
            with pytest.raises(GateError, match="changed after it passed"):
                deploy(pipeline.open(env), release)
    finally:
        s3.delete_object(Bucket=bucket, Key=key)
        s3.put_object(Bucket=bucket, Key=key, Body=original, IfNoneMatch="*")
        withdraw_approvals(pipeline, "prod")


def test_the_prod_deploy_role_cannot_approve_its_own_deploy(
    pipeline: Pipeline, staging_live: None
) -> None:
    release = pipeline.good.release
    withdraw_approvals(pipeline, "prod")
    ddb = _as_role(pipeline, "prod").client("dynamodb")
    forged = {"pk": {"S": "approvals#prod#bob"}, "sk": {"S": f"approval#2026-11-30#{release}"},
              "release": {"S": release}, "approver": {"S": "arn:aws:iam::1:user/bob"}}  # fmt: skip
    _denied(_try(ddb.put_item, TableName=deployments_table(DEFAULT_PROJECT), Item=forged))
    refused = pipeline.cli("approve", "prod", release, env=pipeline.job_env("prod"))
    assert refused.exit_code == 2, refused.stdout
    with pytest.raises(GateError, match="needs an approval"):
        deploy(pipeline.open("prod"), release)


@pytest.mark.parametrize("who", ["a second session name", "a bot"])
def test_approvals_come_from_a_person_not_a_role_session(
    pipeline: Pipeline, staging_live: None, who: str
) -> None:
    """The staging deployer with a session named after someone else, and a pipeline job's
    session, are refused by `approve`; the deploy then still needs an approval."""
    release = pipeline.good.release
    withdraw_approvals(pipeline, "prod")
    if who == "a second session name":  # the staging deployer, as an administrator
        env = role_session(pipeline, "alice")
    else:  # the staging job's own credentials, as a workflow step could use them
        env = role_session(pipeline, "github-actions-bot", "staging")
    refused = pipeline.cli("approve", "prod", release, env=env)
    assert refused.exit_code == 2, refused.stdout
    assert "approvals come from a person" in refused.stderr
    with pytest.raises(GateError, match="needs an approval"):
        deploy(pipeline.open("prod"), release)


@pytest.mark.parametrize(
    "claims",
    [{"ref": "refs/heads/mallory"}, {"workflow": ".github/workflows/forge.yml"}],
    ids=["the workflow of a branch", "another workflow on main"],
)
def test_a_dev_success_cannot_be_forged_from_outside_main_s_deploy_workflow(
    pipeline: Pipeline, claims: dict[str, str]
) -> None:
    """A job of environment dev that is not main's deploy workflow gets no dev role, so it
    cannot write the dev success that staging's gate reads."""
    job = platform.github_job(pipeline.settings, "dev", pipeline.tokens, **claims)
    with pytest.raises(ClientError) as refused:
        environment_target(job, "dev")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "sts:AssumeRoleWithWebIdentity" in refused.value.response["Error"]["Message"]


def test_an_approver_cannot_approve_in_another_s_name(
    pipeline: Pipeline, staging_live: None
) -> None:
    """Mallory, an approver, writes an approval item herself: in Bob's partition she is
    refused by IAM; in her own, naming Bob, the gate does not count it."""
    release = pipeline.good.release
    withdraw_approvals(pipeline, "prod")
    approver(pipeline, "mallory")  # her user, in the approvers group
    keys = pipeline.target.client("iam").create_access_key(UserName="mallory")["AccessKey"]
    ddb = AwsTarget(
        dict(
            pipeline.target.variables,
            AWS_ACCESS_KEY_ID=keys["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
        )
    ).client("dynamodb")
    account = pipeline.target.account_id()
    sha = load_release(pipeline.target, _bucket(pipeline), release).sha256
    for partition in ("approvals#prod#bob", "approvals#prod#mallory"):
        item = {"pk": {"S": partition}, "sk": {"S": f"approval#2026-11-30T00:00:00#{release}"},
                "release": {"S": release}, "manifest_sha256": {"S": sha},
                "approver": {"S": f"arn:aws:iam::{account}:user/bob"},
                "at": {"S": "2026-11-30T00:00:00"}}  # fmt: skip
        table = deployments_table(DEFAULT_PROJECT)
        if partition.endswith("#bob"):
            _denied(_try(ddb.put_item, TableName=table, Item=item))
        else:
            ddb.put_item(TableName=table, Item=item)  # her own partition: IAM allows it
    try:
        with pytest.raises(GateError, match="needs an approval"):
            deploy(pipeline.open("prod"), release)
    finally:
        withdraw_approvals(pipeline, "prod")


def test_prod_obeys_the_release_s_gates_not_the_checkout_s(
    pipeline: Pipeline, staging_live: None, tmp_path: Path
) -> None:
    """A checkout whose prod.tfvars drops the approval does not drop it."""
    release = pipeline.good.release
    withdraw_approvals(pipeline, "prod")
    checkout = loosened_checkout(tmp_path, "require_approval")
    settings = replace(pipeline.job("prod"), root=checkout)
    with pytest.raises(GateError, match="needs an approval"):
        deploy(open_environment(settings, "prod"), release)


def test_approve_obeys_the_release_s_gates_not_the_checkout_s(
    pipeline: Pipeline, staging_live: None, tmp_path: Path
) -> None:
    """The staging deployer, as an approver, approves prod from a checkout whose
    prod.tfvars drops approver_must_differ: `approve` refuses it at once, as the deploy
    would (before, it was accepted and only the deploy refused it)."""
    release = pipeline.good.release
    withdraw_approvals(pipeline, "prod")
    deployer = pipeline.ledger().succeeded("staging", release)[0].who.rsplit("/", 1)[-1]
    checkout = loosened_checkout(tmp_path, "approver_must_differ")
    env = dict(approver(pipeline, deployer), SMARTSTACK_ROOT=str(checkout))
    refused = pipeline.cli("approve", "prod", release, env=env)
    try:
        assert refused.exit_code == 2, refused.stdout
        assert f"{deployer} deployed {release} to staging" in refused.stderr
    finally:
        withdraw_approvals(pipeline, "prod")


def test_verify_ledger_names_an_edited_item(pipeline: Pipeline, dev_live: None) -> None:
    ledger = pipeline.ledger()
    newest = ledger.history("dev", limit=1)[0]
    sk = f"deploy#{newest.started}#{newest.attempt_id}"
    table = deployments_table(DEFAULT_PROJECT)
    ddb = pipeline.target.client("dynamodb")
    ok = pipeline.cli("verify-ledger", "dev")
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "env#dev"}, "sk": {"S": sk}},
        UpdateExpression="SET who = :w",
        ExpressionAttributeValues={":w": {"S": "arn:aws:iam::1:user/mallory"}},
    )
    try:
        broken = pipeline.cli("verify-ledger", "dev")
        assert broken.exit_code == 1, broken.stdout + broken.stderr
        assert sk in broken.stderr
        status = pipeline.cli("status")
        assert "ledger" in status.stderr and "dev" in status.stderr
    finally:
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "env#dev"}, "sk": {"S": sk}},
            UpdateExpression="SET who = :w",
            ExpressionAttributeValues={":w": {"S": newest.who}},
        )
    assert pipeline.cli("verify-ledger", "dev").exit_code == 0
