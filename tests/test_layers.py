"""The layers contract (import-linter, run by scripts/test.sh) holds, and can fail.

The contract is only worth something if a wrong-way import breaks it: each
case copies the package, adds one such import, and runs the same command CI
runs against the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src" / "smartstack", tmp_path / "src" / "smartstack")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_package_keeps_its_layers(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_way"),
    [
        ("core/naming.py", "smartstack.aws.target"),  # core reaches up into AWS
        ("aws/target.py", "smartstack.infra.toolchain"),  # the boundary reaches a use-case
        ("infra/stack.py", "smartstack.release.build"),  # siblings stay independent
        ("release/store.py", "smartstack.pipeline.ledger"),  # a use-case reaches the pipeline
        ("pipeline/gates.py", "smartstack.cli.output"),  # the pipeline reaches the CLI
    ],
)
def test_a_wrong_way_import_breaks_the_contract(tree: Path, module: str, wrong_way: str) -> None:
    path = tree / "src" / "smartstack" / module
    path.write_text(path.read_text() + f"\nimport {wrong_way}  # noqa\n")

    result = lint_imports(tree)

    assert result.returncode != 0
    assert "BROKEN" in result.stdout and wrong_way in result.stdout
