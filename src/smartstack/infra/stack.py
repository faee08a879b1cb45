"""Use-cases over the OpenTofu stacks: plan and apply the account or an environment.

A stack is a directory of ``.tf`` files plus a tfvars file and its own state
key in the S3 backend: ``account/`` once per AWS account, the root
``infrastructure/`` once per environment.  Plans are saved and the saved plan
is what gets applied, so what was summarised is exactly what runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from smartstack.aws.errors import NOT_FOUND_CODES, error_code
from smartstack.aws.target import AwsTarget, target_for
from smartstack.core.config import Settings
from smartstack.core.environments import environment_names, load_environment
from smartstack.core.errors import CommandFailedError, ConfigError, NotRunningError
from smartstack.core.hcl import load_file
from smartstack.core.naming import ACCOUNT_STACK
from smartstack.infra.stack_inputs import prepare_environment_inputs
from smartstack.infra.state_backend import BackendLayout, backend_layout
from smartstack.infra.tofu import BackendConfig, PlanSummary, Tofu
from smartstack.infra.toolchain import toolchain


@dataclass(frozen=True)
class StackSpec:
    """Which directory, tfvars file and extra variables make one stack's run."""

    name: str  # "account" or an environment
    directory: Path
    var_file: Path
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StackResult:
    stack: str
    plan: PlanSummary
    applied: bool
    outputs: dict[str, object]
    seconds: float


def backend_for(target: AwsTarget, layout: BackendLayout, stack: str) -> BackendConfig:
    """Backend settings for one state key; fails clearly when bootstrap never ran.

    It makes only calls an environment's role may make on AWS: the state key is named
    by its alias ARN (the roles use the key only through S3 and DynamoDB, never
    ``kms:DescribeKey`` directly), and the bucket is checked by listing the stack's own
    prefix (``HeadBucket`` needs ``s3:ListBucket`` on the whole bucket).
    """
    key = layout.keys[stack]
    prefix = key.rsplit("/", 1)[0]
    try:
        target.client("s3").list_objects_v2(Bucket=layout.bucket, Prefix=f"{prefix}/", MaxKeys=1)
    except ClientError as exc:
        if error_code(exc) in {"NoSuchBucket", *NOT_FOUND_CODES}:
            raise NotRunningError(
                f"the state backend ({layout.bucket}) is missing: run `smartstack bootstrap` first."
            ) from exc
        raise CommandFailedError(
            f"cannot read the state of {stack} in {layout.bucket} as {target.caller_arn()}: "
            f"{error_code(exc)}; that identity needs s3:ListBucket on the prefix {prefix}/."
        ) from exc
    return BackendConfig(
        bucket=layout.bucket,
        key=key,
        region=layout.region,
        lock_table=layout.lock_table,
        kms_key_id=f"arn:aws:kms:{layout.region}:{target.account_id()}:{layout.kms_alias}",
        path_style=target.has_custom_endpoint,
        # Workspaces (unused) under the stack's own prefix: the backend lists it at init.
        workspace_key_prefix=f"{prefix}/workspaces",
    )


def declared_variables(directory: Path) -> set[str]:
    """Names of the ``variable`` blocks of a stack (passing an undeclared -var is an error)."""
    names: set[str] = set()
    for path in sorted(directory.glob("*.tf")):
        for block in load_file(path).get("variable", []):
            names.update(name.strip('"') for name in block)
    return names


def stack_spec(
    settings: Settings, stack: str, layout: BackendLayout, target: AwsTarget
) -> StackSpec:
    """Everything one run needs; also writes the inputs OpenTofu reads but does not make."""
    if stack == ACCOUNT_STACK:
        directory = settings.infrastructure_dir / "account"
        candidates = [settings.configs_dir / "account.tfvars", directory / "account.tfvars"]
        var_file = next((p for p in candidates if p.is_file()), None)
        if var_file is None:
            raise ConfigError(f"no account.tfvars in {settings.configs_dir} or {directory}.")
        offered = {"state_bucket": layout.bucket, "lock_table": layout.lock_table}
    else:
        directory = settings.infrastructure_dir
        var_file = load_environment(settings.configs_dir, stack).tfvars_path
        offered = prepare_environment_inputs(settings, target, stack)
    # A custom endpoint (the local AWS) serves buckets by path, not by host name.
    offered["s3_use_path_style"] = "true" if target.has_custom_endpoint else "false"
    # Under a TLS-only policy every request over a plain-HTTP endpoint is denied (see bootstrap).
    offered["tls_only_bucket_policies"] = "true" if target.uses_tls("s3") else "false"
    declared = declared_variables(directory)
    return StackSpec(
        stack, directory, var_file, {k: v for k, v in offered.items() if k in declared}
    )


def stack_tofu(settings: Settings, target: AwsTarget, spec: StackSpec) -> Tofu:
    return Tofu(
        toolchain=toolchain(settings).require(),
        target=target,
        stack_dir=spec.directory,
        data_dir=settings.state_dir / "tofu" / spec.name,
        label=f"stack {spec.name}",
        timeout_seconds=settings.tofu_timeout_seconds,
        grace_seconds=settings.tofu_grace_seconds,
        unlock_hint=(
            "tofu force-unlock {lock_id}"
            if spec.name == ACCOUNT_STACK
            else f"smartstack unlock {spec.name} --state-lock {{lock_id}}"
        ),
    )


def all_stacks(settings: Settings) -> tuple[str, ...]:
    """The account stack first, then the environments in promotion order."""
    return (ACCOUNT_STACK, *environment_names(settings.configs_dir))


@dataclass(frozen=True)
class PreparedStack:
    """A stack ready to plan: its spec (inputs written) and the backend it lives in."""

    spec: StackSpec
    layout: BackendLayout


def prepare_stack(settings: Settings, stack: str, target: AwsTarget) -> PreparedStack:
    """Write the inputs the stack reads but cannot make; the one step here with side effects."""
    layout = backend_layout(target, environment_names(settings.configs_dir), settings.project)
    return PreparedStack(stack_spec(settings, stack, layout, target), layout)


def plan_stack(
    settings: Settings,
    stack: str,
    target: AwsTarget | None = None,
    destroy: bool = False,
    prepared: PreparedStack | None = None,
) -> tuple[Tofu, PlanSummary]:
    """init + plan, saving the plan in the stack's data directory.

    ``prepared`` reuses a :func:`prepare_stack` done earlier in the same run.
    """
    if stack != ACCOUNT_STACK:
        load_environment(settings.configs_dir, stack)  # bad input first, before anything
    toolchain(settings).require()  # then tools, before any AWS call or generated input
    target = target or target_for(settings)
    prepared = prepared or prepare_stack(settings, stack, target)
    spec = prepared.spec
    tofu = stack_tofu(settings, target, spec)
    tofu.init(backend_for(target, prepared.layout, stack))
    plan_file = tofu.data_dir / ("destroy.tfplan" if destroy else "apply.tfplan")
    return tofu, tofu.plan(spec.var_file, plan_file, spec.variables, destroy=destroy)


@dataclass(frozen=True)
class StackProgress:
    """Where one stack's run is: a phase, and during ``apply`` resources done of total."""

    stack: str
    phase: str  # planning, applying, done
    seconds: float
    done: int = 0
    total: int = 0


StackProgressHook = Callable[[StackProgress], None]
_RESOURCE_DONE = re.compile(r": (Creation|Modifications|Destruction) complete after ")


def apply_stack(
    settings: Settings,
    stack: str,
    target: AwsTarget | None = None,
    destroy: bool = False,
    progress: StackProgressHook | None = None,
) -> StackResult:
    """Plan, then apply that saved plan when it changes anything."""
    started = time.monotonic()

    def report(phase: str, done: int = 0, total: int = 0) -> None:
        if progress is not None:
            progress(StackProgress(stack, phase, time.monotonic() - started, done, total))

    report("planning")
    tofu, plan = plan_stack(settings, stack, target, destroy=destroy)
    if plan.has_changes:
        total, done = plan.add + plan.change + plan.destroy, 0
        report("applying", 0, total)

        def on_line(line: str) -> None:
            nonlocal done
            if _RESOURCE_DONE.search(line):
                done += 1
                report("applying", done, total)

        tofu.apply(plan.plan_file, on_line=on_line if progress else None)
    outputs = {} if destroy else tofu.output()
    report("done")
    return StackResult(stack, plan, plan.has_changes, outputs, time.monotonic() - started)


def infra_fingerprint(settings: Settings, prepared: PreparedStack, target: AwsTarget) -> str:
    """A hash of everything an apply of the stack depends on that the tool can see.

    The stack's code and tfvars, the variables the runner offers, the pinned
    tool versions and the version of the state object itself (so an apply by
    anyone else changes it).  Equal fingerprints mean a plan would find
    nothing of ours to change; drift made outside OpenTofu is not seen.  It
    only reads: the inputs were written by :func:`prepare_stack`.
    """
    tools = toolchain(settings)
    digest = hashlib.sha256()
    for path in sorted(settings.infrastructure_dir.rglob("*")):
        if path.suffix in (".tf", ".tfvars", ".json") and ".terraform" not in path.parts:
            digest.update(str(path.relative_to(settings.infrastructure_dir)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    digest.update(json.dumps(prepared.spec.variables, sort_keys=True).encode())
    digest.update(f"{tools.opentofu_version}/{tools.aws_provider_version}".encode())
    digest.update(_state_version(target, prepared.layout, prepared.spec.name).encode())
    return digest.hexdigest()


def _state_version(target: AwsTarget, layout: BackendLayout, stack: str) -> str:
    try:
        head = target.client("s3").head_object(Bucket=layout.bucket, Key=layout.keys[stack])
    except ClientError:
        return "no state"
    return str(head.get("VersionId") or head.get("ETag") or "")
