"""Promotion gates, from each environment's deploy policy in its tfvars.

* an environment that promotes from none (dev) takes any release built from
  its ``deploy_branch`` (main);
* one that promotes from another (staging from dev, prod from staging) takes
  only a release that succeeded there, with the very manifest (its sha256) that
  succeeded;
* ``require_approval`` adds an approval of that manifest for the environment, by a
  person (an IAM user, never a role session), and ``approver_must_differ`` forbids
  the approver being whoever deployed it to the environment it promotes from.

The policy obeyed, ``protect_from_destroy`` included, is the stricter of the checkout's
tfvars and the release's own (see :func:`gate_config`): editing either cannot loosen it.
"""

from __future__ import annotations

from dataclasses import replace

from smartstack.core.environments import EnvironmentConfig
from smartstack.core.errors import UsageError
from smartstack.core.naming import person_of
from smartstack.pipeline.ledger import Attempt, Ledger
from smartstack.release.store import PublishedRelease


class GateError(UsageError):
    """A release may not be deployed to this environment yet."""

    code = "gate"


def gate_config(checkout: EnvironmentConfig, released: EnvironmentConfig) -> EnvironmentConfig:
    """The deploy policy to obey: the release's and the checkout's together, the stricter
    where they differ, so an edited ``<env>.tfvars`` on either side loosens nothing."""
    for name in ("promotes_from", "deploy_branch"):
        ours, theirs = getattr(checkout, name), getattr(released, name)
        if ours != theirs:
            raise GateError(
                f"{checkout.name}'s {name} is {ours!r} in this checkout and {theirs!r} in the "
                "release; deploy from a checkout of the release's commit."
            )
    return replace(
        released,
        require_approval=checkout.require_approval or released.require_approval,
        approver_must_differ=checkout.approver_must_differ or released.approver_must_differ,
        protect_from_destroy=checkout.protect_from_destroy or released.protect_from_destroy,
    )


def check_gates(config: EnvironmentConfig, ledger: Ledger, published: PublishedRelease) -> str:
    """Raise :class:`GateError` unless the release may go to ``config.name``; returns why it may."""
    env, release = config.name, published.release
    if config.promotes_from is None:
        branch = published.manifest.created_from or ""
        if branch != config.deploy_branch:
            raise GateError(
                f"{env} takes releases built from {config.deploy_branch}; {release} was built "
                f"from {branch or 'an unknown branch'}."
            )
        return f"built from {branch}"
    passed = _passed(config, ledger, published)
    reason = f"passed {config.promotes_from}"
    if config.require_approval:
        reason += "; " + _check_approval(config, ledger, published, [a.who for a in passed])
    return reason


def check_approver(
    config: EnvironmentConfig, ledger: Ledger, published: PublishedRelease, approver: str
) -> None:
    """Refuse at once an approval the deploy would refuse: by a role session, of a release
    that has not passed the environment it promotes from, or by whoever deployed it there."""
    _require_person(approver, f"{approver} is not one")
    if config.promotes_from is None:
        return
    passed = _passed(config, ledger, published, approving=True)
    if config.approver_must_differ and any(same_person(approver, a.who) for a in passed):
        raise GateError(
            f"{approver} deployed {published.release} to {config.promotes_from}; another person "
            f"must approve it for {config.name}."
        )


def is_person(arn: str) -> bool:
    """An IAM user: a person's own sign-in (a role session's name is whatever its caller chose)."""
    return person_of(arn) is not None


def same_person(a: str, b: str) -> bool:
    """IAM users and the pipeline's role sessions name the person last (the IAM user name,
    the GitHub login): compare those names, whatever their case."""
    return a.rsplit("/", 1)[-1].casefold() == b.rsplit("/", 1)[-1].casefold()


def _require_person(approver: str, why: str) -> None:
    if not is_person(approver):
        raise GateError(
            "approvals come from a person: sign in as your own IAM user (a member of the "
            f"approvers group); {why}, it is a role session or a service."
        )


def _passed(
    config: EnvironmentConfig,
    ledger: Ledger,
    published: PublishedRelease,
    approving: bool = False,
) -> list[Attempt]:
    """Every success of this very manifest in the environment promoted from, newest first."""
    source, release = config.promotes_from or "", published.release
    passed = ledger.succeeded(source, release)
    if not passed:
        then = "approve it once it has" if approving else f"deploy it to {source} first"
        raise GateError(
            f"{release} has not passed {source}; {then} "
            f"(smartstack deploy {source} --release {release})."
        )
    same = [a for a in passed if a.manifest_sha256 == published.sha256]
    if not same and not any(a.manifest_sha256 for a in passed):
        raise GateError(
            f"{release} passed {source} before releases were identified by their manifest's "
            f"sha256; deploy it to {source} again (smartstack deploy {source} --release "
            f"{release})."
        )
    if not same:
        was = passed[0].manifest_sha256[:12]
        raise GateError(
            f"{release}'s manifest changed after it passed {source}: it passed as sha256 {was}…, "
            f"it is now {published.sha256[:12]}…; investigate who replaced it, and promote a new "
            "release."
        )
    return same


def _check_approval(
    config: EnvironmentConfig, ledger: Ledger, published: PublishedRelease, deployers: list[str]
) -> str:
    env, release = config.name, published.release
    approval = ledger.approval(env, release)
    if approval is None:
        raise GateError(
            f"{env} needs an approval for {release}: smartstack approve {env} {release}."
        )
    _require_person(approval.approver, f"{release}'s approval for {env} is by {approval.approver}")
    if approval.manifest_sha256 != published.sha256:
        raise GateError(
            f"{release}'s manifest changed after it was approved for {env} (approved sha256 "
            f"{approval.manifest_sha256[:12] or 'unrecorded'}…, now {published.sha256[:12]}…); "
            "it needs a new approval."
        )
    if config.approver_must_differ and any(same_person(approval.approver, d) for d in deployers):
        raise GateError(
            f"{release} was approved for {env} by {approval.approver}, who also deployed it to "
            f"{config.promotes_from}; another person must approve."
        )
    return f"approved by {approval.approver} at {approval.at}"
