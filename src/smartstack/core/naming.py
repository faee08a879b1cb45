"""The one place that turns environments and services into AWS names.

ADR-007 fixes ``smartstack-{env}-{service}`` for resources and
``/smartstack/{env}/{key}`` for parameters.  Everything that builds a name goes
through here, so a name is validated the same way wherever it is made.
"""

from __future__ import annotations

import re

from smartstack.core.errors import UsageError

DEFAULT_PROJECT = "smartstack"
ACCOUNT_STACK = "account"

_ENV_RE = re.compile(r"^[a-z][a-z0-9]{1,15}$")
# The account stack's own names are <project>-<word>-…: an environment with such a word for
# its name would make resources its role's <project>-<env>-* grants reach (the state bucket,
# the lock table, the artifacts bucket, the ledger, the pipeline key).
RESERVED_ENVIRONMENT_NAMES = frozenset(
    {ACCOUNT_STACK, "tfstate", "artifacts", "approvers", "deployments", "pipeline"}
)
_SERVICE_RE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")


def check_environment_name(env: str) -> str:
    """Reject names that could not be an environment in any configuration."""
    if not _ENV_RE.fullmatch(env):
        raise UsageError(
            f"'{env}' is not a valid environment name: use 2-16 lowercase letters or digits, "
            "starting with a letter (e.g. dev, staging, prod)."
        )
    if env in RESERVED_ENVIRONMENT_NAMES:
        raise UsageError(
            f"'{env}' is not a valid environment name: the account's own resources are named "
            f"with it ({', '.join(sorted(RESERVED_ENVIRONMENT_NAMES))} are taken); pick another."
        )
    return env


def resource_name(env: str, service: str, project: str = DEFAULT_PROJECT) -> str:
    """``smartstack-{env}-{service}``, e.g. ``smartstack-dev-api``."""
    check_environment_name(env)
    if not _SERVICE_RE.fullmatch(service):
        raise UsageError(
            f"'{service}' is not a valid service name: use lowercase letters, digits and '-', "
            "2-40 characters, starting with a letter."
        )
    return f"{project}-{env}-{service}"


def parameter_prefix(env: str, project: str = DEFAULT_PROJECT) -> str:
    """The Parameter Store path an environment owns, with a trailing slash."""
    return f"/{project}/{check_environment_name(env)}/"


def state_key(stack_env: str) -> str:
    """The S3 key of a stack's state: ``env/<env>/terraform.tfstate`` or the account key."""
    if stack_env == ACCOUNT_STACK:
        return f"{ACCOUNT_STACK}/terraform.tfstate"
    return f"env/{check_environment_name(stack_env)}/terraform.tfstate"


def state_bucket_name(account_id: str, region: str, project: str = DEFAULT_PROJECT) -> str:
    """Account-level, so not per environment; account and region make it globally unique."""
    return f"{project}-tfstate-{account_id}-{region}"


def lock_table_name(project: str = DEFAULT_PROJECT) -> str:
    return f"{project}-tfstate-lock"


def state_key_alias(project: str = DEFAULT_PROJECT) -> str:
    return f"alias/{project}-tfstate"


def role_name(env: str, project: str = DEFAULT_PROJECT) -> str:
    """The environment's IAM role: ``smartstack-{env}-role`` (ADR-007)."""
    return f"{project}-{check_environment_name(env)}-role"


def environment_key_alias(env: str, project: str = DEFAULT_PROJECT) -> str:
    """The environment's customer-managed KMS key (made by the account stack)."""
    return f"alias/{project}-{check_environment_name(env)}"


def artifacts_bucket_name(account_id: str, region: str, project: str = DEFAULT_PROJECT) -> str:
    """The pipeline's artifacts bucket (account stack): one per account and region."""
    return f"{project}-artifacts-{account_id}-{region}"


_IAM_USER = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:user/(?:[^/]+/)*([\w+=,.@-]+)$")


def person_of(arn: str) -> str | None:
    """The IAM user name of an IAM user's ARN; None for anything else (a role session's name
    is whatever its caller chose)."""
    found = _IAM_USER.match(arn)
    return found.group(1) if found else None
