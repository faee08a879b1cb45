"""The use-cases against the local AWS: each command's normal and bad-input paths."""

from __future__ import annotations

import dataclasses
import json
import stat
import sys
from pathlib import Path

import pytest

from smartstack.aws.environment import open_environment
from smartstack.aws.target import AwsTarget
from smartstack.core.config import Settings
from smartstack.core.errors import CommandFailedError, NotRunningError, UsageError
from smartstack.core.naming import environment_key_alias
from smartstack.core.redact import MASK, Redactor
from smartstack.secrets import service
from smartstack.secrets.errors import (
    CancelledError,
    InvalidKeyError,
    KmsKeyMissingError,
    SecretNotFoundError,
)
from smartstack.secrets.formats import Format
from tests.secrets.secrets_helpers import make_store, seed


def test_set_then_get_records_version_author_and_description(platform: Settings) -> None:
    r = Redactor()
    change = service.set_secret(
        open_environment(platform, "dev", r), "api-token", "first-secret", "the db"
    )
    assert (change.key, change.version) == ("api-token", 1)
    service.set_secret(open_environment(platform, "dev", r), "api-token", "second-secret", None)
    meta, value = service.get_secret(open_environment(platform, "dev", r), "api-token", False)
    assert value is None
    assert (meta.version, meta.description) == (2, "the db")
    assert meta.modified_by == service.open_store(open_environment(platform, "dev", r)).caller()
    assert meta.modified_by.startswith("arn:aws:")
    _, revealed = service.get_secret(open_environment(platform, "dev", r), "api-token", True)
    assert revealed is not None and revealed.value == "second-secret"


def test_set_registers_the_value_even_when_it_is_refused(platform: Settings) -> None:
    r = Redactor()
    with pytest.raises(InvalidKeyError):
        service.set_secret(open_environment(platform, "dev", r), "../prod/x", "refused-value", None)
    assert r.redact("refused-value") == MASK


def test_unknown_environment_is_a_usage_error(platform: Settings) -> None:
    with pytest.raises(UsageError, match="unknown environment 'qa'"):
        service.list_secrets(open_environment(platform, "qa", Redactor()))


def test_bad_keys_are_refused_before_any_aws_call(
    running_platform: Settings, tmp_path: Path
) -> None:
    """With no local AWS reachable at all, a bad key still fails as a bad key."""
    offline = dataclasses.replace(running_platform, state_dir=tmp_path)
    with pytest.raises(NotRunningError):
        service.get_secret(open_environment(offline, "dev", Redactor()), "api-token", False)
    for key in ("../prod/jwt-secret", "/smartstack/prod/jwt-secret", "x/../../prod/y"):
        with pytest.raises(InvalidKeyError):
            service.set_secret(
                open_environment(offline, "dev", Redactor()), key, "some-value", None
            )
        with pytest.raises(InvalidKeyError):
            service.get_secret(open_environment(offline, "dev", Redactor()), key, True)


def test_dev_cannot_touch_prod_whatever_the_key(platform: Settings, aws: AwsTarget) -> None:
    seed(make_store(aws, "prod", Redactor()), {"jwt-secret": "prod-jwt-value"})
    for key in ("../prod/jwt-secret", "..%2Fprod%2Fjwt-secret", "jwt-secret/../../prod/x"):
        with pytest.raises(InvalidKeyError):
            service.set_secret(
                open_environment(platform, "dev", Redactor()), key, "overwrite-attempt", None
            )
    service.set_secret(
        open_environment(platform, "dev", Redactor()), "jwt-secret", "dev-jwt-value", None
    )
    prod = make_store(aws, "prod", Redactor()).read_all()
    assert {k: v.value for k, v in prod.items()} == {"jwt-secret": "prod-jwt-value"}


def test_set_without_the_kms_key_fails_clearly_and_writes_nothing(
    running_platform: Settings, aws: AwsTarget
) -> None:
    with pytest.raises(KmsKeyMissingError, match="alias/smartstack-dev"):
        service.set_secret(
            open_environment(running_platform, "dev", Redactor()), "api-token", "no-key-yet", None
        )
    assert service.list_secrets(open_environment(running_platform, "dev", Redactor())) == []


def test_list_and_history(platform: Settings) -> None:
    r = Redactor()
    for key, value in (("b-key", "value-b-1"), ("a-key", "value-a-1"), ("b-key", "value-b-2")):
        service.set_secret(open_environment(platform, "dev", r), key, value, None)
    listed = service.list_secrets(open_environment(platform, "dev", r))
    assert [(m.key, m.version) for m in listed] == [("a-key", 1), ("b-key", 2)]
    history = service.secret_history(open_environment(platform, "dev", r), "b-key")
    assert [h.version for h in history] == [1, 2]
    assert history[-1].modified_by.startswith("arn:aws:")  # the caller, from our tag
    with pytest.raises(SecretNotFoundError):
        service.secret_history(open_environment(platform, "dev", r), "c-key")


def test_delete_asks_and_honours_the_answer(platform: Settings) -> None:
    r = Redactor()
    service.set_secret(open_environment(platform, "dev", r), "api-token", "to-be-deleted", None)
    questions: list[str] = []
    with pytest.raises(CancelledError):
        service.delete_secret(
            open_environment(platform, "dev", r),
            "api-token",
            lambda q: questions.append(q) is not None,
        )
    assert questions == ["delete api-token (version 1) from dev?"]
    assert [m.key for m in service.list_secrets(open_environment(platform, "dev", r))] == [
        "api-token"
    ]
    change = service.delete_secret(
        open_environment(platform, "dev", r), "api-token", lambda _: True
    )
    assert change.action == "deleted"
    assert service.list_secrets(open_environment(platform, "dev", r)) == []
    with pytest.raises(SecretNotFoundError):
        service.delete_secret(open_environment(platform, "dev", r), "api-token", lambda _: True)


def test_diff_reports_promotion_blockers_by_key_only(platform: Settings) -> None:
    r = Redactor()
    for env, key in (
        ("dev", "shared"),
        ("staging", "shared"),
        ("dev", "new-in-dev"),
        ("staging", "old-in-staging"),
    ):
        service.set_secret(open_environment(platform, env, r), key, f"value-of-{env}-{key}", None)
    diff = service.diff_environments(
        open_environment(platform, "dev", r), open_environment(platform, "staging", r)
    )
    assert diff.only_in_a == ("new-in-dev",)
    assert (diff.only_in_b, diff.in_both) == (("old-in-staging",), 1)
    with pytest.raises(UsageError):
        service.diff_environments(
            open_environment(platform, "dev", r), open_environment(platform, "nope", r)
        )


def test_export_to_a_private_file(platform: Settings, tmp_path: Path) -> None:
    r = Redactor()
    service.set_secret(open_environment(platform, "dev", r), "api-token", "exported-secret", None)
    target = tmp_path / "dev.json"
    result, _ = service.export_secrets(open_environment(platform, "dev", r), Format.JSON, target)
    assert result.count == 1
    assert json.loads(target.read_text()) == {"api-token": "exported-secret"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_export_target_must_be_chosen(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--output FILE"):
        service.check_export_target("dev", None, False, False)
    with pytest.raises(UsageError, match="not both"):
        service.check_export_target("dev", tmp_path / "x", True, False)
    (tmp_path / "x").write_text("old")
    with pytest.raises(UsageError, match="--force"):
        service.check_export_target("dev", tmp_path / "x", False, False)
    service.check_export_target("dev", tmp_path / "x", False, True)


def test_exec_passes_secrets_to_the_child_as_variables(platform: Settings, tmp_path: Path) -> None:
    r = Redactor()
    service.set_secret(open_environment(platform, "dev", r), "api-token", "child-only-value", None)
    service.set_secret(open_environment(platform, "dev", r), "api2-key", "child-api-value", None)
    out = tmp_path / "env.json"
    script = f"import json, os; json.dump(dict(os.environ), open({str(out)!r}, 'w'))"
    warnings: list[str] = []
    code = service.exec_with_secrets(
        open_environment(platform, "dev", r), [sys.executable, "-c", script], warnings.append
    )
    assert code == 0
    child = json.loads(out.read_text())
    assert child["API_TOKEN"] == "child-only-value"
    assert child["API2_KEY"] == "child-api-value"
    assert warnings == []


def test_exec_returns_the_child_status_and_refuses_bad_commands(platform: Settings) -> None:
    r = Redactor()
    assert (
        service.exec_with_secrets(
            open_environment(platform, "dev", r), [sys.executable, "-c", "exit(7)"], print
        )
        == 7
    )
    with pytest.raises(UsageError, match="no command given"):
        service.exec_with_secrets(open_environment(platform, "dev", r), [], print)
    with pytest.raises(CommandFailedError, match="cannot run 'no-such-command-xyz'"):
        service.exec_with_secrets(
            open_environment(platform, "dev", r), ["no-such-command-xyz"], print
        )


def test_child_environment_warns_when_a_secret_replaces_a_variable() -> None:
    warnings: list[str] = []
    env = service.child_environment(
        {"user": "secret-user"}, {"USER": "root", "X": "1"}, warnings.append
    )
    assert env == {"USER": "secret-user", "X": "1"}
    assert warnings == ["USER is set in the calling environment; the secret user replaces it."]


def _dev_role(admin: AwsTarget) -> None:
    """smartstack-dev-role with what the account stack grants it over dev's secrets (the
    local AWS enforces IAM: a session of a role that does not exist is refused)."""
    account, region = admin.account_id(), admin.region
    key = admin.client("kms").describe_key(KeyId=environment_key_alias("dev"))["KeyMetadata"]
    parameters = f"arn:aws:ssm:{region}:{account}:parameter/smartstack/dev"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters",
         "ssm:GetParametersByPath", "ssm:GetParameterHistory", "ssm:PutParameter",
         "ssm:DeleteParameter", "ssm:ListTagsForResource", "ssm:AddTagsToResource"],
         "Resource": [parameters, f"{parameters}/*"]},
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey",
         "kms:DescribeKey"], "Resource": key["Arn"]},
        {"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"},
    ]}  # fmt: skip
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}  # fmt: skip
    iam = admin.client("iam")
    iam.create_role(RoleName="smartstack-dev-role", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="smartstack-dev-role", PolicyName="secrets", PolicyDocument=json.dumps(policy)
    )


def test_with_roles_enabled_commands_act_as_the_environment_role(
    platform: Settings, kms_aliases: AwsTarget
) -> None:
    """SMARTSTACK_ASSUME_ROLES=1: the change is recorded as made by smartstack-dev-role."""
    _dev_role(kms_aliases)
    with_roles = dataclasses.replace(platform, assume_roles=True)
    r = Redactor()
    service.set_secret(
        open_environment(with_roles, "dev", r), "api-token", "set-through-role", None
    )
    meta, _ = service.get_secret(open_environment(with_roles, "dev", r), "api-token", False)
    assert ":assumed-role/smartstack-dev-role/" in meta.modified_by


def test_an_export_file_that_is_a_symlink_is_refused_and_its_target_untouched(
    tmp_path: Path,
) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("someone else's file\n")
    link = tmp_path / "secrets.env"
    link.symlink_to(target)

    with pytest.raises(UsageError, match="is a symbolic link"):
        service.write_private(link, "API_TOKEN=hunter22\n")

    assert target.read_text() == "someone else's file\n"
