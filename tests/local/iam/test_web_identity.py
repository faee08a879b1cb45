"""sts:AssumeRoleWithWebIdentity as GitHub Actions jobs use it, against the enforced local AWS.

The tokens come from the local OIDC issuer (keys it generates, GitHub's issuer URL); the
provider and the trust policies are shaped as the account stack makes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from smartstack.local.moto import MotoServer
from smartstack.local.oidc import GITHUB_ISSUER, STS_AUDIENCE, LocalOidcIssuer
from tests.local.iam.conftest import ACCOUNT, REGION, session

Client = Callable[[str], Any]
REPO = "acme/smartstack"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


def _trust(environment: str, **more: str) -> str:
    conditions = {
        "token.actions.githubusercontent.com:aud": STS_AUDIENCE,
        "token.actions.githubusercontent.com:sub": f"repo:{REPO}:environment:{environment}",
        **{f"token.actions.githubusercontent.com:{k}": v for k, v in more.items()},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": PROVIDER}, "Condition": {"StringEquals": conditions},
    }]})  # fmt: skip


@pytest.fixture
def github(moto: MotoServer, admin: Client) -> LocalOidcIssuer:
    """GitHub's OIDC provider in the account, roles for dev and prod, the local issuer."""
    iam = admin("iam")
    iam.create_open_id_connect_provider(
        Url=GITHUB_ISSUER, ClientIDList=[STS_AUDIENCE], ThumbprintList=["0" * 40]
    )
    for env in ("dev", "prod"):
        iam.create_role(RoleName=f"smartstack-{env}-role", AssumeRolePolicyDocument=_trust(env))
    return moto.oidc_issuer()


def _assume(moto: MotoServer, role: str, token: str) -> dict[str, Any]:
    sts = boto3.client(  # no credentials: the token is the caller
        "sts", region_name=REGION, endpoint_url=moto.url, config=Config(signature_version=UNSIGNED)
    )
    return sts.assume_role_with_web_identity(  # type: ignore[no-any-return]
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="gha", WebIdentityToken=token
    )


def _refused(moto: MotoServer, role: str, token: str) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        _assume(moto, role, token)
    error = caught.value.response
    return (
        error["ResponseMetadata"]["HTTPStatusCode"],
        error["Error"]["Code"],
        error["Error"]["Message"],
    )


def test_an_environment_job_assumes_its_environment_s_role(
    moto: MotoServer, github: LocalOidcIssuer
) -> None:
    token = github.github_job(REPO, environment="dev")
    credentials = _assume(moto, "smartstack-dev-role", token)["Credentials"]
    job = session(
        moto,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    arn = job("sts").get_caller_identity()["Arn"]
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/smartstack-dev-role/gha"


def test_a_dev_job_cannot_assume_the_prod_role(moto: MotoServer, github: LocalOidcIssuer) -> None:
    token = github.github_job(REPO, environment="dev")
    assert _refused(moto, "smartstack-prod-role", token) == (
        403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    )  # fmt: skip


@pytest.mark.parametrize("role", ["smartstack-dev-role", "smartstack-prod-role"])
def test_a_pull_request_s_job_assumes_no_role(
    moto: MotoServer, github: LocalOidcIssuer, role: str
) -> None:
    token = github.github_job(REPO, event="pull_request", ref="refs/pull/7/merge")
    assert _refused(moto, role, token)[:2] == (403, "AccessDenied")


def test_another_repository_s_job_assumes_no_role(
    moto: MotoServer, github: LocalOidcIssuer
) -> None:
    token = github.github_job("mallory/smartstack", environment="dev")
    assert _refused(moto, "smartstack-dev-role", token)[:2] == (403, "AccessDenied")


def test_a_token_signed_with_another_key_is_refused(
    moto: MotoServer, github: LocalOidcIssuer, tmp_path: Path
) -> None:
    github.github_job(REPO, environment="dev")  # the trusted key exists
    forged = LocalOidcIssuer(tmp_path).github_job(REPO, environment="dev")  # same claims
    assert _refused(moto, "smartstack-dev-role", forged)[:2] == (400, "InvalidIdentityToken")


def test_a_token_whose_claims_were_changed_is_refused(
    moto: MotoServer, github: LocalOidcIssuer
) -> None:
    import base64

    head, body, signature = github.github_job(REPO, environment="dev").split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = f"repo:{REPO}:environment:prod"
    changed = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    refused = _refused(moto, "smartstack-prod-role", f"{head}.{changed}.{signature}")
    assert refused[:2] == (400, "InvalidIdentityToken")


def test_an_expired_token_is_refused(moto: MotoServer, github: LocalOidcIssuer) -> None:
    token = github.github_job(REPO, environment="dev", lifetime=-1)
    status, code, message = _refused(moto, "smartstack-dev-role", token)
    assert (status, code) == (400, "ExpiredTokenException")
    assert message.startswith("Token expired")


def test_a_token_for_another_audience_is_refused(moto: MotoServer, github: LocalOidcIssuer) -> None:
    token = github.github_job(REPO, environment="dev", audience="https://github.com/acme")
    assert _refused(moto, "smartstack-dev-role", token) == (
        400, "InvalidIdentityToken", "Incorrect token audience"
    )  # fmt: skip


def test_an_issuer_without_a_provider_in_the_account_is_refused(
    moto: MotoServer, github: LocalOidcIssuer
) -> None:
    token = moto.oidc_issuer("https://issuer.invalid").token(
        {"sub": f"repo:{REPO}:environment:dev", "aud": STS_AUDIENCE}
    )
    status, code, message = _refused(moto, "smartstack-dev-role", token)
    assert (status, code) == (400, "InvalidIdentityToken")
    assert message == "No OpenIDConnect provider found in your account for https://issuer.invalid"


def test_the_workflow_claim_reaches_the_trust_policy(
    moto: MotoServer, github: LocalOidcIssuer, admin: Client
) -> None:
    main_deploy = f"{REPO}/.github/workflows/deploy.yml@refs/heads/main"
    admin("iam").update_assume_role_policy(
        RoleName="smartstack-dev-role", PolicyDocument=_trust("dev", job_workflow_ref=main_deploy)
    )
    other = github.github_job(REPO, environment="dev", workflow=".github/workflows/other.yml")
    assert _refused(moto, "smartstack-dev-role", other)[:2] == (403, "AccessDenied")
    token = github.github_job(REPO, environment="dev")
    assert _assume(moto, "smartstack-dev-role", token)["AssumedRoleUser"]["Arn"].endswith("/gha")
