"""What a GitHub Actions job of an environment holds: an OIDC token of the local issuer.

The CLI trades it for the environment's role (``SMARTSTACK_WEB_IDENTITY_TOKEN_FILE``,
``AssumeRoleWithWebIdentity``), as the deploy workflow's jobs do with GitHub's token.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

from smartstack.core.config import Settings
from smartstack.core.tfvars import read_tfvars
from smartstack.local import platform
from tests.conftest import ROOT

GITHUB_REPOSITORY = str(
    read_tfvars(ROOT / "infrastructure/account/account.tfvars")["github_repository"]
)


def job_settings(settings: Settings, tokens: Path, env: str, **claims: str) -> Settings:
    """The settings of a job in GitHub environment ``env``, with a fresh token in ``tokens``
    (``claims`` override the job's, e.g. ``event="pull_request"``)."""
    issuer = platform.moto_server(settings).oidc_issuer()
    token = tokens / f"{env}-{uuid.uuid4().hex[:8]}.jwt"
    token.write_text(issuer.github_job(GITHUB_REPOSITORY, environment=env, **claims))
    return replace(settings, web_identity_token_file=token)
