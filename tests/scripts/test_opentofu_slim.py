"""The slim OpenTofu: its state backends are derived from infrastructure/, a backend it
does not have fails loudly, the rewritten registry compiles, and the profile picks the
build that bin/tofu-<ver> points at.

Most of these need OpenTofu's source and Go (the source route); on the official route
(OpenTofu from its release archive) they are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from smartstack.core.config import Settings, resolve_settings
from smartstack.core.envfile import read_env_file
from smartstack.infra.toolchain import toolchain
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "build-toolchain.sh"
INFRA = ROOT / "infrastructure"
VERSION = read_env_file((ROOT / "scripts" / "versions.env").read_text())["OPENTOFU_VERSION"]
SOURCE = f"opentofu-{VERSION}"
REGISTRY = Path("internal/backend/init/init.go")
KEY = re.compile(r"slim OpenTofu (slim-[a-z0-9-]+-[0-9a-f]{8}): registers ([a-z0-9 ]+)$", re.M)


@pytest.fixture
def cache(settings: Settings, tmp_path: Path) -> Path:
    """A cache of its own that shares OpenTofu's source with the real one."""
    source = settings.cache_dir / "src" / SOURCE
    if not source.is_dir() or shutil.which("go") is None:
        pytest.skip("OpenTofu's source and Go are there only on the source route")
    cache = tmp_path / "cache"
    (cache / "src").mkdir(parents=True)
    (cache / "src" / SOURCE).symlink_to(source.resolve())
    return cache


def _run(
    cache: Path, infra: Path, part: str, profile: str = "slim"
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) | {
        "SMARTSTACK_CACHE": str(cache),
        "SMARTSTACK_INFRASTRUCTURE": str(infra),
        "SMARTSTACK_TOOLCHAIN_ROUTE": "source",
        "SMARTSTACK_OPENTOFU_PROFILE": profile,
        "SMARTSTACK_BUILD_MIN_FREE_MB": "1",  # nothing is built here
        "PATH": f"{Path(shutil.which('go') or 'go').parent}:/usr/bin:/bin",  # no tofu on PATH
    }
    return subprocess.run(["bash", str(SCRIPT), part], env=env, capture_output=True, text=True,
                          check=False, timeout=300)  # fmt: skip


def _backends(cache: Path, infra: Path) -> tuple[str, list[str], list[str]]:
    """(the build's key, the remote-state backends kept, every backend registered)."""
    result = _run(cache, infra, "tofu-backends")
    assert result.returncode == 0, result.stderr
    found = KEY.search(result.stderr)
    assert found is not None, result.stderr
    return found.group(1), result.stdout.split(), found.group(2).split()


def _copy_infra(tmp_path: Path) -> Path:
    copy = tmp_path / "infrastructure"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform*"))
    return copy


def test_the_backends_are_what_the_stacks_use(cache: Path) -> None:
    key, kept, registered = _backends(cache, INFRA)
    assert kept == ["s3"]  # backend "s3" in both roots
    # and OpenTofu's own: local, and remote and cloud (internal/command imports them anyway)
    assert registered == ["cloud", "local", "remote", "s3"]
    assert key.startswith("slim-s3-")


def test_a_gcs_backend_and_a_remote_state_bring_theirs_in(cache: Path, tmp_path: Path) -> None:
    key, before, _ = _backends(cache, INFRA)
    infra = _copy_infra(tmp_path)
    (infra / "elsewhere").mkdir()
    (infra / "elsewhere" / "backend.tf").write_text('terraform {\n  backend "gcs" {}\n}\n')
    (infra / "remote_state.tf").write_text(
        'data "terraform_remote_state" "shared" {\n  backend = "pg"\n  config  = {}\n}\n'
    )
    (infra / "ignored.tf").write_text('# backend "consul" {} is only a comment\n')
    new_key, after, registered = _backends(cache, infra)
    assert after == ["gcs", "pg", "s3"]
    assert registered == ["cloud", "gcs", "local", "pg", "remote", "s3"]
    assert new_key.startswith("slim-gcs-pg-s3-") and new_key != key  # a build of its own
    assert before == ["s3"]


def test_an_unknown_backend_fails_in_one_line_and_builds_nothing(
    cache: Path, tmp_path: Path
) -> None:
    infra = _copy_infra(tmp_path)
    (infra / "typo.tf").write_text('terraform {\n  backend "s4" {}\n}\n')
    result = _run(cache, infra, "tofu")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(
        f"[toolchain] error: slim OpenTofu {VERSION}: OpenTofu has no backend "
        f'"s4" ({infra / "typo.tf"}); it has azurerm, cloud, '
    )
    assert lines[-1].endswith("; fix the backend type or pin an OpenTofu that has it")
    assert len(lines) == 2 and "route: source" in lines[0]  # nothing was built
    assert [p.name for p in (cache / "bin").glob("tofu-*")] == []
    assert [p.name for p in (cache / "src").iterdir()] == [SOURCE]  # no generated files left


def test_a_remote_state_backend_that_is_not_a_literal_is_refused(
    cache: Path, tmp_path: Path
) -> None:
    infra = _copy_infra(tmp_path)
    (infra / "remote_state.tf").write_text(
        'data "terraform_remote_state" "shared" {\n  backend = var.kind\n}\n'
    )
    result = _run(cache, infra, "tofu-backends")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "is not a literal string" in lines[0]
    assert "SMARTSTACK_OPENTOFU_PROFILE=full" in lines[0]


def test_the_rewritten_registry_compiles_and_keeps_the_rest(cache: Path, tmp_path: Path) -> None:
    """go build of just internal/backend/init with the generated copy swapped in."""
    _backends(cache, INFRA)  # builds the generator into the cache
    (tool,) = (cache / "bin").glob("opentofu-slim-*")
    source = cache / "src" / SOURCE
    out = tmp_path / "gen"
    subprocess.run([str(tool), "-out", str(out), str(INFRA)], cwd=source, check=True,
                   capture_output=True, text=True)  # fmt: skip
    generated = (out / "init.go").read_text()
    original = (source / REGISTRY).read_text()
    assert original != generated

    # Only whole lines were dropped (gofmt realigns the map): the rest is OpenTofu's.
    remaining = iter(line.split() for line in original.splitlines())
    assert all(line.split() in remaining for line in generated.splitlines())
    entries = re.findall(r'^\s*"([a-z0-9]+)":\s+func\(', generated, re.M)
    assert sorted(entries) == ["cloud", "local", "remote", "s3"]
    imports = re.findall(r"internal/backend/remote-state/([a-z0-9]+)\"", generated)
    assert imports == ["s3"]

    build = subprocess.run(
        ["go", "build", "-trimpath", f"-overlay={out / 'overlay.json'}", "./internal/backend/init"],
        cwd=source, capture_output=True, text=True, check=False, timeout=900,
        env=dict(os.environ) | {"CGO_ENABLED": "0"},
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    assert (source / REGISTRY).read_text() == original  # the source copy is untouched


def test_the_profile_is_validated(tmp_path: Path) -> None:
    env = dict(os.environ) | {
        "SMARTSTACK_CACHE": str(tmp_path / "cache"),
        "SMARTSTACK_OPENTOFU_PROFILE": "tiny",
    }
    result = subprocess.run(["bash", str(SCRIPT), "tofu"], env=env, capture_output=True,
                            text=True, check=False, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "[toolchain] error: SMARTSTACK_OPENTOFU_PROFILE=tiny is not a profile; use slim or full."
    ]


def test_switching_profiles_reuses_the_builds(cache: Path, tmp_path: Path) -> None:
    """A source build from before the profiles is kept as "full"; full <-> slim is a link swap."""
    key, _, _ = _backends(cache, INFRA)
    bin_dir = cache / "bin"
    link = bin_dir / f"tofu-{VERSION}"
    for name, build in ((link.name, "full"), (f"{link.name}-{key}", "slim")):
        (bin_dir / name).write_text(f"#!/bin/sh\necho 'OpenTofu v{VERSION} {build}'\n")
        (bin_dir / name).chmod(0o755)
    (cache / "toolchain.env").write_text("ROUTE=source\nPROVIDERS=mirror\n")
    settings = resolve_settings(root=ROOT, environ={"SMARTSTACK_CACHE": str(cache)})

    def switch(profile: str) -> str:
        result = _run(cache, INFRA, "tofu", profile)
        assert result.returncode == 0, result.stderr
        assert "] building" not in result.stderr and "route:" not in result.stderr
        tofu = toolchain(settings).tofu
        assert tofu == link
        run = subprocess.run([str(tofu)], capture_output=True, text=True, check=True)
        assert run.stdout.strip() == f"OpenTofu v{VERSION} {profile}"
        return result.stderr

    kept = switch("full")
    assert f"kept the existing OpenTofu {VERSION} build as the full profile" in kept
    assert f"OpenTofu {VERSION} (full) present" in kept
    assert os.readlink(link) == f"tofu-{VERSION}-full"

    assert "already built; switching to it" in switch("slim")
    assert os.readlink(link) == f"tofu-{VERSION}-{key}"
    assert " present" in switch("slim")
    assert "(full) already built; switching to it" in switch("full")
    assert sorted(p.name for p in bin_dir.glob("tofu-*")) == sorted(
        [link.name, f"{link.name}-full", f"{link.name}-{key}"]
    )


def test_the_built_slim_tofu_refuses_other_backends(settings: Settings, tmp_path: Path) -> None:
    """The installed slim binary: OpenTofu's own error for a backend it was built without."""
    tofu = toolchain(settings).tofu
    if not tofu.exists() or "-slim-" not in tofu.resolve().name:
        pytest.skip("needs the slim OpenTofu built here (the source route)")
    env = {"TF_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    version = subprocess.run([str(tofu), "version"], env=env, capture_output=True, text=True,
                             check=True)  # fmt: skip
    assert version.stdout.startswith(f"OpenTofu v{VERSION}\n")
    config = tmp_path / "config"
    config.mkdir()
    (config / "main.tf").write_text('terraform {\n  backend "gcs" {\n    bucket = "x"\n  }\n}\n')
    init = subprocess.run([str(tofu), f"-chdir={config}", "init", "-input=false", "-no-color"],
                          env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert init.returncode == 1
    message = " ".join(init.stderr.split())
    assert "Error: Unsupported backend type" in message
    assert 'There is no backend type named "gcs".' in message
