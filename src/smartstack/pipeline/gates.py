"""Promotion gates, from each environment's deploy policy in its tfvars.

* an environment that promotes from none (dev) takes any release built from
  its ``deploy_branch`` (main);
* one that promotes from another (staging from dev, prod from staging) takes
  only a release that succeeded there;
* ``require_approval`` adds an approval for that release and environment, and
  ``approver_must_differ`` forbids the approver being whoever deployed it to
  the environment it promotes from.
"""

from __future__ import annotations

from smartstack.core.environments import EnvironmentConfig
from smartstack.core.errors import UsageError
from smartstack.pipeline.ledger import Ledger


class GateError(UsageError):
    """A release may not be deployed to this environment yet."""

    code = "gate"


def check_gates(config: EnvironmentConfig, ledger: Ledger, release: str, branch: str) -> str:
    """Raise :class:`GateError` unless the release may go to ``config.name``; returns why it may."""
    env = config.name
    if config.promotes_from is None:
        if branch != config.deploy_branch:
            raise GateError(
                f"{env} takes releases built from {config.deploy_branch}; {release} was built "
                f"from {branch or 'an unknown branch'}."
            )
        reason = f"built from {branch}"
    else:
        source = config.promotes_from
        passed = ledger.succeeded(source, release)
        if not passed:
            raise GateError(
                f"{release} has not passed {source}; deploy it to {source} first "
                f"(smartstack deploy {source} --release {release})."
            )
        reason = f"passed {source}"
        if config.require_approval:
            reason += "; " + _check_approval(config, ledger, release, passed[0].who)
    return reason


def check_approver(config: EnvironmentConfig, ledger: Ledger, release: str, approver: str) -> None:
    """Refuse at once an approval the deploy would refuse: of a release that has not passed
    the environment it promotes from, or by whoever deployed it there."""
    source = config.promotes_from
    if source is None:
        return
    passed = ledger.succeeded(source, release)
    if not passed:
        raise GateError(
            f"{release} has not passed {source}; approve it once it has "
            f"(smartstack deploy {source} --release {release})."
        )
    if config.approver_must_differ and _same_person(approver, passed[0].who):
        raise GateError(
            f"{approver} deployed {release} to {source}; another person must approve it for "
            f"{config.name}."
        )


def _check_approval(config: EnvironmentConfig, ledger: Ledger, release: str, deployer: str) -> str:
    env = config.name
    approval = ledger.approval(env, release)
    if approval is None:
        raise GateError(
            f"{env} needs an approval for {release}: smartstack approve {env} {release}."
        )
    if config.approver_must_differ and _same_person(approval.approver, deployer):
        raise GateError(
            f"{release} was approved for {env} by {approval.approver}, who also deployed it to "
            f"{config.promotes_from}; another person must approve."
        )
    return f"approved by {approval.approver} at {approval.at}"


def _same_person(a: str, b: str) -> bool:
    """Assumed-role session ARNs name the person last: compare those names."""
    return a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]
