"""A whole secrets session, every byte captured: no value shows up unless asked for.

Each command runs as a real process (as a person would run it), so the capture
includes anything written to the file descriptors, by us, by libraries or by
logging.  After the session the log files under the state directory are read
too.  The two ways to ask for values (``get --reveal`` and ``export --stdout``)
are checked separately, and they double as proof that the scan can see a value.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from smartstack.aws.target import AwsTarget
from smartstack.core.config import Settings

CLI = [sys.executable, "-c", "from smartstack.cli.app import main; main()"]


@dataclass
class Session:
    env: dict[str, str]
    captured: list[bytes] = field(default_factory=list)

    def run(
        self, *args: str, stdin: str | None = None, keep: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [*CLI, *args],
            input=(stdin or "").encode(),
            capture_output=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if keep:
            self.captured += [done.stdout, done.stderr]
        return done


def canary(name: str) -> str:
    return f"canary-{name}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def session(session_env: dict[str, str], kms_aliases: AwsTarget) -> Session:
    return Session(dict(session_env))


def _files(root: Path) -> Iterator[Path]:
    yield from (p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def test_a_whole_session_never_prints_a_value(
    session: Session, running_platform: Settings, tmp_path: Path
) -> None:
    values = {
        n: canary(n)
        for n in ("db", "api", "new", "changed", "badkey", "badenv", "badfile", "badjson", "midway")
    }
    child_env, child_argv, exported = _normal_paths(session, values, tmp_path)
    _failure_paths(session, values, tmp_path, running_platform)

    output = b"".join(session.captured)
    logs = b"".join(p.read_bytes() for p in _files(running_platform.state_dir))
    for name, value in values.items():
        assert value.encode() not in output, f"{name} leaked to stdout/stderr"
        assert value.encode() not in logs, f"{name} leaked to a log file"
    assert values["db"] not in child_argv.read_text()  # never in argv, only in the environment
    assert values["db"] in exported.read_text()  # export was asked to write them to a file

    # Asked for explicitly: the values do come out (and so the scan above could see them).
    revealed = session.run("secrets", "get", "dev", "api-token", "--reveal", keep=False)
    assert revealed.stdout.decode() == values["changed"] + "\n"
    printed = session.run("secrets", "export", "dev", "--stdout", keep=False)
    assert f'NEW_KEY="{values["new"]}"' in printed.stdout.decode()
    assert json.loads(child_env.read_text())["API_TOKEN"] == values["db"]


def _normal_paths(s: Session, values: dict[str, str], tmp_path: Path) -> tuple[Path, Path, Path]:
    """set, get, list, history, diff, exec, export, import: human and --json."""
    assert s.run("secrets", "set", "dev", "api-token", stdin=values["db"]).returncode == 0
    assert (
        s.run(
            "--json",
            "secrets",
            "set",
            "dev",
            "api-key",
            "--description",
            "api",
            stdin=values["api"] + "\n",
        ).returncode
        == 0
    )
    for fmt in ((), ("--json",)):
        s.run(*fmt, "secrets", "get", "dev", "api-token")
        s.run(*fmt, "secrets", "list", "dev")
        s.run(*fmt, "secrets", "history", "dev", "api-token")
        s.run(*fmt, "secrets", "diff", "dev", "staging")
    child_env, child_argv = tmp_path / "child-env.json", tmp_path / "child-argv.txt"
    child = (
        "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w')); "
        "open(sys.argv[2], 'w').write(open('/proc/self/cmdline').read()); "
        "print('child ran')"
    )
    assert (
        s.run(
            "secrets",
            "exec",
            "dev",
            "--",
            sys.executable,
            "-c",
            child,
            str(child_env),
            str(child_argv),
        ).returncode
        == 0
    )
    exported = tmp_path / "dev.json"
    assert (
        s.run("secrets", "export", "dev", "--format", "json", "--output", str(exported)).returncode
        == 0
    )
    good = tmp_path / "good.env"
    good.write_text(f"API_TOKEN={values['changed']}\nNEW_KEY='{values['new']}'\n")
    assert s.run("secrets", "import", "dev", str(good), stdin="n\n").returncode != 0
    assert s.run("--json", "secrets", "import", "dev", str(good), "--yes").returncode == 0
    return child_env, child_argv, exported


def _failure_paths(s: Session, values: dict[str, str], tmp_path: Path, settings: Settings) -> None:
    """Bad keys, unknown environments, bad files, a failure midway: errors carry no value."""
    failures = [
        (("secrets", "set", "dev", "../prod/api-token"), values["badkey"]),
        (("--json", "secrets", "set", "dev", "Bad_Key"), values["badkey"]),
        (("secrets", "set", "qa", "api-token"), values["badenv"]),
        (("secrets", "set", "dev", "tiny"), "abc"),
        (("secrets", "get", "dev", "missing-key"), None),
        (("secrets", "export", "dev"), None),
        (("secrets", "exec", "dev", "--", "no-such-command-xyz"), None),
        (("secrets", "exec", "qa", "--", "true"), None),
    ]
    for args, stdin in failures:
        assert s.run(*args, stdin=stdin).returncode != 0, args
    bad = tmp_path / "bad.env"
    bad.write_text(f"GOOD_NAME={values['badfile']}\nbad-name={values['badfile']}\n")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text(f'{{"good-key": "{values["badjson"]}", "x": 1')
    for path in (bad, bad_json):
        for fmt in ((), ("--json",)):
            assert s.run(*fmt, "secrets", "import", "dev", str(path), "--yes").returncode == 2
    _pin_at_version_limit(settings, "pinned-key")
    midway = tmp_path / "midway.json"
    midway.write_text(f'{{"a-key": "{values["midway"]}", "pinned-key": "{values["midway"]}"}}')
    failed = s.run("--json", "secrets", "import", "dev", str(midway), "--yes")
    assert b"import_failed" in failed.stdout


def _pin_at_version_limit(settings: Settings, key: str) -> None:
    """A parameter Parameter Store refuses to overwrite (100 versions, the oldest labelled)."""
    from smartstack.aws.target import target_for

    ssm = target_for(settings).client("ssm")
    name = f"/smartstack/dev/{key}"
    for i in range(100):
        ssm.put_parameter(Name=name, Value=f"pinned-{i:03d}", Type="SecureString", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["pinned"])
