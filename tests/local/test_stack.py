"""The first real stack: real OpenTofu and AWS provider, S3 backend, DynamoDB lock."""

from __future__ import annotations

import getpass
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from smartstack.aws import AwsTarget
from smartstack.config import Settings
from smartstack.errors import StateLockedError
from smartstack.local import platform
from smartstack.stack import (
    StackResult,
    apply_environment,
    backend_for,
    environment_tofu,
    plan_environment,
)
from smartstack.state_backend import backend_layout, bootstrap

ENVS = ("dev", "staging", "prod")
RETENTION = {"dev": 7, "staging": 14, "prod": 30}


@pytest.fixture(scope="module")
def applied(running_platform: Settings) -> Iterator[tuple[AwsTarget, dict[str, StackResult]]]:
    """An empty local AWS, bootstrapped, with all three environments applied once."""
    from smartstack.aws import target_for

    platform.moto_server(running_platform).reset()
    target = target_for(running_platform)
    bootstrap(target, ENVS)
    results = {env: apply_environment(running_platform, env, target) for env in ENVS}
    yield target, results


def test_each_environment_applies_into_its_own_state_key(
    applied: tuple[AwsTarget, dict[str, StackResult]],
) -> None:
    target, results = applied
    assert all(r.applied and r.plan.add == 2 for r in results.values())
    bucket = next(
        b["Name"]
        for b in target.client("s3").list_buckets()["Buckets"]
        if b["Name"].startswith("smartstack-tfstate-")
    )
    keys = {o["Key"] for o in target.client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {f"env/{env}/terraform.tfstate" for env in ENVS}


def test_resources_follow_the_convention_and_the_tfvars(
    applied: tuple[AwsTarget, dict[str, StackResult]],
) -> None:
    target, results = applied
    logs, ssm = target.client("logs"), target.client("ssm")
    for env in ENVS:
        group = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/smartstack-{env}-")
        assert [(g["logGroupName"], g["retentionInDays"]) for g in group["logGroups"]] == [
            (f"/aws/lambda/smartstack-{env}-api", RETENTION[env])
        ]
        assert results[env].outputs["environment_parameter"] == f"/smartstack/{env}/environment"
        tags = ssm.list_tags_for_resource(
            ResourceType="Parameter", ResourceId=f"/smartstack/{env}/environment"
        )["TagList"]
        assert {t["Key"]: t["Value"] for t in tags} == {
            "Project": "smartstack",
            "Environment": env,
            "ManagedBy": "opentofu",
        }


def test_a_second_plan_shows_no_changes(
    running_platform: Settings,
    applied: tuple[AwsTarget, dict[str, StackResult]],
) -> None:
    target, _ = applied
    for env in ENVS:
        _, plan = plan_environment(running_platform, env, target)
        assert not plan.has_changes, f"{env}: {plan.describe()}"


def test_a_held_lock_fails_fast_and_names_the_holder(
    running_platform: Settings,
    applied: tuple[AwsTarget, dict[str, StackResult]],
    tmp_path: Path,
) -> None:
    target, _ = applied
    layout = backend_layout(target, ENVS)
    tofu = replace(environment_tofu(running_platform, target, "dev"), data_dir=tmp_path)
    tofu.init(backend_for(target, layout, "dev"))
    env = tofu.env() | {"TF_INPUT": "1"}
    # A real run that holds the lock: an interactive apply waiting for its "yes".
    holder = subprocess.Popen(
        [
            str(tofu.toolchain.tofu),
            f"-chdir={tofu.stack_dir}",
            "apply",
            "-no-color",
            f"-var-file={running_platform.configs_dir / 'dev.tfvars'}",
            "-var=log_retention_days=14",
        ],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_prompt(holder)
        started = time.monotonic()
        with pytest.raises(StateLockedError) as info:
            plan_environment(running_platform, "dev", target)
        assert time.monotonic() - started < 30
        message = str(info.value)
        assert message.startswith(f"stack dev: the state is locked by {getpass.getuser()}@")
        assert "since 20" in message and "OperationTypeApply" in message
    finally:
        holder.communicate("no\n", timeout=60)
    _, plan = plan_environment(running_platform, "dev", target)
    assert not plan.has_changes


def _wait_for_prompt(proc: subprocess.Popen[str], timeout: float = 120) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        char = proc.stdout.read(1)
        if not char:
            raise AssertionError(f"the lock holder exited early:\n{seen}")
        seen += char
        if seen.endswith("Enter a value: "):
            return
    raise AssertionError(f"the lock holder never asked for confirmation:\n{seen}")
