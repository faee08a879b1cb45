"""`smartstack build` from a clone: refuses a dirty tree, builds a clean one."""

from __future__ import annotations

import subprocess
from pathlib import Path

from typer.testing import CliRunner

from smartstack.cli.app import app
from smartstack.core.errors import ExitCode
from tests.conftest import ROOT, envelope


def test_build_refuses_a_dirty_tree_then_builds_it_clean(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    (clone / "stray.txt").write_text("not committed\n")
    env = {"SMARTSTACK_STATE_DIR": str(tmp_path / "state"), "SMARTSTACK_ROOT": str(clone)}
    runner = CliRunner()

    dirty = runner.invoke(app, ["build"], env=env)
    assert dirty.exit_code == ExitCode.USAGE
    assert "is dirty (stray.txt); commit or stash the changes" in dirty.stderr
    assert not (tmp_path / "state" / "releases").exists() or not any(
        p.name.startswith("r-") for p in (tmp_path / "state" / "releases").iterdir()
    )

    (clone / "stray.txt").unlink()
    built = runner.invoke(app, ["--json", "build"], env=env)
    assert built.exit_code == 0, built.stderr
    manifest = envelope(built)["data"]["manifest"]
    commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert manifest["release"] == f"r-{commit[:12]}"
    assert {a["name"] for a in manifest["artifacts"]} == {"api", "ai-processor", "migrator"}
    assert (tmp_path / "state" / "releases" / manifest["release"] / "manifest.json").is_file()
