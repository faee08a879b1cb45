"""The CLI's contracts: exit codes, one-line errors, the JSON envelope."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from smartstack.cli.app import app
from smartstack.core.config import Settings
from smartstack.core.errors import ExitCode
from smartstack.local.processes import free_port
from tests.conftest import envelope


def _cold_env(session_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Settings for a platform that was never started."""
    return session_env | {
        "SMARTSTACK_STATE_DIR": str(tmp_path / "state"),
        "SMARTSTACK_MOTO_PORT": str(free_port()),
        "SMARTSTACK_POSTGRES_PORT": str(free_port()),
    }


def _invoke(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def test_status_of_a_running_platform(running_platform: Settings, cli: Any) -> None:
    result = cli("--json", "local", "status")
    assert result.exit_code == 0
    data = envelope(result)
    assert data["schema"] == 1 and data["status"] == "ok"
    assert {c["name"]: c["healthy"] for c in data["data"]["components"]} == {
        "aws": True,
        "postgres": True,
    }


def test_status_says_iam_is_enforced(running_platform: Settings, cli: Any) -> None:
    assert envelope(cli("--json", "local", "status"))["data"]["iam_enforcement"] == "enforce"
    assert "IAM enforcement: enforce" in cli("local", "status").stdout


def test_local_up_without_iam_enforcement_says_so_loudly(
    session_env: dict[str, str], tmp_path: Path
) -> None:
    env = _cold_env(session_env, tmp_path)
    try:
        result = _invoke(env, "local", "up", "--no-iam-enforcement")
        assert result.exit_code == 0, result.stderr
        assert "IAM enforcement is OFF" in result.stderr
        status = _invoke(env, "local", "status")
        assert "IAM enforcement: OFF" in status.stdout
        bad = _invoke(env | {"SMARTSTACK_IAM_ENFORCEMENT": "sometimes"}, "local", "status")
        assert bad.exit_code == ExitCode.USAGE
        assert bad.stderr.count("\n") == 1 and "SMARTSTACK_IAM_ENFORCEMENT" in bad.stderr
    finally:
        _invoke(env, "local", "down", "--purge")


def test_status_of_a_stopped_platform_exits_not_running(
    session_env: dict[str, str], tmp_path: Path
) -> None:
    result = _invoke(_cold_env(session_env, tmp_path), "--json", "local", "status")
    assert result.exit_code == ExitCode.NOT_RUNNING
    assert envelope(result)["status"] == "failed"


def test_bootstrap_without_the_local_aws_says_how_to_start_it(
    session_env: dict[str, str], tmp_path: Path
) -> None:
    result = _invoke(_cold_env(session_env, tmp_path), "bootstrap")
    assert result.exit_code == ExitCode.NOT_RUNNING
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "error: the local AWS is not running: start it with `smartstack local up`."
    )


def test_unknown_environment_is_one_line_and_exit_2(running_platform: Settings, cli: Any) -> None:
    result = cli("plan", "qa")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.strip().splitlines() == [
        "error: unknown environment 'qa': known environments are dev, prod, staging."
    ]


def test_errors_use_the_envelope_in_json_mode(running_platform: Settings, cli: Any) -> None:
    result = cli("--json", "plan", "qa")
    assert result.exit_code == ExitCode.USAGE
    data = envelope(result)
    assert data["status"] == "error" and data["data"] is None
    assert data["errors"][0]["code"] == "usage"


def test_missing_toolchain_names_the_script(
    running_platform: Settings, session_env: dict[str, str], tmp_path: Path
) -> None:
    result = _invoke(session_env | {"SMARTSTACK_CACHE": str(tmp_path)}, "plan", "dev")
    assert result.exit_code == ExitCode.TOOL_MISSING
    assert "build it with scripts/build-toolchain.sh" in result.stderr


def test_a_bad_port_is_refused(session_env: dict[str, str]) -> None:
    result = _invoke(session_env, "--moto-port", "80", "local", "status")
    assert result.exit_code == ExitCode.USAGE
    assert "port 80 is out of range" in result.stderr


def test_local_env_prints_exports_a_shell_cannot_be_made_to_run(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "local").mkdir(parents=True)
    pwned = tmp_path / "pwned"
    (state / "local" / "aws.env").write_text(
        f"AWS_REGION=eu-west-1 $(touch {pwned})\nAWS_ENDPOINT_URL=http://localhost:5010`id`\n"
    )
    result = CliRunner().invoke(app, ["local", "env"], env={"SMARTSTACK_STATE_DIR": str(state)})
    assert result.exit_code == 0, result.stdout + result.stderr

    shell = subprocess.run(
        ["bash", "-c", 'eval "$1"; printf "%s\\n" "$AWS_REGION" "$AWS_ENDPOINT_URL"', "_",
         result.stdout], capture_output=True, text=True, check=True,
    )  # fmt: skip

    assert not pwned.exists()
    assert shell.stdout.splitlines() == [
        f"eu-west-1 $(touch {pwned})",
        "http://localhost:5010`id`",
    ]


def test_snapshot_bad_input_is_one_line_and_changes_nothing(
    session_env: dict[str, str], tmp_path: Path
) -> None:
    """A bad name, an unknown snapshot, persistence off: one line each, exit 2, and the
    platform (never started here) is not touched."""
    env = _cold_env(session_env, tmp_path)
    cases = [
        (env, ("local", "snapshot", "save", "../escape"), "is not a snapshot name"),
        (env, ("local", "snapshot", "save", "name\n"), "is not a snapshot name"),
        (env, ("local", "snapshot", "load", "never-saved"), "no snapshot 'never-saved'"),
        (env | {"SMARTSTACK_AWS_PERSISTENCE": "off"}, ("local", "snapshot", "save", "x"),
         "SMARTSTACK_AWS_PERSISTENCE is off"),
    ]  # fmt: skip
    for case_env, args, message in cases:
        result = _invoke(case_env, *args)
        assert result.exit_code == ExitCode.USAGE, (args, result.output)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").rglob("*.partial"))
    listed = _invoke(env, "local", "snapshot", "list")
    assert listed.exit_code == 0 and "no snapshots" in listed.stdout
