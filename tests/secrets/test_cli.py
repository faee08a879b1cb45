"""``smartstack secrets ...`` in-process: exit codes, the JSON envelope, what is printed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from smartstack.aws.target import AwsTarget
from smartstack.core.errors import ExitCode
from tests.conftest import envelope

SECRET = "cli-test-secret-value"


@pytest.fixture
def kms(kms_aliases: AwsTarget) -> AwsTarget:
    return kms_aliases


def _set(cli: Any, env: str, key: str, value: str = SECRET, *extra: str) -> Any:
    return cli("--json", "secrets", "set", env, key, *extra, input=value + "\n")


def test_set_reads_stdin_and_reports_the_version(cli: Any, kms: AwsTarget) -> None:
    result = _set(cli, "dev", "api-token", SECRET, "--description", "primary db")
    assert result.exit_code == 0, result.stderr
    data = envelope(result)["data"]
    assert (data["key"], data["version"], data["action"]) == ("api-token", 1, "set")
    stored = kms.client("ssm").get_parameter(Name="/smartstack/dev/api-token", WithDecryption=True)[
        "Parameter"
    ]["Value"]
    assert stored == SECRET  # the trailing newline of stdin is not part of the value
    human = cli("secrets", "set", "dev", "api-token", input="next-value-123\n")
    assert human.stdout.strip() == "set dev/api-token: version 2"


def test_set_refuses_bad_keys_listing_the_allowed_characters(cli: Any, kms: AwsTarget) -> None:
    result = _set(cli, "dev", "../prod/api-token")
    assert result.exit_code == ExitCode.USAGE
    error = envelope(result)["errors"][0]
    assert error["code"] == "invalid_key"
    assert "lowercase letters a-z, digits 0-9 and '-'" in error["message"]
    human = cli("secrets", "set", "dev", "Bad_Key", input=SECRET)
    assert human.exit_code == ExitCode.USAGE
    assert human.stderr.count("\n") == 1 and human.stdout == ""


def test_set_into_an_unknown_environment_is_exit_2(cli: Any, kms: AwsTarget) -> None:
    result = _set(cli, "qa", "api-token")
    assert result.exit_code == ExitCode.USAGE
    assert "unknown environment 'qa'" in envelope(result)["errors"][0]["message"]


def test_set_without_the_kms_key_names_the_alias(cli: Any, aws: AwsTarget) -> None:
    result = cli("secrets", "set", "dev", "api-token", input=SECRET)
    assert result.exit_code == ExitCode.FAILED
    assert "alias/smartstack-dev" in result.stderr and "account stack" in result.stderr


def test_get_shows_metadata_and_reveals_only_when_asked(cli: Any, kms: AwsTarget) -> None:
    _set(cli, "dev", "api-token")
    shown = cli("secrets", "get", "dev", "api-token")
    assert shown.exit_code == 0
    assert "api-token" in shown.stdout and SECRET not in shown.stdout
    meta = envelope(cli("--json", "secrets", "get", "dev", "api-token"))["data"]
    assert meta["version"] == 1 and meta["modified_by"].startswith("arn:aws:")
    assert SECRET not in json.dumps(meta)
    revealed = cli("secrets", "get", "dev", "api-token", "--reveal")
    assert revealed.stdout == SECRET + "\n"
    as_json = envelope(cli("--json", "secrets", "get", "dev", "api-token", "--reveal"))
    assert as_json["data"]["value"] == SECRET
    missing = cli("secrets", "get", "dev", "nope")
    assert missing.exit_code == ExitCode.FAILED and "no secret 'nope'" in missing.stderr


def test_list_shows_keys_and_versions_only(cli: Any, kms: AwsTarget) -> None:
    _set(cli, "dev", "b-key", "value-of-b-key")
    _set(cli, "dev", "a-key", "value-of-a-key")
    _set(cli, "dev", "a-key", "value-of-a-key-2")
    result = cli("--json", "secrets", "list", "dev")
    rows = envelope(result)["data"]
    assert [(r["key"], r["version"]) for r in rows] == [("a-key", 2), ("b-key", 1)]
    assert "value-of" not in result.stdout
    human = cli("secrets", "list", "dev")
    assert "a-key" in human.stdout and "value-of" not in human.stdout
    assert cli("secrets", "list", "nope").exit_code == ExitCode.USAGE


def test_delete_confirms_unless_yes(cli: Any, kms: AwsTarget) -> None:
    _set(cli, "dev", "api-token")
    declined = cli("secrets", "delete", "dev", "api-token", input="n\n")
    assert declined.exit_code == ExitCode.FAILED and "nothing deleted" in declined.stderr
    no_terminal = cli("--json", "secrets", "delete", "dev", "api-token")
    assert envelope(no_terminal)["errors"][0]["code"] == "cancelled"
    accepted = cli("secrets", "delete", "dev", "api-token", input="y\n")
    assert accepted.exit_code == 0 and "deleted dev/api-token" in accepted.stdout
    _set(cli, "dev", "api-token")
    assert cli("secrets", "delete", "dev", "api-token", "--yes").exit_code == 0
    assert envelope(cli("--json", "secrets", "list", "dev"))["data"] == []
    assert cli("secrets", "delete", "dev", "../prod/x", "--yes").exit_code == ExitCode.USAGE


def test_history_lists_versions(cli: Any, kms: AwsTarget) -> None:
    for value in ("history-one", "history-two"):
        _set(cli, "dev", "api-token", value)
    result = cli("--json", "secrets", "history", "dev", "api-token")
    assert [v["version"] for v in envelope(result)["data"]] == [1, 2]
    assert "history-" not in result.stdout
    assert cli("secrets", "history", "dev", "x/y").exit_code == ExitCode.USAGE


def test_diff_names_missing_keys_and_exits_7(cli: Any, kms: AwsTarget) -> None:
    _set(cli, "dev", "shared-key")
    _set(cli, "staging", "shared-key")
    same = cli("secrets", "diff", "dev", "staging")
    assert same.exit_code == 0 and "missing in staging: none" in same.stdout
    _set(cli, "dev", "only-dev")
    result = cli("--json", "secrets", "diff", "dev", "staging")
    assert result.exit_code == ExitCode.DRIFT
    data = envelope(result)["data"]
    assert (data["only_in_a"], data["only_in_b"]) == (["only-dev"], [])
    assert SECRET not in result.stdout


def test_exec_gives_the_child_the_secrets(cli: Any, kms: AwsTarget, tmp_path: Path) -> None:
    _set(cli, "dev", "api-token")
    out = tmp_path / "child.json"
    script = f"import json, os; json.dump(dict(os.environ), open({str(out)!r}, 'w')); exit(3)"
    result = cli("secrets", "exec", "dev", "--", sys.executable, "-c", script)
    assert result.exit_code == 3, result.stderr
    assert json.loads(out.read_text())["API_TOKEN"] == SECRET
    assert SECRET not in result.stdout + result.stderr
    assert cli("secrets", "exec", "dev").exit_code == ExitCode.USAGE


def test_import_shows_the_plan_and_applies_with_yes(
    cli: Any, kms: AwsTarget, tmp_path: Path
) -> None:
    _set(cli, "dev", "kept-key", "kept-value-1")
    path = tmp_path / "dev.env"
    path.write_text("KEPT_KEY=kept-value-1\nNEW_KEY=new-value-1\n")
    declined = cli("secrets", "import", "dev", str(path), input="n\n")
    assert declined.exit_code == ExitCode.FAILED
    assert "add       new-key" in declined.stderr and "unchanged kept-key" in declined.stderr
    assert "plan: 1 add, 0 change, 0 delete, 1 unchanged" in declined.stderr
    applied = cli("secrets", "import", "dev", str(path), "--yes")
    assert applied.exit_code == 0
    assert "1 added, 0 changed, 0 deleted, 1 unchanged" in applied.stdout
    again = cli("secrets", "import", "dev", str(path), "--yes")
    assert "nothing to do" in again.stdout
    text = applied.stdout + applied.stderr + declined.stdout + declined.stderr
    assert "value-1" not in text


def test_import_of_a_bad_file_is_exit_2(cli: Any, kms: AwsTarget, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"good-key": "good-value-1", "bad/key": "bad-value-1"}')
    result = cli("--json", "secrets", "import", "dev", str(path), "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert envelope(result)["errors"][0]["code"] == "invalid_file"
    assert envelope(cli("--json", "secrets", "list", "dev"))["data"] == []


def test_export_needs_a_destination_and_writes_a_private_file(
    cli: Any, kms: AwsTarget, tmp_path: Path
) -> None:
    _set(cli, "dev", "api-token")
    nowhere = cli("secrets", "export", "dev")
    assert nowhere.exit_code == ExitCode.USAGE and "--output FILE" in nowhere.stderr
    target = tmp_path / "dev.env"
    written = cli("secrets", "export", "dev", "--output", str(target))
    assert written.exit_code == 0 and SECRET not in written.stdout
    assert target.read_text() == f'API_TOKEN="{SECRET}"\n'
    assert (target.stat().st_mode & 0o777) == 0o600
    exists = cli("secrets", "export", "dev", "--output", str(target))
    assert exists.exit_code == ExitCode.USAGE
    printed = cli("secrets", "export", "dev", "--format", "json", "--stdout")
    assert json.loads(printed.stdout) == {"api-token": SECRET}


def test_descriptions_are_printed_literally(cli: Any, kms: AwsTarget) -> None:
    _set(cli, "dev", "api-token", SECRET, "--description", "[bold]primary[/] db")
    shown = cli("secrets", "get", "dev", "api-token")
    assert shown.exit_code == 0 and "[bold]primary[/] db" in shown.stdout


def test_exec_refuses_a_secret_that_would_take_over_the_child(
    cli: Any, kms: AwsTarget, tmp_path: Path
) -> None:
    pwned, hook = tmp_path / "pwned", tmp_path / "hook.sh"
    hook.write_text(f"touch {pwned}\n")
    assert _set(cli, "dev", "bash-env", str(hook)).exit_code == 0

    refused = cli("secrets", "exec", "dev", "--", "bash", "-c", "true")

    assert refused.exit_code == ExitCode.USAGE
    assert "bash-env would set BASH_ENV" in refused.stderr
    assert "--allow-override BASH_ENV" in refused.stderr
    assert not pwned.exists()  # nothing ran
    allowed = cli("secrets", "exec", "dev", "--allow-override", "BASH_ENV", "--",
                  "bash", "-c", "true")  # fmt: skip
    assert allowed.exit_code == 0, allowed.stderr
    assert pwned.exists()  # who asked for it gets it


def test_the_parameters_opentofu_owns_cannot_be_set_deleted_or_pruned(
    cli: Any, kms: AwsTarget, tmp_path: Path
) -> None:
    ssm = kms.client("ssm")
    ssm.put_parameter(Name="/smartstack/dev/db-host", Value="db.internal", Type="String")

    for args in (("set", "dev", "db-password"), ("set", "dev", "environment")):
        refused = cli("secrets", *args, input="a-new-value\n")
        assert refused.exit_code == ExitCode.USAGE
        assert "written by OpenTofu" in refused.stderr
    refused = cli("secrets", "delete", "dev", "db-host", "--yes")
    assert refused.exit_code == ExitCode.USAGE and "written by OpenTofu" in refused.stderr
    dotenv = tmp_path / "import.env"
    dotenv.write_text("DB_HOST=elsewhere\nAPI_KEY=k-12345\n")
    refused = cli("secrets", "import", "dev", str(dotenv), "--yes")
    assert refused.exit_code == ExitCode.USAGE and "DB_HOST" in refused.stderr
    assert ssm.get_parameter(Name="/smartstack/dev/db-host")["Parameter"]["Value"] == "db.internal"

    dotenv.write_text("API_KEY=k-12345\n")
    pruned = cli("secrets", "import", "dev", str(dotenv), "--prune", "--yes")
    assert pruned.exit_code == 0, pruned.stderr
    assert ssm.get_parameter(Name="/smartstack/dev/db-host")["Parameter"]["Value"] == "db.internal"
