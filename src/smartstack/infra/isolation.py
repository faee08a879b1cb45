"""Environment isolation, proven by evaluating the real IAM policies.

The local AWS does not enforce resource-level IAM, so asking it proves nothing.
Instead every role's rendered policies are evaluated by a real IAM policy
evaluator for a matrix of (role, environment, resource kind, read/write):
each role must be allowed on its own environment and denied on every other.
Locally the evaluator is ``@cloud-copilot/iam-simulate`` (a Node library, run as
a separate process); against AWS, IAM's own ``SimulatePrincipalPolicy``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from smartstack.core.errors import CommandFailedError, ToolMissingError
from smartstack.core.naming import DEFAULT_PROJECT, role_name, state_key

Policy = dict[str, Any]


@dataclass(frozen=True)
class Probe:
    """One request a role might make against one environment's resource."""

    kind: str  # parameters, state key, lock item, log group, kms key
    access: str  # read or write
    action: str
    resource: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class Case:
    role_env: str
    target_env: str
    probe: Probe

    @property
    def expect_allowed(self) -> bool:
        return self.role_env == self.target_env


@dataclass(frozen=True)
class Outcome:
    case: Case
    decision: str  # Allowed, ExplicitlyDenied, ImplicitlyDenied, Error

    @property
    def correct(self) -> bool:
        return (self.decision == "Allowed") == self.case.expect_allowed


@dataclass(frozen=True)
class AccountFacts:
    """What the probes need to name resources: from the account stack's outputs."""

    account_id: str
    region: str
    state_bucket: str
    lock_table: str
    kms_key_arns: Mapping[str, str]
    # KMS needs its key policy to grant (or delegate to IAM) as well: env -> key policy.
    kms_key_policies: Mapping[str, Policy]
    project: str = DEFAULT_PROJECT

    def resource_policy(self, case: Case) -> Policy | None:
        if case.probe.kind == "kms key":
            return dict(self.kms_key_policies[case.target_env])
        return None

    def role_arn(self, env: str) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{role_name(env, self.project)}"


def probes_for(facts: AccountFacts, env: str) -> list[Probe]:
    """Read and write requests on each kind of resource environment ``env`` owns."""
    p, region, account = facts.project, facts.region, facts.account_id
    parameter = f"arn:aws:ssm:{region}:{account}:parameter/{p}/{env}/db-password"
    state_object = f"arn:aws:s3:::{facts.state_bucket}/{state_key(env)}"
    table = f"arn:aws:dynamodb:{region}:{account}:table/{facts.lock_table}"
    lock = {"dynamodb:LeadingKeys": [f"{facts.state_bucket}/{state_key(env)}"]}
    log_group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{p}-{env}-api"
    key = facts.kms_key_arns[env]
    return [
        Probe("parameters", "read", "ssm:GetParameter", parameter, {}),
        Probe("parameters", "write", "ssm:PutParameter", parameter, {}),
        Probe("state key", "read", "s3:GetObject", state_object, {}),
        Probe("state key", "write", "s3:PutObject", state_object, {}),
        Probe("lock item", "read", "dynamodb:GetItem", table, lock),
        Probe("lock item", "write", "dynamodb:PutItem", table, lock),
        Probe("log group", "read", "logs:FilterLogEvents", log_group, {}),
        Probe("log group", "write", "logs:PutRetentionPolicy", log_group, {}),
        Probe("kms key", "read", "kms:Decrypt", key, {}),
        Probe("kms key", "write", "kms:Encrypt", key, {}),
    ]


def isolation_cases(facts: AccountFacts, envs: Sequence[str]) -> list[Case]:
    return [
        Case(role_env, target_env, probe)
        for role_env in envs
        for target_env in envs
        for probe in probes_for(facts, target_env)
    ]


def require_iam_simulate(tool_dir: Path) -> str:
    """The ``node`` binary, once ``tool_dir`` holds the installed evaluator package."""
    if not (tool_dir / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        raise ToolMissingError(
            f"{tool_dir}: the IAM evaluator is not installed; run scripts/setup.sh."
        )
    node = shutil.which("node")
    if node is None:
        raise ToolMissingError("node is not installed; install Node.js 20+ to evaluate IAM.")
    return node


class Evaluator(Protocol):
    def decide(
        self, cases: Sequence[Case], facts: AccountFacts, policies: Mapping[str, Sequence[Policy]]
    ) -> list[str]: ...


class IamSimulateEvaluator:
    """``@cloud-copilot/iam-simulate``, driven through ``tools/iam-simulate/evaluate.mjs``."""

    def __init__(self, tool_dir: Path) -> None:
        self.script = tool_dir / "evaluate.mjs"
        self.node = require_iam_simulate(tool_dir)

    def decide(
        self, cases: Sequence[Case], facts: AccountFacts, policies: Mapping[str, Sequence[Policy]]
    ) -> list[str]:
        requests = [
            {
                "principal": facts.role_arn(c.role_env),
                "action": c.probe.action,
                "resource": c.probe.resource,
                "accountId": facts.account_id,
                "context": {
                    "aws:PrincipalArn": facts.role_arn(c.role_env),
                    "aws:SecureTransport": "true",
                    "aws:PrincipalAccount": facts.account_id,
                    **c.probe.context,
                },
                "identityPolicies": list(policies[c.role_env]),
                "resourcePolicy": facts.resource_policy(c),
            }
            for c in cases
        ]
        result = subprocess.run(
            [self.node, str(self.script)],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise CommandFailedError(f"the IAM evaluator failed: {result.stderr.strip()[-300:]}")
        return [str(r["decision"]) for r in json.loads(result.stdout)]


def evaluate(
    evaluator: Evaluator,
    facts: AccountFacts,
    envs: Sequence[str],
    policies: Mapping[str, Sequence[Policy]],
) -> list[Outcome]:
    cases = isolation_cases(facts, envs)
    return [
        Outcome(c, d) for c, d in zip(cases, evaluator.decide(cases, facts, policies), strict=True)
    ]


def render_matrix(outcomes: Sequence[Outcome]) -> str:
    """One line per case: role, target environment, resource, access, expected and got."""
    lines = [
        f"{'role':<9} {'target':<8} {'resource':<11} {'access':<6} {'action':<24} "
        f"{'expected':<8} {'got':<17} ok"
    ]
    for o in outcomes:
        c = o.case
        lines.append(
            f"{c.role_env:<9} {c.target_env:<8} {c.probe.kind:<11} {c.probe.access:<6} "
            f"{c.probe.action:<24} {'allow' if c.expect_allowed else 'deny':<8} "
            f"{o.decision:<17} {'yes' if o.correct else 'NO'}"
        )
    return "\n".join(lines)
