"""The slim AWS provider: its service set is derived from infrastructure/, and a type
outside that set fails loudly, both when the set is derived and at `tofu validate`.

These need the provider's source and Go (the source route); on the official route
(the provider comes from the registry) they are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from smartstack.core.config import Settings
from smartstack.core.envfile import read_env_file
from smartstack.infra.toolchain import toolchain
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "build-toolchain.sh"
INFRA = ROOT / "infrastructure"
PINS = read_env_file((ROOT / "scripts" / "versions.env").read_text())
SOURCE = f"terraform-provider-aws-{PINS['AWS_PROVIDER_MODULE_VERSION']}"


@pytest.fixture
def cache(settings: Settings, tmp_path: Path) -> Path:
    """A cache of its own that shares the provider's source with the real one."""
    source = settings.cache_dir / "src" / SOURCE
    if not source.is_dir() or shutil.which("go") is None:
        pytest.skip("the provider's source and Go are there only on the source route")
    cache = tmp_path / "cache"
    (cache / "src").mkdir(parents=True)
    (cache / "src" / SOURCE).symlink_to(source)
    return cache


def _run(cache: Path, infra: Path, part: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) | {
        "SMARTSTACK_CACHE": str(cache),
        "SMARTSTACK_INFRASTRUCTURE": str(infra),
        "SMARTSTACK_TOOLCHAIN_ROUTE": "source",
        "SMARTSTACK_PROVIDER_PROFILE": "slim",
    }
    return subprocess.run(["bash", str(SCRIPT), part], env=env, capture_output=True, text=True,
                          check=False, timeout=300)  # fmt: skip


def _services(cache: Path, infra: Path) -> tuple[str, list[str]]:
    result = _run(cache, infra, "provider-services")
    assert result.returncode == 0, result.stderr
    key = re.search(r"slim profile (slim-[0-9a-f]{12}):", result.stderr)
    assert key is not None, result.stderr
    return key.group(1), result.stdout.split()


def _copy_infra(tmp_path: Path) -> Path:
    copy = tmp_path / "infrastructure"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform*"))
    return copy


def test_the_service_set_is_what_the_stacks_use(cache: Path) -> None:
    _, services = _services(cache, INFRA)
    # aws_s3_bucket, aws_vpc, aws_lambda_function, aws_iam_role, aws_kms_key,
    # aws_caller_identity and aws_partition / aws_region (the provider's "meta").
    assert {"s3", "ec2", "lambda", "iam", "kms", "sts", "meta"} <= set(services)
    assert "bedrock" not in services and "sfn" not in services
    assert services == sorted(services)
    assert len(services) < 40  # of about 260


def test_a_resource_of_a_new_service_brings_its_package_in(cache: Path, tmp_path: Path) -> None:
    key, before = _services(cache, INFRA)
    infra = _copy_infra(tmp_path)
    (infra / "modules" / "compute" / "workflow.tf").write_text(
        'resource "aws_sfn_state_machine" "flow" {\n  name = "x"\n}\n'
    )
    new_key, after = _services(cache, infra)
    assert set(after) - set(before) == {"sfn"}
    assert new_key != key  # a new build, cached next to the old one


def test_an_unknown_resource_type_fails_in_one_line_and_builds_nothing(
    cache: Path, tmp_path: Path
) -> None:
    infra = _copy_infra(tmp_path)
    (infra / "typo.tf").write_text('resource "aws_s3_buckt" "x" {}\n')
    result = _run(cache, infra, "provider")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        "[toolchain] error: slim AWS provider: no service package of this provider registers "
        f'resource "aws_s3_buckt" ({infra / "typo.tf"}); '
        "fix the type or pin a provider that has it"
    )
    assert "building" not in result.stderr
    assert list((cache / "providers").iterdir()) == []
    assert not (cache / "plugins" / "registry.opentofu.org").exists()


def test_the_built_provider_rejects_a_type_outside_its_services(
    settings: Settings, tmp_path: Path
) -> None:
    """tofu validate against the installed slim provider: loud, not silently ignored."""
    tools = toolchain(settings)
    if tools.provider_from_registry or tools.missing():
        pytest.skip("needs the provider built here (the source route)")
    services = tools.provider.resolve().parents[1] / "services.txt"
    if not services.is_file():
        pytest.skip("the installed provider is the full profile")
    assert "sfn" not in services.read_text().split()
    config = tmp_path / "config"
    config.mkdir()
    (config / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
        'provider "aws" {\n  region = "eu-west-1"\n}\n'
        'resource "aws_sfn_state_machine" "flow" {\n'
        '  name       = "x"\n  role_arn   = "arn:aws:iam::123456789012:role/x"\n'
        '  definition = "{}"\n}\n'
    )
    env = {
        "TF_CLI_CONFIG_FILE": str(tools.cli_config),
        "TF_DATA_DIR": str(tmp_path / "data"),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }

    def tofu(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(tools.tofu), f"-chdir={config}", *args, "-no-color"],
                              env=env, capture_output=True, text=True, check=False)  # fmt: skip

    init = tofu("init", "-backend=false", "-input=false")
    assert init.returncode == 0, init.stdout + init.stderr
    result = tofu("validate")
    assert result.returncode == 1
    message = " ".join(result.stderr.split())  # tofu wraps its messages
    assert "Error: Invalid resource type" in message
    assert 'hashicorp/aws does not support resource type "aws_sfn_state_machine"' in message


def test_switching_profiles_reuses_the_builds_and_drops_stale_lock_files(
    settings: Settings, cache: Path, tmp_path: Path
) -> None:
    """full <-> slim: a link swap, no build; a lock file pinning the other build goes."""
    version = PINS["AWS_PROVIDER_VERSION"]
    name = f"terraform-provider-aws_v{version}_x5"
    link = Path("plugins/registry.opentofu.org/hashicorp/aws") / version / "linux_amd64"
    full = settings.cache_dir / "providers" / f"aws-{version}-full"
    slim = (settings.cache_dir / link).resolve().parent
    if not (full / "linux_amd64" / name).is_file() or not slim.name.startswith(
        f"aws-{version}-slim-"
    ):
        pytest.skip("needs both the full and the slim build in the cache")
    for store in (full, slim):  # the builds, shared with the real cache
        (cache / "providers").mkdir(exist_ok=True)
        (cache / "providers" / store.name).symlink_to(store)
    infra = _copy_infra(tmp_path)
    lock = infra / ".terraform.lock.hcl"

    def switch(profile: str) -> subprocess.CompletedProcess[str]:
        lock.write_text(
            'provider "registry.opentofu.org/hashicorp/aws" {\n'
            f'  version     = "{version}"\n  hashes = ["h1:someotherbuild="]\n}}\n'
        )
        env = dict(os.environ) | {
            "SMARTSTACK_CACHE": str(cache),
            "SMARTSTACK_INFRASTRUCTURE": str(infra),
            "SMARTSTACK_TOOLCHAIN_ROUTE": "source",
            "SMARTSTACK_PROVIDER_PROFILE": profile,
        }
        result = subprocess.run(["bash", str(SCRIPT), "provider"], env=env, capture_output=True,
                                text=True, check=False, timeout=300)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "building" not in result.stderr
        return result

    to_full = switch("full")
    assert f"AWS provider {version} (full) already built; switching the mirror to it" in (
        to_full.stderr
    )
    assert (cache / link / name).resolve() == (full / "linux_amd64" / name).resolve()
    assert not lock.exists() and f"removed {lock}" in to_full.stderr

    to_slim = switch("slim")
    assert "already built; switching the mirror to it" in to_slim.stderr
    assert (cache / link / name).resolve() == (slim / "linux_amd64" / name).resolve()
    assert not lock.exists()

    again = switch("slim")
    assert " services) present" in again.stderr
    assert lock.exists()  # nothing switched, nothing checked
    assert (cache / "tofu.rc").read_text().count("filesystem_mirror") == 1
