"""Use-cases over the OpenTofu stacks: plan and apply one environment.

A stack is a directory of ``.tf`` files; an environment is its tfvars file
and its own state key in the S3 backend.  Plans are saved and the saved plan
is what gets applied, so what was summarised is exactly what runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import ClientError

from smartstack.aws import AwsTarget, target_for
from smartstack.config import Settings
from smartstack.environments import environment_names, load_environment
from smartstack.errors import NotRunningError
from smartstack.state_backend import BackendLayout, backend_layout
from smartstack.tofu import BackendConfig, PlanSummary, Tofu
from smartstack.toolchain import toolchain


@dataclass(frozen=True)
class StackResult:
    environment: str
    plan: PlanSummary
    applied: bool
    outputs: dict[str, object]
    seconds: float


def backend_for(target: AwsTarget, layout: BackendLayout, stack: str) -> BackendConfig:
    """Backend settings for one state key; fails clearly when bootstrap never ran."""
    try:
        key_arn = target.client("kms").describe_key(KeyId=layout.kms_alias)["KeyMetadata"]["Arn"]
        target.client("s3").head_bucket(Bucket=layout.bucket)
    except ClientError as exc:
        raise NotRunningError(
            f"the state backend ({layout.bucket}) is missing: run `smartstack bootstrap` first."
        ) from exc
    return BackendConfig(
        bucket=layout.bucket,
        key=layout.keys[stack],
        region=layout.region,
        lock_table=layout.lock_table,
        kms_key_id=key_arn,
        path_style=target.has_custom_endpoint,
    )


def environment_tofu(
    settings: Settings, target: AwsTarget, env: str, log: Callable[[str], None] = lambda s: None
) -> Tofu:
    return Tofu(
        toolchain=toolchain(settings).require(),
        target=target,
        stack_dir=settings.infrastructure_dir,
        data_dir=settings.state_dir / "tofu" / "environments" / env,
        label=f"stack {env}",
        log=log,
    )


def plan_environment(
    settings: Settings, env: str, target: AwsTarget | None = None, destroy: bool = False
) -> tuple[Tofu, PlanSummary]:
    """init + plan, saving the plan beside the environment's data directory."""
    config = load_environment(settings.configs_dir, env)
    target = target or target_for(settings)
    layout = backend_layout(target, environment_names(settings.configs_dir), settings.project)
    tofu = environment_tofu(settings, target, env)
    tofu.init(backend_for(target, layout, env))
    plan_file = tofu.data_dir / ("destroy.tfplan" if destroy else "apply.tfplan")
    return tofu, tofu.plan(config.tfvars_path, plan_file, destroy=destroy)


def apply_environment(
    settings: Settings, env: str, target: AwsTarget | None = None, destroy: bool = False
) -> StackResult:
    """Plan, then apply that saved plan when it changes anything."""
    started = time.monotonic()
    tofu, plan = plan_environment(settings, env, target, destroy=destroy)
    if plan.has_changes:
        tofu.apply(plan.plan_file)
    outputs = {} if destroy else tofu.output()
    return StackResult(env, plan, plan.has_changes, outputs, time.monotonic() - started)
