"""scripts/build-toolchain.sh: warm runs skip everything, bad environments fail clearly."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from smartstack.core.config import Settings
from smartstack.infra.toolchain import toolchain
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "build-toolchain.sh"


def _run(env: dict[str, str], part: str = "all") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), part], env=env, capture_output=True, text=True,
                          check=False, timeout=600)  # fmt: skip


def test_a_warm_cache_builds_nothing(settings: Settings) -> None:
    env = dict(os.environ) | {"SMARTSTACK_CACHE": str(settings.cache_dir)}
    result = _run(env)
    assert result.returncode == 0, result.stderr
    assert "building" not in result.stderr and "downloading" not in result.stderr
    # On the official route the provider is installed by tofu init, from the registry.
    assert result.stderr.count(" present") + result.stderr.count("from the registry") == 4
    tools = toolchain(settings)
    assert tools.missing() == []
    assert "[toolchain] actionlint " in result.stderr  # ... <version> present
    assert tools.actionlint.is_file()


def test_without_go_it_says_what_is_missing(tmp_path: Path) -> None:
    bash_only = tmp_path / "bin"
    bash_only.mkdir()
    for tool in ("bash", "dirname", "mkdir", "cat", "mv"):
        found = shutil.which(tool)
        assert found is not None
        (bash_only / tool).symlink_to(found)
    env = {"PATH": str(bash_only), "HOME": str(tmp_path), "SMARTSTACK_CACHE": str(tmp_path)}
    result = _run(env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "[toolchain] error: Go is not installed; install Go 1.26+ "
        "(it builds OpenTofu and the AWS provider)."
    )


def test_an_unreachable_module_proxy_names_the_module(tmp_path: Path) -> None:
    env = dict(os.environ) | {
        "SMARTSTACK_CACHE": str(tmp_path / "cache"),
        "GOMODCACHE": str(tmp_path / "modcache"),
        "GOPROXY": "http://127.0.0.1:9",
        "GOFLAGS": "-modcacherw",
    }
    result = _run(env, "rie")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("[toolchain] error: the Go module proxy did not serve "
                           "github.com/aws/aws-lambda-runtime-interface-emulator@")  # fmt: skip
    assert list((tmp_path / "cache" / "bin").glob("aws-lambda-rie*")) == []


def test_too_little_disk_refuses_the_build_in_one_line(tmp_path: Path) -> None:
    env = dict(os.environ) | {
        "SMARTSTACK_CACHE": str(tmp_path / "cache"),
        "SMARTSTACK_BUILD_MIN_FREE_MB": str(1 << 40),  # more than any disk has
    }
    result = _run(env, "rie")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("[toolchain] error: only ")
    assert "MB free on the disk of " in lines[0]
    assert lines[0].endswith(
        "free space there or point GOCACHE / SMARTSTACK_CACHE at a larger disk."
    )
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
