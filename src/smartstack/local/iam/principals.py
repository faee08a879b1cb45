"""Who is calling: an access key to its principal and that principal's policies.

* the local platform's admin keys (``smartstack-local``, the ``AWS_ACCESS_KEY_ID`` that
  ``local up`` writes): the account's root, allowed everything its identity can be;
* an IAM user's access key (moto's IAM backend): the user, its inline, attached and
  group policies and its permissions boundary;
* an assumed-role session (moto's STS backend keeps each ``AssumeRole`` session's
  temporary key, secret and token): the role ARN, the session name, the role's inline
  and attached policies, its boundary, the session policy passed to ``AssumeRole``, and
  the source identity and session tags, which moto does not keep: the enforcer records
  them from the ``AssumeRole`` request it authorized (:class:`SessionFacts`).

Resolved principals are cached until an IAM or STS call that changes them goes through
(:meth:`Authenticator.invalidate`), or moto is reset.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import unquote

from smartstack.local.iam import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, DEFAULT_ACCOUNT
from smartstack.local.iam.evaluator import ContextValue
from smartstack.local.iam.world import tag_dict

# The admin's keys: the credentials `smartstack local up` writes to aws.env.
ADMIN_ACCESS_KEYS = frozenset({ADMIN_ACCESS_KEY})
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


class AuthenticationError(Exception):
    """The key is unknown (``invalid``), its token does not match (``token``), or expired."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # invalid | token | expired


@dataclass(frozen=True)
class Principal:
    arn: str  # as AWS names the caller in its messages (the session ARN for a role)
    kind: str  # admin | user | assumed-role
    account_id: str
    principal_arn: str  # aws:PrincipalArn (the role's ARN for a session)
    identity_policies: tuple[str, ...]
    permission_boundaries: tuple[str, ...] | None = None
    session_policy: str | None = None
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    allow_all: bool = False
    expires: datetime | None = None  # a session's expiry (naive UTC)

    @cached_property
    def policy_text(self) -> str:
        """Every policy of the principal, lowercased (which condition keys they name)."""
        parts = [
            *self.identity_policies,
            *(self.permission_boundaries or ()),
            self.session_policy or "",
        ]
        return "\n".join(parts).lower()


@dataclass(frozen=True)
class SessionFacts:
    """What an ``AssumeRole`` request said about the session, which moto forgets."""

    source_identity: str | None
    tags: Mapping[str, str]
    transitive_tag_keys: tuple[str, ...] = ()


def admin(account_id: str = DEFAULT_ACCOUNT) -> Principal:
    root = f"arn:aws:iam::{account_id}:root"
    return Principal(
        arn=root,
        kind="admin",
        account_id=account_id,
        principal_arn=root,
        identity_policies=(ALLOW_ALL,),
        context={
            "aws:PrincipalArn": root,
            "aws:PrincipalAccount": account_id,
            "aws:PrincipalType": "Account",
            "aws:userid": account_id,
        },
        allow_all=True,
    )


class Authenticator:
    def __init__(self, admin_keys: frozenset[str] = ADMIN_ACCESS_KEYS) -> None:
        self.admin_keys = admin_keys
        self.sessions: dict[str, SessionFacts] = {}  # access key id -> facts
        self._cache: dict[tuple[str, str | None], Principal] = {}
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def forget_sessions(self) -> None:
        with self._lock:
            self._cache.clear()
            self.sessions.clear()

    def principal(self, access_key: str, session_token: str | None) -> Principal:
        if access_key in self.admin_keys:
            return admin()
        with self._lock:
            cached = self._cache.get((access_key, session_token))
        if cached is not None:
            if cached.expires is not None and cached.expires < _now():
                raise AuthenticationError("expired")
            return cached
        found = self._resolve(access_key, session_token)
        with self._lock:
            self._cache[(access_key, session_token)] = found
        return found

    def secret(self, access_key: str) -> str | None:
        """The secret the local AWS issued with ``access_key`` (None: it issued no such key)."""
        if access_key in self.admin_keys:
            return ADMIN_SECRET_KEY
        from moto.iam.models import iam_backends

        for account_id in list(iam_backends.keys()):
            iam = iam_backends[account_id]["aws"]
            key = iam.access_keys.get(access_key)
            if key is not None:
                return str(key.secret_access_key)
            user = iam.get_user_from_access_key_id(access_key)
            for owned in getattr(user, "access_keys", None) or []:
                if owned.access_key_id == access_key:
                    return str(owned.secret_access_key)
        return None

    def _resolve(self, access_key: str, session_token: str | None) -> Principal:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        for account_id in list(iam_backends.keys()):
            iam = iam_backends[account_id]["aws"]
            key = iam.access_keys.get(access_key)
            if key is None:
                continue
            if key.status != "Active":
                raise AuthenticationError("invalid")
            if key.role_arn:
                for session in list(sts_backends[account_id]["aws"].assumed_roles):
                    if session.access_key_id == access_key:
                        if session_token != session.session_token:
                            raise AuthenticationError("token")
                        if session.expiration.replace(tzinfo=None) < _now():
                            raise AuthenticationError("expired")
                        return self._session(iam, session)
                raise AuthenticationError("invalid")
            if session_token:
                raise AuthenticationError("token")
            user = iam.get_user_from_access_key_id(access_key)
            if user is not None:
                return _user(iam, user)
        # Keys made by CreateAccessKey live on the user only in some moto versions.
        for account_id in list(iam_backends.keys()):
            iam = iam_backends[account_id]["aws"]
            user = iam.get_user_from_access_key_id(access_key)
            if user is not None:
                if session_token:
                    raise AuthenticationError("token")
                return _user(iam, user)
        raise AuthenticationError("invalid")

    def _session(self, iam: Any, session: Any) -> Principal:
        role_arn = str(session.role_arn)
        role_name = role_arn.split("/")[-1]
        account_id = str(session.account_id)
        arn = f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session.session_name}"
        role = next((r for r in list(iam.roles.values()) if r.name == role_name), None)
        policies: tuple[str, ...] = ()
        boundary: tuple[str, ...] | None = None
        tags: dict[str, str] = {}
        role_id = "AROA" + role_name.upper()[:17]
        if role is not None:
            policies = _role_policies(iam, role)
            boundary = _boundary(iam, role.permissions_boundary_arn)
            tags = tag_dict(role.tags)
            role_id = str(role.id)
        facts = self.sessions.get(str(session.access_key_id))
        context: dict[str, ContextValue] = {
            "aws:PrincipalArn": role_arn,
            "aws:PrincipalAccount": account_id,
            "aws:PrincipalType": "AssumedRole",
            "aws:userid": f"{role_id}:{session.session_name}",
        }
        if facts is not None:
            tags.update(facts.tags)
            if facts.source_identity:
                context["aws:SourceIdentity"] = facts.source_identity
        for k, v in tags.items():
            context[f"aws:PrincipalTag/{k}"] = v
        if tags:
            context["aws:PrincipalTagKeys"] = sorted(tags)
        return Principal(
            arn=arn,
            kind="assumed-role",
            account_id=account_id,
            principal_arn=role_arn,
            identity_policies=policies,
            permission_boundaries=boundary,
            session_policy=_document(session.policy) if session.policy else None,
            context=context,
            expires=session.expiration.replace(tzinfo=None),
        )


def _user(iam: Any, user: Any) -> Principal:
    policies = [_document(d) for d in user.policies.values()]
    policies += [_managed(p) for p in user.managed_policies.values()]
    for group in iam.get_groups_for_user(user.name):
        policies += [_document(d) for d in group.policies.values()]
        policies += [_managed(p) for p in group.managed_policies.values()]
    boundary_arn = getattr(user, "permissions_boundary_arn", None)
    tags = tag_dict(getattr(user, "tags", {}))
    context: dict[str, ContextValue] = {
        "aws:PrincipalArn": user.arn,
        "aws:PrincipalAccount": user.account_id,
        "aws:PrincipalType": "User",
        "aws:userid": user.id,
        "aws:username": user.name,
        **{f"aws:PrincipalTag/{k}": v for k, v in tags.items()},
    }
    return Principal(
        arn=user.arn,
        kind="user",
        account_id=user.account_id,
        principal_arn=user.arn,
        identity_policies=tuple(p for p in policies if p),
        permission_boundaries=_boundary(iam, boundary_arn),
        context=context,
    )


def _role_policies(iam: Any, role: Any) -> tuple[str, ...]:
    policies = [_document(d) for d in role.policies.values()]
    policies += [_managed(p) for p in role.managed_policies.values()]
    return tuple(p for p in policies if p)


def _boundary(iam: Any, arn: str | None) -> tuple[str, ...] | None:
    if not arn:
        return None
    try:
        return (_managed(iam.get_policy(arn)),)
    except Exception:  # a boundary that does not exist allows nothing
        return ("{}",)


def _managed(policy: Any) -> str:
    for version in policy.versions:
        if version.version_id == policy.default_version_id:
            return _document(version.document)
    return ""


def _document(document: Any) -> str:
    """A policy document as JSON text (moto keeps some URL-encoded, some as dicts)."""
    if isinstance(document, dict):
        return json.dumps(document)
    text = str(document or "")
    if text.lstrip().startswith("%7B") or text.lstrip().startswith("%7b"):
        text = unquote(text)
    return text


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
