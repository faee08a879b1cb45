"""The warm evaluator (serve.mjs) decides as the batch evaluator of the isolation matrix."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from smartstack.infra.isolation import (
    AccountFacts,
    Case,
    IamSimulateEvaluator,
    isolation_cases,
)
from smartstack.local.iam.evaluator import (
    ALLOWED,
    EvaluatorError,
    NodeEvaluator,
    Question,
)
from tests.conftest import ROOT
from tests.infra.test_isolation import ENVS, FACTS, scoped_policy

TOOL = ROOT / "tools" / "iam-simulate"


@pytest.fixture(scope="module")
def evaluator() -> NodeEvaluator:
    node = NodeEvaluator(TOOL)
    yield node  # type: ignore[misc]
    node.close()


def question(case: Case, facts: AccountFacts, policies: list[dict]) -> Question:  # type: ignore[type-arg]
    """The same request the batch evaluator builds for ``case``."""
    principal = facts.role_arn(case.role_env)
    resource_policy = facts.resource_policy(case)
    return Question(
        principal=principal,
        action=case.probe.action,
        resource=case.probe.resource,
        account_id=facts.account_id,
        context={
            "aws:PrincipalArn": principal,
            "aws:SecureTransport": "true",
            "aws:PrincipalAccount": facts.account_id,
            **case.probe.context,
        },
        identity_policies=[json.dumps(p) for p in policies],
        resource_policy=json.dumps(resource_policy) if resource_policy else None,
    )


@pytest.mark.parametrize("leaky", [False, True], ids=["scoped", "leaky"])
def test_it_decides_the_isolation_matrix_as_the_batch_evaluator(
    evaluator: NodeEvaluator, leaky: bool
) -> None:
    policies = {e: [scoped_policy(e)] for e in ENVS}
    if leaky:
        policies["dev"] = [scoped_policy("dev", parameter_glob="*")]
    cases = isolation_cases(FACTS, ENVS)
    batch = IamSimulateEvaluator(TOOL).decide(cases, FACTS, policies)

    served = [evaluator.decide(question(c, FACTS, policies[c.role_env])).decision for c in cases]

    assert served == batch
    assert len(cases) == 90 and ALLOWED in served and "ImplicitlyDenied" in served


def test_a_denial_says_which_policy_denied(evaluator: NodeEvaluator) -> None:
    case = next(c for c in isolation_cases(FACTS, ENVS) if c.role_env != c.target_env)
    decision = evaluator.decide(question(case, FACTS, [scoped_policy(case.role_env)]))
    assert decision.decision == "ImplicitlyDenied"
    assert [(r.policy_type, r.denial_type) for r in decision.reasons] == [("identity", "Implicit")]

    deny = {"Version": "2012-10-17", "Statement": [
        {"Sid": "NoProd", "Effect": "Deny", "Action": "*", "Resource": "*"}]}  # fmt: skip
    own = next(c for c in isolation_cases(FACTS, ENVS) if c.role_env == c.target_env)
    decision = evaluator.decide(question(own, FACTS, [scoped_policy(own.role_env), deny]))
    assert decision.decision == "ExplicitlyDenied"
    assert [(r.policy_type, r.denial_type, r.statement_id) for r in decision.reasons] == [
        ("identity", "Explicit", "NoProd")
    ]


def test_repeated_questions_are_answered_from_the_cache(evaluator: NodeEvaluator) -> None:
    case = isolation_cases(FACTS, ENVS)[0]
    extra = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}
    policies = [scoped_policy(case.role_env), {"Version": "2012-10-17", "Statement": [extra]}]
    q = question(case, FACTS, policies)
    before = evaluator.evaluations
    first, second = evaluator.decide(q), evaluator.decide(q)
    assert first == second
    assert evaluator.evaluations == before + 1


def test_it_restarts_a_dead_evaluator() -> None:
    node = NodeEvaluator(TOOL)
    try:
        cases = isolation_cases(FACTS, ENVS)
        policies = [scoped_policy(cases[0].role_env)]
        assert node.decide(question(cases[0], FACTS, policies)).allowed
        assert node.pid is not None
        os.kill(node.pid, signal.SIGKILL)

        # A new question (not cached) goes to a new process, policies sent again.
        assert node.decide(question(cases[1], FACTS, policies)).allowed
        assert node.starts == 2
    finally:
        node.close()


def test_no_answer_in_time_is_no_decision(tmp_path: Path) -> None:
    (tmp_path / "node_modules" / "@cloud-copilot" / "iam-simulate").mkdir(parents=True)
    (tmp_path / "serve.mjs").write_text("process.stdin.resume()\n")  # reads, never answers
    node = NodeEvaluator(tmp_path, timeout=0.5)
    try:
        case = isolation_cases(FACTS, ENVS)[0]
        with pytest.raises(EvaluatorError, match=r"did not answer within 0.5s"):
            node.decide(question(case, FACTS, [scoped_policy(case.role_env)]))
        assert node.pid is None  # the silent process was killed
    finally:
        node.close()
