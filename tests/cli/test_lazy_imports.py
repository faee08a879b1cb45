"""Start-up cost: help and argument errors load no AWS or database library.

Each case runs the CLI in a fresh interpreter (``sys.modules`` is per process)
and reports which heavy libraries were imported by the time it exited.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# markdown_it and pygments: Rich-formatted help (typer.rich_utils) costs ~0.13 s of start-up
HEAVY = (
    "boto3",
    "botocore",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "hcl2",
    "moto",
    "markdown_it",
    "pygments",
)
PROBE = """
import json, os, sys
from typer.testing import CliRunner
from smartstack.cli.app import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = os.environ["HEAVY"].split()
print(json.dumps({"exit": result.exit_code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def loaded_by(tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    env = {
        "HOME": str(tmp_path),
        "SMARTSTACK_STATE_DIR": str(tmp_path / "state"),
        "HEAVY": " ".join(HEAVY),
        **{k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")},
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, check=True
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["exit"], answer["loaded"]


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("deploy", "--help"),
        ("secrets", "--help"),
        ("secrets", "set", "--help"),
        ("iam", "--help"),
        ("iam", "report", "--help"),
        ("deploy", "dev"),  # missing --release: an argument error
        ("history",),  # missing environment
    ],
)
def test_help_and_argument_errors_load_no_heavy_library(tmp_path: Path, args: tuple[str]) -> None:
    _, loaded = loaded_by(tmp_path, *args)
    assert loaded == []


def test_a_secrets_command_loads_no_database_library(tmp_path: Path) -> None:
    code, loaded = loaded_by(tmp_path, "secrets", "list", "dev")  # no local AWS: exits 3

    assert code == 3
    assert "boto3" in loaded
    assert not {"sqlalchemy", "alembic", "psycopg"} & set(loaded)
