"""The stacks for real: OpenTofu and the AWS provider, S3 backend, DynamoDB lock.

From an empty local AWS the main job (``smartstack up``) applies the account
stack and then dev, staging and prod side by side, once for the module; the
tests then look at what exists.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from smartstack.aws.target import AwsTarget, environment_target, target_for
from smartstack.core.config import Settings
from smartstack.core.errors import StateLockedError, UsageError
from smartstack.infra.isolation import AccountFacts, IamSimulateEvaluator, evaluate, render_matrix
from smartstack.infra.stack import (
    StackProgress,
    StackResult,
    all_stacks,
    apply_stack,
    backend_for,
    plan_stack,
    stack_spec,
    stack_tofu,
)
from smartstack.infra.state_backend import backend_layout
from smartstack.infra.state_lock import release_state_lock, require_state_unlocked, state_lock
from smartstack.infra.toolchain import toolchain
from smartstack.local import platform, snapshots
from smartstack.local.persistence.store import CHECKPOINT
from smartstack.local.provision import main_job
from tests.conftest import ROOT
from tests.infra.inventory import Inventory, take_inventory
from tests.local.persistence.crash import kill

ENVS = ("dev", "staging", "prod")
STACKS = ("account", *ENVS)
RETENTION = {"dev": 7, "staging": 14, "prod": 30}
_ENV = r"(dev|staging|prod)"
CONVENTION = {
    "ssm": rf"^/smartstack/{_ENV}/[a-z0-9/_-]+$",
    "log group": rf"^/aws/[a-z/-]+/smartstack-{_ENV}-[a-z0-9-]+$",
    "kms alias": rf"^alias/smartstack-({_ENV}|tfstate|pipeline)$",
}
# Made by the account stack or before the dev stack (its generated password), not by it.
OUTLIVE_DEV_STACK = {"smartstack-dev-role", "alias/smartstack-dev", "/smartstack/dev/db-password"}
DEFAULT_CONVENTION = (
    rf"^smartstack-({_ENV}-[a-z0-9-]+|tfstate-[a-z0-9-]+|artifacts-[a-z0-9-]+|deployments)$"
)

Applied = tuple[AwsTarget, dict[str, StackResult]]
PROGRESS: list[StackProgress] = []  # what the module's main job reported, in order


@pytest.fixture(scope="module")
def applied(running_platform: Settings) -> Iterator[Applied]:
    """An empty local AWS with every stack applied once, as `smartstack up` does it."""
    platform.moto_server(running_platform).reset()
    assert all_stacks(running_platform) == STACKS
    result = main_job(running_platform, lambda _: None, PROGRESS.append)
    assert result.failures == ()
    yield target_for(running_platform), {r.stack: r for r in result.stacks}


def test_each_stack_applies_into_its_own_state_key(applied: Applied) -> None:
    target, results = applied
    assert all(r.applied and r.plan.add > 0 for r in results.values())
    s3 = target.client("s3")
    bucket = next(
        b["Name"]
        for b in s3.list_buckets()["Buckets"]
        if b["Name"].startswith("smartstack-tfstate-")
    )
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"account/terraform.tfstate"} | {f"env/{e}/terraform.tfstate" for e in ENVS}


def test_up_applies_the_environments_side_by_side_with_progress(applied: Applied) -> None:
    _, results = applied
    by_stack = {s: [p for p in PROGRESS if p.stack == s] for s in STACKS}
    for stack, events in by_stack.items():
        assert events[0].phase == "planning" and events[-1].phase == "done", stack
        applying = [p for p in events if p.phase == "applying"]
        total = results[stack].plan.add + results[stack].plan.change + results[stack].plan.destroy
        assert [p.done for p in applying] == list(range(total + 1)), stack  # one per resource
    account_done = PROGRESS.index(by_stack["account"][-1])
    first_env_event = min(PROGRESS.index(by_stack[env][0]) for env in ENVS)
    assert account_done < first_env_event  # the environments need the account's roles and keys
    # Side by side: every environment was planning or applying before any of them finished.
    first_done = min(PROGRESS.index(by_stack[env][-1]) for env in ENVS)
    assert all(PROGRESS.index(by_stack[env][1]) < first_done for env in ENVS)


def test_a_failing_environment_is_named_and_the_others_finish(
    running_platform: Settings, applied: Applied, tmp_path: Path
) -> None:
    """staging's tfvars break in a copy of the checkout; dev and prod still plan (no changes)."""
    shutil.copytree(ROOT / "infrastructure", tmp_path / "infrastructure")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "versions.env", tmp_path / "scripts" / "versions.env")
    tfvars = tmp_path / "infrastructure" / "configs" / "staging.tfvars"
    text = tfvars.read_text()
    assert "api_memory_mb                = 512" in text
    tfvars.write_text(text.replace("api_memory_mb                = 512", "api_memory_mb = 64"))
    settings = replace(running_platform, root=tmp_path)

    result = main_job(settings, lambda _: None)

    assert [f.stack for f in result.failures] == ["staging"], [str(f) for f in result.failures]
    assert "tofu plan failed" in result.failures[0].error
    assert "full output:" in result.failures[0].error  # the log to read
    assert sorted(r.stack for r in result.stacks) == ["account", "dev", "prod"]
    assert not any(r.applied for r in result.stacks)


def test_the_first_stack_outputs_follow_the_convention(applied: Applied) -> None:
    _, results = applied
    for env in ENVS:
        outputs = results[env].outputs
        assert outputs["environment_parameter"] == f"/smartstack/{env}/environment"
        assert outputs["api_log_group"] == f"/aws/lambda/smartstack-{env}-api"


def test_a_second_plan_shows_no_changes(running_platform: Settings, applied: Applied) -> None:
    _plans_no_changes(running_platform, applied[0])


def _plans_no_changes(settings: Settings, target: AwsTarget) -> None:
    for stack in STACKS:
        _, plan = plan_stack(settings, stack, target)
        assert not plan.has_changes, f"{stack}: {plan.describe()}"


def _lasting(inventory: Inventory) -> Inventory:
    """What a restart must keep: an alarm's state is the evaluator's to change meanwhile, and
    a replayed write's times are those it started at (a few milliseconds off)."""
    alarms = [{k: v for k, v in a.items() if not k.startswith("State") and "Timestamp" not in k}
              for a in inventory.alarms]  # fmt: skip
    return replace(inventory, alarms=alarms)


def test_the_local_aws_killed_comes_back_with_every_stack_as_it_was(
    running_platform: Settings, applied: Applied
) -> None:
    """No checkpoint: everything comes back from the log of writes, the ids included."""
    target, _ = applied
    before = _lasting(take_inventory(target))
    kill(platform.moto_server(running_platform))
    assert platform.up(running_platform).aws_restarted
    assert _lasting(take_inventory(target)) == before
    _plans_no_changes(running_platform, target)


def test_local_down_and_up_keep_every_stack_as_it_was(
    running_platform: Settings, applied: Applied
) -> None:
    target, _ = applied
    before = _lasting(take_inventory(target))
    platform.down(running_platform)
    assert (platform.aws_state_dir(running_platform) / CHECKPOINT).is_file()
    platform.up(running_platform)
    assert _lasting(take_inventory(target)) == before
    _plans_no_changes(running_platform, target)


def test_a_snapshot_puts_back_the_local_aws_and_the_database_together(
    running_platform: Settings, applied: Applied
) -> None:
    target, _ = applied
    dsn = platform.postgres_server(running_platform).admin_dsn()
    snapshots.save(running_platform, "before-changes", replace_existing=True)
    target.client("ssm").put_parameter(Name="/made/after", Value="x", Type="String")
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("CREATE TABLE made_after (n int)")
    loaded = snapshots.load(running_platform, "before-changes")
    assert loaded.size_bytes > 0
    with pytest.raises(ClientError, match="ParameterNotFound"):
        target.client("ssm").get_parameter(Name="/made/after")
    with psycopg.connect(dsn) as db:
        assert db.execute("SELECT to_regclass('made_after')").fetchone() == (None,)
    _plans_no_changes(running_platform, target)
    snapshots.delete(running_platform, "before-changes")


def test_each_environment_role_plans_its_own_stack_refused_nothing(
    running_platform: Settings, applied: Applied, tmp_path: Path
) -> None:
    """As the pipeline's infra step runs on AWS: a GitHub job of the environment, with
    the environment's role from its OIDC token, IAM enforced.

    Every call counts, also those OpenTofu forgives (its backend ignores a refused
    workspace listing), so the assertion is on the local AWS's refusals.
    """
    server = platform.moto_server(running_platform)
    for env in ENVS:
        job = platform.github_job(running_platform, env, tmp_path)
        before = server.iam_stats("brief")["refusals_total"]
        _, plan = plan_stack(job, env, environment_target(job, env))
        refused = server.iam_refusals(since=before)
        assert refused == [], f"{env}: " + "\n".join(r["message"] for r in refused)
        assert not plan.has_changes, f"{env}: {plan.describe()}"


def test_a_held_lock_fails_fast_and_names_the_holder(
    running_platform: Settings, applied: Applied, tmp_path: Path
) -> None:
    target, _ = applied
    holder = _lock_holder(running_platform, target, tmp_path)
    try:
        _wait_for_prompt(holder)
        started = time.monotonic()
        with pytest.raises(StateLockedError) as info:
            plan_stack(running_platform, "dev", target)
        assert time.monotonic() - started < 60
        message = str(info.value)
        assert message.startswith(f"stack dev: the state is locked by {getpass.getuser()}@")
        assert "since 20" in message and "OperationTypeApply" in message
    finally:
        holder.communicate("no\n", timeout=120)
    _, plan = plan_stack(running_platform, "dev", target)
    assert not plan.has_changes


def test_a_dead_run_s_lock_is_named_and_released_only_by_its_id(
    running_platform: Settings, applied: Applied, tmp_path: Path
) -> None:
    target, _ = applied
    holder = _lock_holder(running_platform, target, tmp_path)
    _wait_for_prompt(holder)
    os.killpg(holder.pid, signal.SIGKILL)  # it dies holding the lock (and its provider)
    holder.wait(timeout=60)

    lock = state_lock(running_platform, "dev", target)
    assert lock is not None and lock.operation == "OperationTypeApply"
    assert lock.who.startswith(f"{getpass.getuser()}@")
    with pytest.raises(StateLockedError) as info:
        require_state_unlocked(running_platform, "dev", target)
    assert f"smartstack unlock dev --state-lock {lock.lock_id}" in str(info.value)
    with pytest.raises(StateLockedError) as info:
        plan_stack(running_platform, "dev", target)
    assert f"smartstack unlock dev --state-lock {lock.lock_id}" in str(info.value)

    with pytest.raises(UsageError, match="not 0000: nothing released"):
        release_state_lock(running_platform, "dev", target, "0000")
    assert state_lock(running_platform, "dev", target) == lock
    released = release_state_lock(running_platform, "dev", target, lock.lock_id)
    assert released.lock_id == lock.lock_id
    assert state_lock(running_platform, "dev", target) is None
    with pytest.raises(UsageError, match="not locked"):
        release_state_lock(running_platform, "dev", target, lock.lock_id)
    _, plan = plan_stack(running_platform, "dev", target)
    assert not plan.has_changes


def _lock_holder(settings: Settings, target: AwsTarget, data_dir: Path) -> subprocess.Popen[str]:
    """A real run that holds dev's state lock: an interactive apply waiting for its "yes"
    (in a session of its own, so that it and its provider can be killed together)."""
    layout = backend_layout(target, ENVS)
    spec = stack_spec(settings, "dev", layout, target)
    tofu = replace(stack_tofu(settings, target, spec), data_dir=data_dir)
    tofu.init(backend_for(target, layout, "dev"))
    variables = [f"-var={k}={v}" for k, v in spec.variables.items()]
    return subprocess.Popen(
        [str(tofu.toolchain.tofu), f"-chdir={tofu.stack_dir}", "apply", "-no-color",
         f"-var-file={spec.var_file}", *variables, "-var=log_retention_days=14"],
        env=tofu.env() | {"TF_INPUT": "1"}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def _wait_for_prompt(proc: subprocess.Popen[str], timeout: float = 300) -> None:
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


def _env_of(name: str) -> str | None:
    match = re.search(r"smartstack[-/](dev|staging|prod)[-/]", name)
    return match.group(1) if match else None


def test_every_name_follows_the_convention(applied: Applied) -> None:
    inventory = take_inventory(applied[0])
    wrong = [
        (kind, name)
        for kind, names in inventory.names.items()
        for name in names
        if not re.fullmatch(CONVENTION.get(kind, DEFAULT_CONVENTION), name)
    ]
    assert wrong == []
    for kind in ("lambda", "sqs", "sns", "rds", "http api", "log group"):
        per_env = {
            env: {n.replace(env, "<env>") for n in inventory.names[kind] if _env_of(n) == env}
            for env in ENVS
        }
        assert per_env["dev"] and per_env["dev"] == per_env["staging"] == per_env["prod"], kind


def test_every_log_group_keeps_its_environments_retention(applied: Applied) -> None:
    retention = take_inventory(applied[0]).retention
    assert retention
    assert {g: r for g, r in retention.items() if r != RETENTION[_env_of(g) or ""]} == {}


def _plan_json(settings: Settings, target: AwsTarget, env: str, tmp: Path) -> dict[str, Any]:
    """A real plan of the applied ``env``, as ``tofu show -json`` renders it."""
    layout = backend_layout(target, ENVS)
    spec = stack_spec(settings, env, layout, target)
    tofu = replace(stack_tofu(settings, target, spec), data_dir=tmp / env)
    tofu.init(backend_for(target, layout, env))
    plan = tofu.plan(spec.var_file, tmp / f"{env}.tfplan", spec.variables)
    shown: dict[str, Any] = json.loads(tofu.run("show", "-json", str(plan.plan_file)))
    return shown


def _dimensions(alarm: dict[str, Any]) -> dict[str, str]:
    """An alarm's dimensions, its metric's or its metric queries' (as DescribeAlarms has them)."""
    listed = list(alarm.get("Dimensions") or [])
    for query in alarm.get("Metrics") or []:
        listed += (query.get("MetricStat") or {}).get("Metric", {}).get("Dimensions") or []
    return {d["Name"]: d["Value"] for d in listed}


def test_every_function_and_api_has_its_alarms(applied: Applied) -> None:
    target, _ = applied
    inventory = take_inventory(target)
    pages = target.client("cloudwatch").get_paginator("describe_alarms").paginate()
    alarms = {a["AlarmName"]: a for page in pages for a in page["MetricAlarms"]}
    for env in ENVS:
        functions = [f for f in inventory.names["lambda"] if _env_of(f) == env]
        apis = {n: i for n, i in inventory.api_ids.items() if _env_of(n) == env}
        assert len(functions) == 3 and len(apis) == 1  # api, ai-processor, migrator
        expected = {f"{f}-{kind}" for f in functions for kind in ("error-rate", "duration")}
        expected |= {f"{name}-5xx" for name in apis}
        assert {name for name in alarms if _env_of(name) == env} == expected
        for function in functions:
            error_rate = alarms[f"{function}-error-rate"]
            assert any(q.get("Expression") for q in error_rate["Metrics"])
            assert _dimensions(error_rate) == {"FunctionName": function}
            duration = alarms[f"{function}-duration"]
            assert duration["ExtendedStatistic"] == "p99"
            assert _dimensions(duration) == {"FunctionName": function}
        for name, api_id in apis.items():
            assert _dimensions(alarms[f"{name}-5xx"]) == {"ApiId": api_id}
        topic = f"arn:aws:sns:{target.region}:{target.account_id()}:smartstack-{env}-alerts"
        assert all(alarms[name]["AlarmActions"] == [topic] for name in expected)


def test_destroying_dev_and_applying_it_again_leaves_the_others_alone(
    running_platform: Settings, applied: Applied
) -> None:
    target, _ = applied
    before = take_inventory(target)

    destroyed = apply_stack(running_platform, "dev", target, destroy=True)
    assert destroyed.plan.destroy > 0 and destroyed.plan.add == 0
    after_destroy = take_inventory(target)
    for kind, names in after_destroy.names.items():
        assert {n for n in names if _env_of(n) == "dev"} <= OUTLIVE_DEV_STACK, kind
        others = [n for n in before.names[kind] if _env_of(n) in ("staging", "prod")]
        assert [n for n in names if _env_of(n) in ("staging", "prod")] == others, kind

    apply_stack(running_platform, "dev", target)
    again = take_inventory(target)
    for kind, names in before.names.items():
        assert sorted(again.names[kind]) == sorted(names), kind


def test_each_role_reaches_only_its_own_environment(applied: Applied) -> None:
    """The account stack's rendered policies, judged by a real IAM evaluator.

    moto does not enforce resource-level IAM, so this cannot be asked of it.
    """
    target, results = applied
    outputs = results["account"].outputs
    policies: dict[str, object] = outputs["role_policies"]  # type: ignore[assignment]
    key_policies: dict[str, str] = outputs["kms_key_policies"]  # type: ignore[assignment]
    facts = AccountFacts(
        account_id=target.account_id(),
        region=target.region,
        state_bucket=str(outputs["state_bucket"]),
        lock_table=str(outputs["lock_table"]),
        kms_key_arns=outputs["kms_key_arns"],  # type: ignore[arg-type]
        kms_key_policies={e: json.loads(p) for e, p in key_policies.items()},
    )
    identity = {env: [json.loads(p) for p in documents] for env, documents in policies.items()}  # type: ignore[attr-defined]
    evaluator = IamSimulateEvaluator(ROOT / "tools" / "iam-simulate")
    outcomes = evaluate(evaluator, facts, ENVS, identity)
    print(render_matrix(outcomes))
    assert len(outcomes) == 3 * 3 * 10
    assert render_matrix([o for o in outcomes if not o.correct]).count("\n") == 0


def _retention_check(settings: Settings, plan_file: Path, expected: int) -> dict[str, int]:
    """Our checkov check (CKV_SSTK_1) on a resolved plan: passed and failed counts."""
    checkov = toolchain(settings).checkov
    result = subprocess.run(
        [str(checkov), "-f", str(plan_file), "--framework", "terraform_plan", "--skip-download",
         "--external-checks-dir", str(ROOT / "tools" / "checkov"), "--check", "CKV_SSTK_1",
         "-o", "json", "--quiet"],
        capture_output=True, text=True, check=False, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp",
             "SMARTSTACK_EXPECTED_RETENTION": str(expected)},
    )  # fmt: skip
    report = json.loads(result.stdout)
    summary = (report[0] if isinstance(report, list) else report)["summary"]
    return {"passed": summary["passed"], "failed": summary["failed"]}


def test_the_adr_retention_check_holds_on_each_resolved_plan(
    running_platform: Settings, applied: Applied, tmp_path: Path
) -> None:
    target, _ = applied
    for env in ENVS:
        plan_file = tmp_path / f"{env}.json"
        plan_file.write_text(json.dumps(_plan_json(running_platform, target, env, tmp_path)))
        right = _retention_check(running_platform, plan_file, RETENTION[env])
        assert right["failed"] == 0 and right["passed"] >= 3, (env, right)
        wrong = _retention_check(running_platform, plan_file, 365)
        assert wrong["failed"] == right["passed"], (env, wrong)
