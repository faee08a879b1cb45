"""``sts:AssumeRoleWithWebIdentity``: the request is unsigned; its token is the caller.

STS trusts a token when the account has an IAM OIDC provider for the token's issuer, the
token is signed by one of the issuer's keys, is within its lifetime, and names one of the
provider's client IDs as its audience.  The caller is then the provider (the ``Federated``
principal of a trust policy) and the token's claims are condition keys named after the
provider (``token.actions.githubusercontent.com:sub``, ``…:aud``, ``…:job_workflow_ref``).

The issuer's keys are those the local OIDC issuer published in the server's state
directory (:mod:`smartstack.local.oidc`): STS on AWS fetches them from the issuer, which
nothing here can reach.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from smartstack.local.iam import DEFAULT_ACCOUNT
from smartstack.local.iam.principals import Principal
from smartstack.local.iam.requests import AwsRequest
from smartstack.local.iam.world import World
from smartstack.local.oidc import TokenRejected, trusted_keys, unverified_claims, verify

# The claims a trust policy may test, as ``<provider>:<claim>`` (IAM's generic OIDC keys,
# and those the authorization reference lists for GitHub's issuer).
CLAIM_KEYS = (
    "aud", "sub", "amr", "actor", "actor_id", "enterprise_id", "environment",
    "job_workflow_ref", "ref", "repository", "repository_id", "repository_owner_id", "workflow",
)  # fmt: skip
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"


def federated_principal(request: AwsRequest, state_dir: Path | None) -> Principal:
    """The provider that vouches for the request's token, with the token's claims as its
    context; :class:`TokenRejected` (STS's code and message) when the token is not trusted."""
    token = str(request.params.get("WebIdentityToken") or "")
    role_arn = str(request.params.get("RoleArn") or "")
    if not token or not role_arn:
        raise TokenRejected(
            "ValidationError", "AssumeRoleWithWebIdentity needs RoleArn and WebIdentityToken."
        )
    parts = role_arn.split(":")
    account = parts[4] if len(parts) > 5 and parts[4] else DEFAULT_ACCOUNT
    issuer = str(unverified_claims(token).get("iss") or "")
    split = urlsplit(issuer if "://" in issuer else f"https://{issuer}")
    url = split.netloc + split.path.rstrip("/")
    provider = World(account, request.region).oidc_provider(url)
    if provider is None:
        raise TokenRejected(
            "InvalidIdentityToken", f"No OpenIDConnect provider found in your account for {issuer}"
        )
    jwks = trusted_keys(state_dir).get(issuer) if state_dir else None
    if not jwks:
        raise TokenRejected(
            "InvalidIdentityToken",
            "Couldn't retrieve verification key from your identity provider, please reference "
            "AssumeRoleWithWebIdentity documentation for requirements",
        )
    claims = verify(token, jwks, list(provider.client_id_list))
    context: dict[str, str | list[str]] = {}
    for claim in CLAIM_KEYS:
        value = claims.get(claim)
        if isinstance(value, list):
            context[f"{url}:{claim}"] = [str(v) for v in value]
        elif value is not None:
            context[f"{url}:{claim}"] = str(value)
    arn = str(provider.arn)
    return Principal(
        arn=arn,
        kind="web-identity",
        account_id=account,
        principal_arn=arn,
        identity_policies=(),
        context=context,
    )
